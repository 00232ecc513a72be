//! Log set-up shared by the three Lambda functions.

use tracing_subscriber::EnvFilter;

/// One JSON object per line with fields at the top level, so CloudWatch
/// Logs Insights can filter on them (`filter endpoint_id = "ep_..."`), and
/// the `timestamp` and `level` that Lambda's log-level filter reads.
/// `RUST_LOG` overrides the default `info`.
pub fn init_lambda_logging() {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
}
