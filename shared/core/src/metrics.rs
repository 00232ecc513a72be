//! Metrics in CloudWatch Embedded Metric Format (EMF). The delivery and
//! intake code count through the `metrics` facade with the functions below;
//! in Lambda, `main` installs the EMF recorder ([`Metrics::from_env`],
//! backed by `metrics_cloudwatch_embedded`) and flushes it after every
//! invocation: one JSON line per dimension set on stdout, which Lambda
//! passes through to CloudWatch Logs and CloudWatch turns into metrics in
//! the `Courier` namespace. Elsewhere (local server, tests) no recorder is
//! installed and recording costs nothing.
//!
//! | metric | unit | dimensions | counted |
//! |---|---|---|---|
//! | `Attempts` | Count | FunctionName | per attempt sent (not per skip) |
//! | `Succeeded` | Count | FunctionName | per 2xx in time |
//! | `Failed` | Count | FunctionName; FunctionName, ErrorClass | per failed attempt, and by class (`4xx`, `timeout`, ...) |
//! | `Skipped` | Count | FunctionName | per delivery dropped for a disabled or deleted endpoint |
//! | `Latency` | Milliseconds | FunctionName | time to response or failure, per attempt |
//! | `EndpointsDisabled` | Count | FunctionName | per auto-disable (consecutive failures or 410 Gone) |
//! | `CircuitsOpened` | Count | FunctionName | per endpoint circuit that opened (see `courier::circuit`) |
//! | `CircuitsClosed` | Count | FunctionName | per circuit closed by a success |
//! | `EventsAccepted` | Count | FunctionName | per event stored and fanned out (not duplicates) |
//! | `FanOut` | Count | FunctionName | endpoints per accepted event |
//!
//! No tenant or endpoint dimensions: every distinct dimension value is a
//! billed custom metric. Per-endpoint detail is in the attempt log lines
//! (target `courier::attempt`), for Logs Insights.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};
use metrics_cloudwatch_embedded::{Builder, Collector};

use crate::attempt::{AttemptStatus, DeliveryAttempt};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Courier";
/// Dimension on every metric: the Lambda function's name, so two
/// deployments in one account stay apart.
pub const FUNCTION_NAME: &str = "FunctionName";
/// Extra dimension of [`FAILED`]: the [`crate::attempt::ErrorClass`].
pub const ERROR_CLASS: &str = "ErrorClass";

/// Attempts sent.
pub const ATTEMPTS: &str = "Attempts";
/// Attempts answered with a 2xx in time.
pub const SUCCEEDED: &str = "Succeeded";
/// Attempts that failed (also by [`ERROR_CLASS`]).
pub const FAILED: &str = "Failed";
/// Deliveries not sent: endpoint disabled or deleted.
pub const SKIPPED: &str = "Skipped";
/// Time to response or failure of an attempt.
pub const LATENCY: &str = "Latency";
/// Endpoints disabled automatically.
pub const ENDPOINTS_DISABLED: &str = "EndpointsDisabled";
/// Endpoint circuits that opened.
pub const CIRCUITS_OPENED: &str = "CircuitsOpened";
/// Endpoint circuits that closed again.
pub const CIRCUITS_CLOSED: &str = "CircuitsClosed";
/// Events accepted at intake.
pub const EVENTS_ACCEPTED: &str = "EventsAccepted";
/// Endpoints an accepted event was fanned out to.
pub const FAN_OUT: &str = "FanOut";

/// Set by Lambda in every function's environment.
const LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// EMF's limit on values per metric in one document; the collector drops
/// (and logs) any value past it until the next flush.
const MAX_VALUES: usize = 100;

/// Values recorded into each distribution since the last flush.
static LATENCY_VALUES: AtomicUsize = AtomicUsize::new(0);
static FAN_OUT_VALUES: AtomicUsize = AtomicUsize::new(0);

/// The recorder could not be installed (another one already was).
#[derive(Debug, thiserror::Error)]
#[error("could not install the metrics recorder: {0}")]
pub struct MetricsError(String);

/// The installed EMF recorder, or nothing outside Lambda; [`Metrics::flush`]
/// after each invocation.
#[derive(Clone, Copy)]
pub struct Metrics {
    collector: Option<&'static Collector>,
}

impl Metrics {
    /// In Lambda (`AWS_LAMBDA_FUNCTION_NAME` set), installs the process-wide
    /// recorder with that function name as [`FUNCTION_NAME`]; elsewhere
    /// installs nothing. Call once, at start-up.
    pub fn from_env() -> Result<Self, MetricsError> {
        match std::env::var(LAMBDA_FUNCTION_NAME) {
            Ok(name) if !name.trim().is_empty() => Self::install(name.trim()),
            _ => Ok(Self { collector: None }),
        }
    }

    /// Installs the process-wide recorder for `function_name`.
    pub fn install(function_name: &str) -> Result<Self, MetricsError> {
        let collector = Builder::new()
            .cloudwatch_namespace(NAMESPACE)
            .with_dimension(FUNCTION_NAME, function_name.to_owned())
            .init()
            .map_err(|e| MetricsError(e.to_string()))?;
        for name in [
            ATTEMPTS,
            SUCCEEDED,
            FAILED,
            SKIPPED,
            ENDPOINTS_DISABLED,
            CIRCUITS_OPENED,
            CIRCUITS_CLOSED,
            EVENTS_ACCEPTED,
        ] {
            describe_counter!(name, Unit::Count, "");
        }
        describe_histogram!(LATENCY, Unit::Milliseconds, "");
        describe_histogram!(FAN_OUT, Unit::Count, "");
        Ok(Self {
            collector: Some(collector),
        })
    }

    /// Writes what was recorded since the last flush to stdout, holding the
    /// lock so no log line lands inside a metric line.
    pub fn flush(&self) {
        if let Err(e) = self.flush_to(std::io::stdout().lock()) {
            tracing::error!(error = %e, "could not write metrics");
        }
    }

    /// Writes what was recorded since the last flush to `writer`, one EMF
    /// document per line.
    pub fn flush_to(&self, writer: impl Write) -> std::io::Result<()> {
        let Some(collector) = self.collector else {
            return Ok(());
        };
        LATENCY_VALUES.store(0, Ordering::Relaxed);
        FAN_OUT_VALUES.store(0, Ordering::Relaxed);
        collector.flush(writer)
    }
}

/// Counts one logged attempt (or skip).
pub fn attempt(a: &DeliveryAttempt) {
    match a.status {
        AttemptStatus::Skipped => {
            counter!(SKIPPED).increment(1);
            return;
        }
        AttemptStatus::Succeeded => counter!(SUCCEEDED).increment(1),
        AttemptStatus::Failed => {
            counter!(FAILED).increment(1);
            if let Some(class) = a.error_class {
                counter!(FAILED, ERROR_CLASS => class.as_str()).increment(1);
            }
        }
    }
    counter!(ATTEMPTS).increment(1);
    if let Some(ms) = a.response_time_ms {
        record_bounded(LATENCY, &LATENCY_VALUES, ms as f64);
    }
}

/// Counts an endpoint disabled automatically.
pub fn endpoint_disabled() {
    counter!(ENDPOINTS_DISABLED).increment(1);
}

/// Counts a circuit that opened or closed.
pub fn circuit_changed(state: crate::circuit::CircuitState) {
    match state {
        crate::circuit::CircuitState::Open => counter!(CIRCUITS_OPENED).increment(1),
        crate::circuit::CircuitState::Closed => counter!(CIRCUITS_CLOSED).increment(1),
    }
}

/// Counts an accepted event and the size of its fan-out.
pub fn event_accepted(endpoints: usize) {
    counter!(EVENTS_ACCEPTED).increment(1);
    record_bounded(FAN_OUT, &FAN_OUT_VALUES, endpoints as f64);
}

/// Records into a distribution unless it already holds [`MAX_VALUES`]
/// since the last flush (a direct invocation may carry hundreds of events):
/// the counters still count everything.
fn record_bounded(name: &'static str, recorded: &AtomicUsize, value: f64) {
    if recorded.fetch_add(1, Ordering::Relaxed) < MAX_VALUES {
        histogram!(name).record(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::ErrorClass;
    use crate::ids::{DeliveryId, EndpointId, MessageId};
    use crate::message::Trigger;
    use serde_json::{Value, json};
    use time::OffsetDateTime;

    fn attempt_with(status: AttemptStatus, class: Option<ErrorClass>, ms: u64) -> DeliveryAttempt {
        DeliveryAttempt {
            id: DeliveryId::generate(),
            tenant_id: "t".parse().unwrap(),
            endpoint_id: EndpointId::generate(),
            event_id: "evt_1".parse().unwrap(),
            event_type: "a.b".parse().unwrap(),
            message_id: MessageId::generate(),
            attempt: 1,
            trigger: Trigger::Event,
            status,
            url: "https://example.com".into(),
            http_status: None,
            response_time_ms: Some(ms),
            error_class: class,
            error: None,
            response_body: None,
            request_headers: Default::default(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            next_attempt_at: None,
            expires_at: OffsetDateTime::UNIX_EPOCH,
            probe: false,
        }
    }

    /// `(dimension names, {metric name: unit})` of one EMF document.
    fn directive(doc: &Value) -> (Vec<String>, serde_json::Map<String, Value>) {
        let d = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(d["Namespace"], NAMESPACE);
        assert!(doc["_aws"]["Timestamp"].as_u64().unwrap() > 1_600_000_000_000);
        let mut dims: Vec<String> = d["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        dims.sort();
        let units = d["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["Name"].as_str().unwrap().to_owned(), m["Unit"].clone()))
            .collect();
        (dims, units)
    }

    // One test: the recorder is process-wide and installs once.
    #[test]
    fn emf_documents_carry_namespace_dimensions_units_and_values() {
        let metrics = Metrics::install("courier-delivery-test").unwrap();
        attempt(&attempt_with(AttemptStatus::Succeeded, None, 120));
        attempt(&attempt_with(
            AttemptStatus::Failed,
            Some(ErrorClass::ServerError),
            80,
        ));
        attempt(&attempt_with(AttemptStatus::Skipped, None, 0));
        endpoint_disabled();
        event_accepted(3);
        for _ in 0..MAX_VALUES + 5 {
            event_accepted(1);
        }

        let mut out = Vec::new();
        metrics.flush_to(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let docs: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(docs.len(), 2, "one document per dimension set:\n{text}");

        let plain = docs.iter().find(|d| d.get(ERROR_CLASS).is_none()).unwrap();
        let (dims, units) = directive(plain);
        assert_eq!(dims, [FUNCTION_NAME]);
        assert_eq!(plain[FUNCTION_NAME], "courier-delivery-test");
        assert_eq!(
            Value::Object(units),
            json!({
                "Attempts": "Count", "Succeeded": "Count", "Failed": "Count",
                "Skipped": "Count", "Latency": "Milliseconds",
                "EndpointsDisabled": "Count", "EventsAccepted": "Count", "FanOut": "Count",
            })
        );
        assert_eq!(plain[ATTEMPTS], 2, "a skip is not an attempt");
        assert_eq!(plain[SUCCEEDED], 1);
        assert_eq!(plain[FAILED], 1);
        assert_eq!(plain[SKIPPED], 1);
        assert_eq!(plain[LATENCY], json!([120.0, 80.0]));
        assert_eq!(plain[ENDPOINTS_DISABLED], 1);
        assert_eq!(plain[EVENTS_ACCEPTED], MAX_VALUES + 6);
        let fan_out = plain[FAN_OUT].as_array().unwrap();
        assert_eq!(fan_out.len(), MAX_VALUES, "EMF's limit per document");
        assert_eq!(fan_out[0], 3.0);

        let by_class = docs.iter().find(|d| d.get(ERROR_CLASS).is_some()).unwrap();
        let (dims, units) = directive(by_class);
        assert_eq!(dims, [ERROR_CLASS, FUNCTION_NAME]);
        assert_eq!(by_class[ERROR_CLASS], "5xx");
        assert_eq!(Value::Object(units), json!({"Failed": "Count"}));
        assert_eq!(by_class[FAILED], 1);

        // Flushed values are gone; the next invocation starts from zero.
        attempt(&attempt_with(AttemptStatus::Succeeded, None, 5));
        let mut out = Vec::new();
        metrics.flush_to(&mut out).unwrap();
        let doc: Value = serde_json::from_str(String::from_utf8(out).unwrap().trim()).unwrap();
        assert_eq!(doc[ATTEMPTS], 1);
        assert_eq!(doc[LATENCY], json!([5.0]));
        assert!(doc.get(FAILED).is_none());
    }

    #[test]
    fn without_a_recorder_flush_writes_nothing() {
        let metrics = Metrics { collector: None };
        let mut out = Vec::new();
        metrics.flush_to(&mut out).unwrap();
        assert!(out.is_empty());
    }
}
