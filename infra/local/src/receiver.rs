//! A receiver for trying Courier out: verifies each webhook's signature with
//! the endpoint's secret and prints one line per delivery. It can be told to
//! fail, to watch retries happen.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;
use courier::signing::{DEFAULT_TOLERANCE_SECS, Secret, verify};
use time::OffsetDateTime;

/// Options of `courier-local receiver`.
#[derive(clap::Args, Debug, Clone)]
pub struct ReceiverArgs {
    /// Port on 127.0.0.1 to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 4000)]
    port: u16,
    /// The endpoint's secret (`whsec_...`), to verify signatures.
    #[arg(long, env = "WEBHOOK_SECRET")]
    secret: Option<String>,
    /// Status to answer with.
    #[arg(long, default_value_t = 200)]
    status: u16,
    /// Answer 500 to the first N deliveries, then `--status`.
    #[arg(long, default_value_t = 0)]
    fail_first: u32,
    /// Wait this long before answering (past DELIVERY_TIMEOUT_MS it is a timeout).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
}

struct ReceiverState {
    args: ReceiverArgs,
    secret: Option<Secret>,
    seen: AtomicU32,
}

/// Runs the receiver until Ctrl-C or SIGTERM.
pub async fn run(args: ReceiverArgs) -> Result<(), Box<dyn std::error::Error>> {
    let secret = args
        .secret
        .as_deref()
        .map(Secret::parse)
        .transpose()
        .map_err(|e| format!("--secret: {e}"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let state = Arc::new(ReceiverState {
        args,
        secret,
        seen: AtomicU32::new(0),
    });
    let app = axum::Router::new()
        .fallback(any(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} (--port): {e}"))?;
    println!(
        "receiver on http://{}/ — {}",
        listener.local_addr()?,
        if state.secret.is_some() {
            "verifying signatures"
        } else {
            "NOT verifying (no --secret)"
        }
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(crate::server::shutdown_signal())
        .await?;
    Ok(())
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let n = state.seen.fetch_add(1, Ordering::SeqCst) + 1;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let now = OffsetDateTime::now_utc();
    let check = match &state.secret {
        None => "unverified".to_string(),
        Some(secret) => match verify(
            secret,
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            &body,
            now.unix_timestamp(),
            DEFAULT_TOLERANCE_SECS,
        ) {
            Ok(()) => "signature ok".to_string(),
            Err(e) => format!("SIGNATURE INVALID ({e})"),
        },
    };
    let event_type = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default();
    if state.args.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(state.args.delay_ms)).await;
    }
    let status = if n <= state.args.fail_first {
        500
    } else {
        state.args.status
    };
    println!(
        "{} #{n} {} {event_type} attempt={} {check} -> {status}",
        courier::event::format_millis(now),
        header("webhook-id"),
        header("webhook-attempt"),
    );
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
