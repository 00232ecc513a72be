//! A loopback webhook receiver for delivery tests: it records every request
//! and answers from a script, then with a default reply.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use courier_testkit::{Receiver, Reply};
//! let receiver = Receiver::start().await;
//! receiver.respond_with(vec![Reply::status(503), Reply::redirect("https://elsewhere.example")]);
//! // ... point an endpoint at receiver.url() and deliver ...
//! let requests = receiver.wait_for(3, Duration::from_secs(5)).await;
//! assert_eq!(requests[2].header("webhook-attempt"), Some("3"));
//! # }
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How the receiver answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The response body.
    pub body: String,
    /// A `location` header (for redirects).
    pub location: Option<String>,
    /// How long to wait before answering (past a client's timeout, say).
    pub delay: Duration,
}

impl Reply {
    /// Answer `status` at once, with an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            body: String::new(),
            location: None,
            delay: Duration::ZERO,
        }
    }

    /// `302 Found` to `location`.
    pub fn redirect(location: &str) -> Self {
        Self {
            location: Some(location.to_owned()),
            ..Self::status(302)
        }
    }

    /// This reply with `body`.
    pub fn with_body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    /// This reply, sent only after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: Method,
    /// Path and query.
    pub uri: Uri,
    /// The request headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
    /// Wall-clock arrival time (to compare with `webhook-timestamp`).
    pub received_at: OffsetDateTime,
    /// Monotonic arrival time (to measure gaps between attempts).
    pub arrived: tokio::time::Instant,
}

impl RecordedRequest {
    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Chooses the reply from the request's path and headers.
pub type ReplyRule = Arc<dyn Fn(&Uri, &HeaderMap) -> Reply + Send + Sync>;

struct Inner {
    requests: Mutex<Vec<RecordedRequest>>,
    script: Mutex<(VecDeque<Reply>, Reply)>,
    rule: Mutex<Option<ReplyRule>>,
    count: watch::Sender<usize>,
}

/// A recording HTTP server on `127.0.0.1` and a free port; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// Starts a receiver answering `200 OK` to everything.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the test receiver");
        let addr = listener.local_addr().expect("the receiver's address");
        let inner = Arc::new(Inner {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new((VecDeque::new(), Reply::status(200))),
            rule: Mutex::new(None),
            count: watch::channel(0).0,
        });
        let app = Router::new().fallback(record).with_state(inner.clone());
        let task = tokio::spawn(async move {
            // Ends only when the task is aborted (on drop).
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner, task }
    }

    /// The URL to register as an endpoint (`http://127.0.0.1:{port}/webhook`).
    pub fn url(&self) -> String {
        format!("http://{}/webhook", self.addr)
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers the next requests with `replies`, in order, then with the
    /// default reply again. Replaces any script not used up yet.
    pub fn respond_with(&self, replies: Vec<Reply>) {
        lock(&self.inner.script).0 = replies.into();
    }

    /// The reply once the script is used up (initially `200 OK`).
    pub fn set_default(&self, reply: Reply) {
        lock(&self.inner.script).1 = reply;
    }

    /// Answers every request as `rule` says from its path and headers (the
    /// same attempt gets the same answer however often it comes), instead
    /// of the script and the default.
    pub fn answer_by(&self, rule: impl Fn(&Uri, &HeaderMap) -> Reply + Send + Sync + 'static) {
        *lock(&self.inner.rule) = Some(Arc::new(rule));
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.requests).clone()
    }

    /// Waits until at least `n` requests arrived and returns all of them;
    /// panics after `timeout`, saying how many came.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let mut count = self.inner.count.subscribe();
        let arrived = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n)).await;
        if arrived.is_err() {
            panic!(
                "the test receiver got {} of {n} requests within {timeout:?}",
                lock(&self.inner.requests).len()
            );
        }
        self.requests()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A failed assertion elsewhere must not hide the recorded requests.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn record(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Recorded before answering, so a request the client gave up on
    // (a delayed reply past its timeout) still counts.
    let rule = lock(&inner.rule).clone();
    let reply = match rule {
        Some(rule) => rule(&uri, &headers),
        None => {
            let mut script = lock(&inner.script);
            let default = script.1.clone();
            script.0.pop_front().unwrap_or(default)
        }
    };
    let total = {
        let mut requests = lock(&inner.requests);
        requests.push(RecordedRequest {
            method,
            uri,
            headers,
            body,
            received_at: OffsetDateTime::now_utc(),
            arrived: tokio::time::Instant::now(),
        });
        requests.len()
    };
    inner.count.send_replace(total);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, reply.body).into_response();
    if let Some(location) = reply.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_requests_and_follows_the_script_then_the_default() {
        let receiver = Receiver::start().await;
        receiver.respond_with(vec![
            Reply::status(503).with_body("busy"),
            Reply::redirect("https://elsewhere.example/"),
        ]);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut statuses = Vec::new();
        for i in 0..3 {
            let r = client
                .post(receiver.url())
                .header("webhook-attempt", i.to_string())
                .body(format!("{{\"n\":{i}}}"))
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
            if i == 0 {
                assert_eq!(r.text().await.unwrap(), "busy");
            } else if i == 1 {
                assert_eq!(r.headers()["location"], "https://elsewhere.example/");
            }
        }
        assert_eq!(statuses, [503, 302, 200]);
        let requests = receiver.wait_for(3, Duration::from_secs(1)).await;
        assert_eq!(requests[1].header("webhook-attempt"), Some("1"));
        assert_eq!(requests[2].body_text(), "{\"n\":2}");
        assert_eq!(requests[0].method, Method::POST);
        assert_eq!(requests[0].uri.path(), "/webhook");
    }

    #[tokio::test]
    async fn a_delayed_reply_outlasts_a_client_timeout_but_is_recorded() {
        let receiver = Receiver::start().await;
        receiver.set_default(Reply::status(200).after(Duration::from_secs(2)));
        let client = reqwest::Client::new();
        let result = client
            .post(receiver.url())
            .timeout(Duration::from_millis(200))
            .body("x")
            .send()
            .await;
        assert!(result.unwrap_err().is_timeout());
        assert_eq!(receiver.requests().len(), 1);
    }

    #[tokio::test]
    #[should_panic(expected = "got 0 of 1 requests")]
    async fn wait_for_fails_when_too_few_arrive() {
        let receiver = Receiver::start().await;
        receiver.wait_for(1, Duration::from_millis(50)).await;
    }
}
