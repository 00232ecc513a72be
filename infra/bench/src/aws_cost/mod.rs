//! Benchmark 4, AWS calls and cost per delivered webhook, on DynamoDB Local
//! and moto: N events for tenants with M subscribed endpoints each go
//! through `Intake::publish` (one intake invocation each), a wave of events
//! at a time; after each wave this benchmark plays the SQS event source
//! mapping — receive up to 10, hand the batch to `Deliverer::handle_batch`
//! (one delivery invocation), delete the messages not reported as failed
//! with one `DeleteMessageBatch` — until every delivery of the wave is
//! finished, then the deliveries table's stream: the wave's new log entries
//! counted into statistics and endpoint counters by
//! `StreamAccounting::count_entries` (one invocation per 1,000 entries).
//! Every SDK call is counted by operation ([`CallCounter`]) and metered in
//! capacity units and billed SQS requests ([`CapacityMeter`]); the bytes
//! the functions would send to CloudWatch Logs (JSON log lines and EMF
//! metric documents) are counted (`crate::log_bytes`).
//!
//! Scenarios ([`scenarios`]): the receiver answers 200 (one attempt per
//! delivery) at fan-out 5 and 1, and for 100 tenants with one endpoint
//! each; or 500 with a retry schedule of `1,1` (the default schedule's
//! three attempts, one second apart instead of minutes) and auto-disable
//! out of reach, so every delivery makes all three attempts. Events carry
//! about 1 KB of data; the receiver answers with a 200-byte body.
//!
//! Left out on purpose: the event source mappings' idle polling (a fixed
//! cost whatever the traffic: the receives that came back empty while
//! retries were waiting are not counted), API Gateway in front of intake,
//! Lambda's own START/REPORT log records, storage.
//!
//! [`CallCounter`]: courier_aws::CallCounter
//! [`CapacityMeter`]: crate::capacity::CapacityMeter

mod counting;
mod event_source;
mod output;
mod scenario;
mod summary;
mod usage;

use std::sync::OnceLock;

use courier::metrics::Metrics;

use self::output::{print_calls, scenario_json};
use self::scenario::{ScenarioResult, run_scenario};
use crate::{BenchResult, Outcome, emulators, log_bytes, payload};

/// Bytes of the receiver's response body.
pub const RESPONSE_BODY_BYTES: usize = 200;

/// Sizes of the run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events published on each success scenario.
    pub events: usize,
    /// Events published on the failure path (three attempts each, so fewer).
    pub failure_events: usize,
    /// Endpoints subscribed to every event on the fan-out scenarios.
    pub endpoints: usize,
    /// Tenants of the mixed scenario (one endpoint each).
    pub tenants: usize,
    /// Delivery invocations at a time.
    pub pollers: usize,
    /// Events published before their deliveries are played.
    pub wave: usize,
    /// Waves played between two reads of the stream's entries.
    pub count_waves: usize,
    /// Lambda memory size (MB), from the SAM template.
    pub memory_mb: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// The receiver answers 200.
    Success,
    /// The receiver answers 500; three attempts each.
    Failure,
}

impl Path {
    fn attempts(self) -> u64 {
        match self {
            Self::Success => 1,
            Self::Failure => 3,
        }
    }
}

/// One run of the pipeline: who publishes, to how many endpoints, and what
/// the receiver answers.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Key in the JSON.
    pub key: String,
    /// Name in the tables.
    pub label: String,
    pub path: Path,
    /// Tenants; events go to them in turn.
    pub tenants: usize,
    /// Endpoints of each tenant, each subscribed to every event.
    pub endpoints: usize,
    /// Events published in all.
    pub events: usize,
    /// The target, US$ per million deliveries all in.
    pub target: Option<f64>,
}

impl Scenario {
    /// Deliveries (one event to one endpoint).
    pub fn deliveries(&self) -> u64 {
        (self.events * self.endpoints) as u64
    }
}

/// The four scenarios, in the order they run.
pub fn scenarios(opts: &Options) -> Vec<Scenario> {
    let fan_out = |path: Path, endpoints: usize, events: usize, target: Option<f64>| {
        let name = match path {
            Path::Success => "success",
            Path::Failure => "failure",
        };
        Scenario {
            key: format!("{name}_fan_out_{endpoints}"),
            label: format!("{name}, fan-out {endpoints}"),
            path,
            tenants: 1,
            endpoints,
            events,
            target,
        }
    };
    vec![
        fan_out(Path::Success, opts.endpoints, opts.events, Some(1.00)),
        fan_out(
            Path::Failure,
            opts.endpoints,
            opts.failure_events,
            Some(3.00),
        ),
        fan_out(Path::Success, 1, opts.events, None),
        Scenario {
            key: format!("success_{}_tenants", opts.tenants),
            label: format!("success, {} tenants x 1", opts.tenants),
            path: Path::Success,
            tenants: opts.tenants.max(1),
            endpoints: 1,
            events: opts.events,
            target: None,
        },
    ]
}

/// The process-wide EMF recorder, installed on first use; `None` when
/// another recorder was installed first (its bytes then go uncounted).
fn emf() -> Option<Metrics> {
    static EMF: OnceLock<Option<Metrics>> = OnceLock::new();
    *EMF.get_or_init(|| Metrics::install("courier-bench").ok())
}

/// Flushes what the recorder holds into the counted EMF bytes, as a
/// function does at the end of each invocation.
pub(crate) fn flush_metrics(metrics: Option<Metrics>) {
    if let Some(m) = metrics {
        // Writing into a counter cannot fail.
        let _ = m.flush_to(log_bytes::metrics());
    }
}

/// Runs the benchmark and prints its tables.
pub async fn run(opts: &Options) -> BenchResult<Outcome> {
    emulators::require()?;
    let mut problems = Vec::new();
    let sizes = [0, opts.events.max(1) - 1].map(|i| payload::booking(i).len());
    println!(
        "  event data {}-{} bytes (payload::booking), receiver's response body {RESPONSE_BODY_BYTES} bytes",
        sizes[0], sizes[1]
    );
    if !sizes.iter().all(|n| payload::BOOKING_BYTES.contains(n)) {
        problems.push(format!(
            "event data of {sizes:?} bytes, expected {:?}",
            payload::BOOKING_BYTES
        ));
    }
    let metrics = emf();
    if metrics.is_none() {
        problems.push("the EMF recorder could not be installed: metric bytes not counted".into());
    }
    flush_metrics(metrics); // whatever was recorded before this benchmark

    let mut results: Vec<ScenarioResult> = Vec::new();
    for scenario in scenarios(opts) {
        let r = run_scenario(&scenario, opts, metrics)
            .await
            .map_err(|e| format!("{}: {e}", scenario.label))?;
        print_calls(&r, opts);
        problems.extend(r.problems());
        results.push(r);
    }
    let costs: Vec<_> = results.iter().map(|r| r.cost(opts.memory_mb)).collect();
    summary::print_tables(&results, &costs, opts);
    let summary = summary::lines(&results, &costs, opts);
    println!("\n  summary:");
    for line in &summary {
        println!("  - {line}");
    }
    problems.extend(summary::missed_targets(&results, &costs));

    let json = serde_json::json!({
        "description": "N events x M endpoints through Intake::publish, Deliverer::handle_batch and StreamAccounting::count_entries on DynamoDB Local + moto; SDK calls counted by operation, DynamoDB capacity from ConsumedCapacity (transactional writes doubled, failed conditional writes 1 unit, every read at least 1 unit), SQS requests in 64 KiB chunks, CloudWatch Logs bytes of the log lines and EMF documents; costs in US$ per million deliveries",
        "batch_size": event_source::BATCH,
        "stream_batch_size": counting::STREAM_BATCH,
        "waves_per_stream_read": opts.count_waves,
        "lambda_memory_mb": opts.memory_mb,
        "event_data_bytes": sizes,
        "response_body_bytes": RESPONSE_BODY_BYTES,
        "prices": crate::prices::table(),
        "scenarios": results.iter().zip(&costs).map(|(r, c)| scenario_json(r, *c, opts)).collect::<Vec<_>>(),
        "usd_per_million_deliveries": results.iter().zip(&costs)
            .map(|(r, c)| (r.scenario.key.clone(), serde_json::json!(c.total())))
            .collect::<serde_json::Map<_, _>>(),
    });
    let problem = (!problems.is_empty()).then(|| problems.join("; "));
    Ok(Outcome {
        json,
        summary,
        problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The benchmark itself, at a small size on the emulators: every
    /// scenario delivers everything it publishes, each attempt once, and
    /// counts it (a broken benchmark otherwise goes unseen until someone
    /// runs it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_scenario_delivers_and_counts_everything_at_a_small_size() {
        emulators::require().expect("the test command starts the emulators");
        let opts = Options {
            events: 4,
            failure_events: 2,
            endpoints: 2,
            tenants: 2,
            pollers: 2,
            wave: 4,
            count_waves: 1,
            memory_mb: 256,
        };
        for scenario in scenarios(&opts) {
            let r = run_scenario(&scenario, &opts, None)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", scenario.label));
            assert_eq!(r.deliveries, scenario.deliveries(), "{}", scenario.label);
            assert_eq!(r.problems(), Vec::<String>::new(), "{}", scenario.label);
            let cost = r.cost(opts.memory_mb);
            assert!(cost.total() > 0.0, "{}: a cost was counted", scenario.label);
        }
    }
}
