//! Log set-up shared by the three Lambda functions.

use tracing::Level;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// One JSON object per line with fields at the top level, so CloudWatch
/// Logs Insights can filter on them (`filter endpoint_id = "ep_..."`), and
/// the `timestamp` and `level` that Lambda's log-level filter reads.
/// `RUST_LOG` (`warn`, or `courier=debug,info`) overrides the default `info`.
pub fn init_lambda_logging() {
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_filter(filter(std::env::var("RUST_LOG").ok().as_deref()));
    tracing_subscriber::registry().with(layer).init();
}

/// The level filter `RUST_LOG` asks for: targets and levels as in
/// `courier=debug,info` (no regular expressions, so the binaries need no
/// regex engine); `info` when unset or unreadable.
fn filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_sets_the_levels_and_info_is_the_default() {
        assert!(filter(None).would_enable("courier", &Level::INFO));
        assert!(!filter(None).would_enable("courier", &Level::DEBUG));
        assert!(!filter(Some("not a filter ===")).would_enable("courier", &Level::DEBUG));
        let custom = filter(Some("courier=debug,warn"));
        assert!(custom.would_enable("courier::attempt", &Level::DEBUG));
        assert!(!custom.would_enable("hyper", &Level::INFO));
    }
}
