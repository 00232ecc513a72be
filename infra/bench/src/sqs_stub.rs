//! An SQS stand-in that accepts `SendMessageBatch` (AWS JSON 1.0 protocol,
//! as the Rust SDK speaks it) at once and keeps nothing but counts. The
//! fan-out benchmark uses it beside moto because moto's `SendMessage*` cost
//! grows with the queue's depth: it recomputes the queue's attributes (a
//! scan of every message) for each message sent, so filling one queue with
//! 10,000 messages takes tens of minutes and measures moto, not Courier.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::BenchResult;
use crate::server::Background;

#[derive(Default)]
struct Counts {
    calls: AtomicU64,
    messages: AtomicU64,
}

/// The stand-in; stops when dropped.
pub struct SqsStub {
    server: Background,
    counts: Arc<Counts>,
}

impl SqsStub {
    /// Starts the stand-in on a free loopback port.
    pub fn start() -> BenchResult<Self> {
        let counts = Arc::new(Counts::default());
        let app = Router::new().fallback(handle).with_state(counts.clone());
        Ok(Self {
            server: Background::start(app, "bench-sqs-stub")?,
            counts,
        })
    }

    /// The endpoint URL for the SDK client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// A queue URL on the stand-in (any name is accepted).
    pub fn queue_url(&self, name: &str) -> String {
        format!("{}/123456789012/{name}", self.endpoint())
    }

    /// Messages accepted so far.
    pub fn messages(&self) -> u64 {
        self.counts.messages.load(Ordering::SeqCst)
    }
}

async fn handle(State(counts): State<Arc<Counts>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if target != "AmazonSQS.SendMessageBatch" {
        let error = json!({"__type": "com.amazonaws.sqs#UnsupportedOperation", "message": format!("the stand-in only accepts SendMessageBatch, not '{target}'")});
        return reply(StatusCode::BAD_REQUEST, &error);
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let successful: Vec<Value> = request["Entries"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    json!({
                        "Id": e["Id"],
                        "MessageId": ulid::Ulid::new().to_string(),
                        // Not checked by the Rust SDK.
                        "MD5OfMessageBody": "00000000000000000000000000000000",
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    counts.calls.fetch_add(1, Ordering::SeqCst);
    counts
        .messages
        .fetch_add(successful.len() as u64, Ordering::SeqCst);
    reply(
        StatusCode::OK,
        &json!({"Successful": successful, "Failed": []}),
    )
}

fn reply(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.0")],
        body.to_string(),
    )
        .into_response()
}
