//! A minimal Lambda Runtime API (the HTTP interface a custom runtime polls,
//! `2018-06-01`) for one cold start: the first `GET .../invocation/next`
//! gets the one event with the headers `lambda_runtime` requires; later
//! ones wait (as Lambda freezes an idle function) until the server stops.
//! It notes when each `/next` arrived and what the function answered.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Notify, oneshot, watch};

use crate::BenchResult;

/// How long the function may take to answer, told through
/// `Lambda-Runtime-Deadline-Ms` (the SAM template's delivery timeout).
const DEADLINE: Duration = Duration::from_secs(60);

/// What the function answered to its invocation.
#[derive(Debug, Clone)]
pub struct Answer {
    /// When it arrived.
    pub at: Instant,
    /// True for `/error` (or `/init/error`), false for `/response`.
    pub error: bool,
    /// The body it posted.
    pub body: String,
}

struct RuntimeState {
    event: String,
    request_id: String,
    function_arn: String,
    nexts: Mutex<Vec<Instant>>,
    answer: Mutex<Option<Answer>>,
    changed: Notify,
    released: watch::Receiver<bool>,
}

/// The Runtime API of one function instance; stops when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<RuntimeState>,
    release: watch::Sender<bool>,
    stop: Option<oneshot::Sender<()>>,
}

impl RuntimeApi {
    /// Serves `event` as the one invocation of `function_name`.
    pub async fn start(event: String, function_name: &str) -> BenchResult<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (release, released) = watch::channel(false);
        let state = Arc::new(RuntimeState {
            event,
            request_id: ulid::Ulid::new().to_string().to_lowercase(),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            nexts: Mutex::new(Vec::new()),
            answer: Mutex::new(None),
            changed: Notify::new(),
            released,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(error))
            .with_state(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            state,
            release,
            stop: Some(stop),
        })
    }

    /// `AWS_LAMBDA_RUNTIME_API`: host and port, no scheme.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Waits for the `n`-th `/next` request (1-based) and returns its time.
    pub async fn nth_next(&self, n: usize, timeout: Duration) -> BenchResult<Instant> {
        self.wait(timeout, || lock(&self.state.nexts).get(n - 1).copied())
            .await
            .map_err(|_| format!("no /next request number {n} within {timeout:?}").into())
    }

    /// Waits for the function's answer to its invocation.
    pub async fn answer(&self, timeout: Duration) -> BenchResult<Answer> {
        self.wait(timeout, || lock(&self.state.answer).clone())
            .await
            .map_err(|_| format!("no invocation response within {timeout:?}").into())
    }

    async fn wait<T>(&self, timeout: Duration, check: impl Fn() -> Option<T>) -> Result<T, ()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before checking, so a change in between still wakes us.
            let changed = self.state.changed.notified();
            if let Some(v) = check() {
                return Ok(v);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return check().ok_or(());
            }
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        let _ = self.release.send(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn next(State(state): State<Arc<RuntimeState>>) -> Response {
    let first = {
        let mut nexts = lock(&state.nexts);
        nexts.push(Instant::now());
        nexts.len() == 1
    };
    state.changed.notify_waiters();
    if !first {
        // An idle function: held until the benchmark is done with it.
        let mut released = state.released.clone();
        let _ = released.wait_for(|r| *r).await;
        return StatusCode::GONE.into_response();
    }
    let deadline_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(DEADLINE)
        .as_millis();
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    put("content-type", "application/json".into());
    put("lambda-runtime-aws-request-id", state.request_id.clone());
    put("lambda-runtime-deadline-ms", deadline_ms.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        state.function_arn.clone(),
    );
    put(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0".into(),
    );
    (StatusCode::OK, headers, state.event.clone()).into_response()
}

async fn response(State(state): State<Arc<RuntimeState>>, body: Bytes) -> StatusCode {
    record(&state, false, body)
}

async fn error(State(state): State<Arc<RuntimeState>>, body: Bytes) -> StatusCode {
    record(&state, true, body)
}

fn record(state: &RuntimeState, error: bool, body: Bytes) -> StatusCode {
    lock(&state.answer).get_or_insert(Answer {
        at: Instant::now(),
        error,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    state.changed.notify_waiters();
    StatusCode::ACCEPTED
}
