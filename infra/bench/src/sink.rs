//! A minimal loopback receiver for the benchmarks: answers every request at
//! once with a settable status and an empty body (or, for the cost
//! benchmark, a fixed JSON body of a given size), counts requests and, when
//! asked, notes each request's path, `webhook-id` and `webhook-attempt` with
//! its arrival time. It runs on its own
//! thread and runtime so that it serves at the same speed whatever the
//! benchmark's runtime is busy with ([`Background`]). (`courier_testkit::Receiver` keeps
//! every request with its headers and body: right for tests, too heavy for
//! tens of thousands of requests a second.)

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::BenchResult;
use crate::server::Background;

struct SinkState {
    status: AtomicU16,
    count: AtomicU64,
    record: bool,
    /// The response body (empty: none, as before).
    body: Bytes,
    arrivals: Mutex<Vec<Arrival>>,
}

/// One request, as noted when recording.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The request path (one per endpoint, when the endpoints' URLs differ).
    pub path: String,
    /// `webhook-id`.
    pub id: String,
    /// `webhook-attempt` (0 when absent).
    pub attempt: u32,
    /// When it arrived.
    pub at: Instant,
}

/// The receiver; stops when dropped.
pub struct Sink {
    server: Background,
    state: Arc<SinkState>,
}

impl Sink {
    /// Starts a receiver on `127.0.0.1` and a free port, answering 200.
    /// With `record`, every request is noted ([`Arrival`]).
    pub fn start(record: bool) -> BenchResult<Self> {
        Self::start_answering(record, 0)
    }

    /// [`Sink::start`], answering every request with a JSON body of
    /// `body_bytes` bytes (none when 0), as a real receiver may.
    pub fn start_answering(record: bool, body_bytes: usize) -> BenchResult<Self> {
        let state = Arc::new(SinkState {
            status: AtomicU16::new(200),
            count: AtomicU64::new(0),
            record,
            body: Bytes::from(json_body(body_bytes)),
            arrivals: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(receive).with_state(state.clone());
        Ok(Self {
            server: Background::start(app, "bench-sink")?,
            state,
        })
    }

    /// The URL to register as an endpoint.
    pub fn url(&self) -> String {
        format!("http://{}/webhook", self.server.addr())
    }

    /// A URL of its own for endpoint number `i` (the path tells them apart).
    pub fn url_for(&self, i: usize) -> String {
        format!("http://{}/webhook/{i}", self.server.addr())
    }

    /// Answers every following request with `status`.
    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// Requests received so far.
    pub fn count(&self) -> u64 {
        self.state.count.load(Ordering::SeqCst)
    }

    /// The requests noted so far (when recording).
    pub fn arrivals(&self) -> Vec<Arrival> {
        lock(&self.state.arrivals).clone()
    }
}

/// `{"received":true,"note":"xxx..."}` padded to exactly `len` bytes (or
/// shorter when `len` is too small for the frame; empty when 0).
fn json_body(len: usize) -> String {
    if len == 0 {
        return String::new();
    }
    let frame = r#"{"received":true,"note":""}"#;
    let pad = len.saturating_sub(frame.len());
    format!(r#"{{"received":true,"note":"{}"}}"#, "x".repeat(pad))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn receive(
    State(state): State<Arc<SinkState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    drop(body);
    if state.record {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        let arrival = Arrival {
            path: uri.path().to_owned(),
            id: header("webhook-id").to_owned(),
            attempt: header("webhook-attempt").parse().unwrap_or(0),
            at,
        };
        lock(&state.arrivals).push(arrival);
    }
    state.count.fetch_add(1, Ordering::SeqCst);
    let status =
        StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK);
    if state.body.is_empty() {
        status.into_response()
    } else {
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            state.body.clone(),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::json_body;

    #[test]
    fn the_body_has_the_size_asked_for_and_is_json() {
        assert_eq!(json_body(0), "");
        let body = json_body(200);
        assert_eq!(body.len(), 200);
        assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok());
    }
}
