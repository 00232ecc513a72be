//! An SQS stand-in for the intake function (AWS JSON 1.0 `SendMessageBatch`,
//! as the Rust SDK speaks it), for the scale tests:
//!
//! - [`SqsStandIn::counting`] accepts every batch at once and keeps only the
//!   message ids per endpoint: moto recomputes a queue's attributes for each
//!   message sent (a scan of every message), so 10,000 messages would take
//!   tens of minutes and measure moto, not the intake (as `infra/bench`'s
//!   stand-in does for its fan-out benchmark);
//! - [`SqsStandIn::forwarding`] passes the first batches on to the queue
//!   they name, through a real SQS client (moto), and then holds every further call unanswered until
//!   [`SqsStandIn::release`]: an intake that dies in the middle of a fan-out.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where accepted batches go.
struct Forward {
    client: aws_sdk_sqs::Client,
    /// Batches passed on before calls are held.
    before_holding: usize,
}

struct Shared {
    forward: Option<Forward>,
    batches: AtomicUsize,
    held: AtomicUsize,
    released: watch::Sender<bool>,
    /// `endpointId` → the `messageId`s sent to it, and the copies counted.
    seen: Mutex<BTreeMap<String, (BTreeSet<String>, usize)>>,
}

/// The stand-in; stops when dropped.
pub struct SqsStandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl SqsStandIn {
    /// Accepts every batch, keeping only what was sent to whom.
    pub async fn counting() -> Self {
        Self::start(None).await
    }

    /// Passes the first `before_holding` batches on through `client` to
    /// the queue each names, then holds every call until [`Self::release`].
    pub async fn forwarding(client: aws_sdk_sqs::Client, before_holding: usize) -> Self {
        Self::start(Some(Forward {
            client,
            before_holding,
        }))
        .await
    }

    async fn start(forward: Option<Forward>) -> Self {
        let shared = Arc::new(Shared {
            forward,
            batches: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            released: watch::channel(false).0,
            seen: Mutex::new(BTreeMap::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            shared,
            server,
        }
    }

    /// The endpoint URL for the SDK (`AWS_ENDPOINT_URL_SQS`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Calls being held unanswered right now.
    pub fn held(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// Answers the held calls and every later one.
    pub fn release(&self) {
        self.shared.released.send_replace(true);
    }

    /// `endpointId` → (distinct `messageId`s, messages) accepted so far.
    pub fn seen(&self) -> BTreeMap<String, (BTreeSet<String>, usize)> {
        lock(&self.shared.seen).clone()
    }
}

impl Drop for SqsStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if target != "AmazonSQS.SendMessageBatch" {
        let error = json!({"__type": "com.amazonaws.sqs#UnsupportedOperation",
            "message": format!("the stand-in only accepts SendMessageBatch, not '{target}'")});
        return reply(StatusCode::BAD_REQUEST, &error);
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let entries = request["Entries"].as_array().cloned().unwrap_or_default();
    let number = shared.batches.fetch_add(1, Ordering::SeqCst);
    if let Some(forward) = &shared.forward {
        if number >= forward.before_holding {
            shared.held.fetch_add(1, Ordering::SeqCst);
            let mut released = shared.released.subscribe();
            let _ = released.wait_for(|r| *r).await;
            shared.held.fetch_sub(1, Ordering::SeqCst);
        }
        let queue_url = request["QueueUrl"].as_str().unwrap_or_default();
        if let Err(e) = pass_on(forward, queue_url, &entries).await {
            let error = json!({"__type": "com.amazonaws.sqs#InternalError", "message": e});
            return reply(StatusCode::INTERNAL_SERVER_ERROR, &error);
        }
    }
    let mut successful = Vec::new();
    let mut seen = lock(&shared.seen);
    for (i, entry) in entries.iter().enumerate() {
        let message: Value =
            serde_json::from_str(entry["MessageBody"].as_str().unwrap_or("")).unwrap_or_default();
        let endpoint = message["endpointId"].as_str().unwrap_or("").to_owned();
        let record = seen.entry(endpoint).or_default();
        record
            .0
            .insert(message["messageId"].as_str().unwrap_or("").to_owned());
        record.1 += 1;
        successful.push(json!({
            "Id": entry["Id"],
            "MessageId": format!("stand-in-{number}-{i}"),
            // Not checked by the Rust SDK.
            "MD5OfMessageBody": "00000000000000000000000000000000",
        }));
    }
    reply(
        StatusCode::OK,
        &json!({"Successful": successful, "Failed": []}),
    )
}

/// Sends the entries to the real queue as they came.
async fn pass_on(forward: &Forward, queue_url: &str, entries: &[Value]) -> Result<(), String> {
    let entries = entries
        .iter()
        .map(|e| {
            SendMessageBatchRequestEntry::builder()
                .id(e["Id"].as_str().unwrap_or_default())
                .message_body(e["MessageBody"].as_str().unwrap_or_default())
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = forward
        .client
        .send_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    if out.failed().is_empty() {
        Ok(())
    } else {
        Err(format!("the real queue refused {:?}", out.failed()))
    }
}

fn reply(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.0")],
        body.to_string(),
    )
        .into_response()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
