//! Benchmark 4, AWS calls and cost per delivered webhook, on DynamoDB Local
//! and moto: N events for a tenant with M subscribed endpoints go through
//! `Intake::publish` (one intake invocation each), then this benchmark
//! plays the SQS event source mapping — receive up to 10, hand the batch to
//! `Deliverer::handle_batch` (one delivery invocation), delete the messages
//! not reported as failed with one `DeleteMessageBatch` — until every
//! delivery is finished. Every SDK call is counted by operation
//! ([`CallCounter`]) and metered in capacity units and billed SQS requests
//! ([`CapacityMeter`]).
//!
//! Two paths: the receiver answers 200 (one attempt per delivery), or 500
//! with a retry schedule of `1,1` (the default schedule's three attempts,
//! one second apart instead of minutes) and auto-disable out of reach, so
//! every delivery makes all three attempts.
//!
//! Left out on purpose: the event source mapping's idle long-polling (a
//! fixed cost whatever the traffic: the receives that came back empty while
//! retries were waiting are not counted), API Gateway in front of intake,
//! CloudWatch Logs, storage.

mod event_source;
mod output;
mod usage;

use std::sync::Arc;
use std::time::{Duration, Instant};

use courier::config::Settings;
use courier::endpoint::Endpoint;
use courier::event_type::{EventTypeError, EventTypeFilter};
use courier::ids::TenantId;
use courier::ports::EndpointStore;
use courier_aws::{CallCounter, DynamoStore, SqsQueue};
use courier_delivery::Deliverer;
use courier_intake::{Intake, PublishRequest};
use courier_testkit::aws;
use serde_json::json;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use self::event_source::{BATCH, EventSource};
use self::output::{path_json, print_calls};
use self::usage::{Cost, Line, Phase, ceil_ms};
use crate::capacity::CapacityMeter;
use crate::payload::{self, EVENT_TYPE};
use crate::prices;
use crate::report::Table;
use crate::sink::Sink;
use crate::{BenchResult, Outcome, emulators};

/// How long every delivery of a path may take to finish.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(240);

/// Sizes of the run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events published.
    pub events: usize,
    /// Endpoints subscribed to every event.
    pub endpoints: usize,
    /// Delivery invocations at a time.
    pub pollers: usize,
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
    fn name(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
    fn attempts(self) -> u64 {
        match self {
            Self::Success => 1,
            Self::Failure => 3,
        }
    }
}

/// One path's result.
struct PathResult {
    path: Path,
    deliveries: u64,
    received: u64,
    intake: Phase,
    delivery: Phase,
}

/// Runs the benchmark and prints its tables.
pub async fn run(opts: &Options) -> BenchResult<Outcome> {
    emulators::require()?;
    let mut results = Vec::new();
    for path in [Path::Success, Path::Failure] {
        results.push(run_path(path, opts).await?);
    }
    let mut json_paths = Vec::new();
    let mut costs = Vec::new();
    let mut problems = Vec::new();
    for r in &results {
        print_calls(r, opts);
        let cost = Cost::of(&[&r.intake, &r.delivery], r.deliveries, opts.memory_mb);
        costs.push((r.path, cost));
        let expected = r.deliveries * r.path.attempts();
        if r.received != expected {
            problems.push(format!(
                "{} path: the receiver got {} requests, expected {expected}",
                r.path.name(),
                r.received
            ));
        }
        json_paths.push(path_json(r, cost, opts));
    }

    let mut table = Table::new(
        "4b. Cost in US$ per million deliveries (one event to one endpoint), at the prices below",
        &["line", "success (1 attempt)", "failure (3 attempts)"],
    );
    let cell = |path: Path, f: fn(&Cost) -> f64| {
        costs
            .iter()
            .find(|(p, _)| *p == path)
            .map_or(String::new(), |(_, c)| format!("${:.4}", f(c)))
    };
    let lines: [Line; 6] = [
        ("DynamoDB writes", |c| c.dynamodb_writes),
        ("DynamoDB reads", |c| c.dynamodb_reads),
        ("SQS requests", |c| c.sqs),
        ("Lambda requests", |c| c.lambda_requests),
        ("Lambda duration (measured here)", |c| c.lambda_duration),
        ("total", Cost::total),
    ];
    for (name, f) in lines {
        table.row(vec![
            name.into(),
            cell(Path::Success, f),
            cell(Path::Failure, f),
        ]);
    }
    table.print();
    for line in prices::lines() {
        println!("  {line}");
    }
    println!(
        "  Lambda: {} MB (SAM template), duration = handle_batch / publish wall time here against the emulators, rounded up to 1 ms per invocation.",
        opts.memory_mb
    );
    println!(
        "  Each 100 ms a receiver takes to answer adds about ${:.4} per million deliveries (a batch of {BATCH} waits concurrently).",
        0.1 / BATCH as f64 * f64::from(opts.memory_mb) / 1024.0
            * prices::LAMBDA_ARM64_PER_GB_SECOND
            * 1e6
    );

    let success = costs
        .iter()
        .find(|(p, _)| *p == Path::Success)
        .map(|(_, c)| *c)
        .unwrap_or_default();
    let failure = costs
        .iter()
        .find(|(p, _)| *p == Path::Failure)
        .map(|(_, c)| *c)
        .unwrap_or_default();
    let per = |r: &PathResult| {
        let d = r.deliveries.max(1) as f64;
        let (i, l) = (r.intake.usage_total(), r.delivery.usage_total());
        (
            (i.write_units + l.write_units) / d,
            (i.read_units + l.read_units) / d,
            (i.sqs_billed_requests + l.sqs_billed_requests) as f64 / d,
            (r.intake.invocations + r.delivery.invocations) as f64 / d,
        )
    };
    let mut summary = Vec::new();
    if let Some(r) = results.iter().find(|r| r.path == Path::Success) {
        let (w, rd, s, l) = per(r);
        summary.push(format!(
            "Success path ({} events x {} endpoints): per delivered webhook {w:.2} DynamoDB write units, {rd:.2} read units, \
             {s:.2} SQS requests, {l:.2} Lambda invocations: **${:.2} per million deliveries** \
             (DynamoDB ${:.2}, SQS ${:.2}, Lambda ${:.2})",
            opts.events,
            opts.endpoints,
            success.total(),
            success.dynamodb_writes + success.dynamodb_reads,
            success.sqs,
            success.lambda_requests + success.lambda_duration,
        ));
    }
    if let Some(r) = results.iter().find(|r| r.path == Path::Failure) {
        let (w, rd, s, l) = per(r);
        summary.push(format!(
            "Failure path (receiver 500, 3 attempts): per failed delivery {w:.2} write units, {rd:.2} read units, \
             {s:.2} SQS requests, {l:.2} invocations: ${:.2} per million deliveries",
            failure.total(),
        ));
    }
    summary.push(format!(
        "Prices: us-east-1 on-demand list prices checked {}: DynamoDB ${}/M WRU, ${}/M RRU; SQS ${}/M requests; Lambda arm64 ${}/M requests + ${}/GB-s at {} MB",
        prices::CHECKED,
        prices::DYNAMODB_WRU_PER_MILLION,
        prices::DYNAMODB_RRU_PER_MILLION,
        prices::SQS_PER_MILLION_REQUESTS,
        prices::LAMBDA_PER_MILLION_REQUESTS,
        prices::LAMBDA_ARM64_PER_GB_SECOND,
        opts.memory_mb,
    ));
    let json = json!({
        "description": "N events x M endpoints through Intake::publish and Deliverer::handle_batch on DynamoDB Local + moto; SDK calls counted by operation, DynamoDB capacity from ConsumedCapacity (transactional writes doubled), SQS requests in 64 KiB chunks; costs in US$ per million deliveries",
        "events": opts.events,
        "endpoints": opts.endpoints,
        "batch_size": BATCH,
        "lambda_memory_mb": opts.memory_mb,
        "prices": prices::table(),
        "paths": json_paths,
        "usd_per_million_deliveries": {"success": success.total(), "failure": failure.total()},
    });
    let problem = (!problems.is_empty()).then(|| problems.join("; "));
    Ok(Outcome {
        json,
        summary,
        problem,
    })
}

/// Publishes and delivers on one path and returns what it used.
async fn run_path(path: Path, opts: &Options) -> BenchResult<PathResult> {
    let sink = Sink::start(false)?;
    if path == Path::Failure {
        sink.set_status(500);
    }
    let ddb_counter = CallCounter::new();
    let sqs_counter = CallCounter::new();
    let meter = CapacityMeter::new();
    let (ddb, sqs) = aws::clients(None);
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        ddb.config()
            .to_builder()
            .interceptor(ddb_counter.interceptor())
            .interceptor(meter.dynamodb())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        sqs.config()
            .to_builder()
            .interceptor(sqs_counter.interceptor())
            .interceptor(meter.sqs())
            .build(),
    );
    let (endpoints_table, deliveries_table) = aws::tables().await;
    let urls = aws::new_queue(&sqs, Duration::from_secs(60)).await;
    let store = Arc::new(DynamoStore::new(ddb, &endpoints_table, &deliveries_table));
    let queue = Arc::new(SqsQueue::new(sqs.clone(), &urls.queue_url));
    emulators::ensure_event_type(store.as_ref()).await?;
    let tenant: TenantId = format!(
        "bench_cost_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    )
    .parse()?;
    let filter: EventTypeFilter = "booking.*".parse().map_err(|e: EventTypeError| e.0)?;
    for _ in 0..opts.endpoints {
        let endpoint = Endpoint::new(
            tenant.clone(),
            sink.url(),
            vec![filter.clone()],
            OffsetDateTime::now_utc(),
        );
        store.create_endpoint(&endpoint).await?;
    }
    let mut settings = Settings {
        allow_private_targets: true,
        ..Settings::default()
    };
    if path == Path::Failure {
        // Three attempts, as the default schedule, a second apart.
        settings.retry_schedule = "1,1".parse().map_err(|e: String| e)?;
        settings.disable_after_failures = 1_000_000;
    }
    let reset = || {
        ddb_counter.reset();
        sqs_counter.reset();
        meter.reset();
    };
    reset();

    // Intake: one invocation per event.
    let intake = Intake::new(store.clone(), queue.clone(), settings.clone());
    let started = Instant::now();
    let mut billed_ms = 0;
    for i in 0..opts.events {
        let request = PublishRequest {
            id: None,
            event_type: EVENT_TYPE.into(),
            data: RawValue::from_string(payload::booking(i))?,
        };
        let t = Instant::now();
        let published = intake.publish(&tenant, request).await?;
        billed_ms += ceil_ms(t.elapsed());
        if published.endpoints != opts.endpoints {
            return Err(format!(
                "event fanned out to {} endpoints, expected {}",
                published.endpoints, opts.endpoints
            )
            .into());
        }
    }
    let mut intake_phase = Phase::snapshot(&ddb_counter, &sqs_counter, &meter);
    intake_phase.invocations = opts.events as u64;
    intake_phase.billed_ms = billed_ms;
    intake_phase.seconds = started.elapsed().as_secs_f64();
    reset();

    // Delivery: the event source mapping, played.
    let deliveries = (opts.events * opts.endpoints) as u64;
    let source = EventSource {
        deliverer: Arc::new(Deliverer::new(store, queue.clone(), settings)?),
        queue,
        sqs,
        queue_url: urls.queue_url.clone(),
    };
    let started = Instant::now();
    let played = event_source::play(&source, deliveries as usize, opts.pollers, DELIVERY_TIMEOUT)
        .await
        .map_err(|e| format!("{} path: {e}", path.name()))?;
    let mut delivery_phase = Phase::snapshot(&ddb_counter, &sqs_counter, &meter);
    delivery_phase.invocations = played.invocations;
    delivery_phase.billed_ms = played.billed_ms;
    delivery_phase.empty_receives = played.empty_receives;
    delivery_phase.seconds = started.elapsed().as_secs_f64();
    delivery_phase.drop_empty_receives();
    Ok(PathResult {
        path,
        deliveries,
        received: sink.count(),
        intake: intake_phase,
        delivery: delivery_phase,
    })
}
