//! Benchmark 4, AWS calls and cost per delivered webhook, on DynamoDB Local
//! and moto: N events for a tenant with M subscribed endpoints go through
//! `Intake::publish` (one intake invocation each), a wave of events at a
//! time; after each wave this benchmark plays the SQS event source mapping
//! — receive up to 10, hand the batch to `Deliverer::handle_batch` (one
//! delivery invocation), delete the messages not reported as failed with
//! one `DeleteMessageBatch` — until every delivery of the wave is finished. Every SDK call is counted by operation
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

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use courier::config::Settings;
use courier::endpoint::Endpoint;
use courier::event_type::{EventTypeError, EventTypeFilter};
use courier::ids::TenantId;
use courier::ports::EndpointStore;
use courier_aws::{DynamoStore, SqsQueue};
use courier_delivery::Deliverer;
use courier_intake::{Intake, PublishRequest};
use courier_testkit::aws;
use serde_json::json;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use self::event_source::{BATCH, EventSource, Played};
use self::output::{path_json, print_calls};
use self::usage::{Cost, Line, Phase, ceil_ms};
use crate::metered::Metered;
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
    /// Events published on the success path.
    pub events: usize,
    /// Events published on the failure path (three attempts each, so fewer).
    pub failure_events: usize,
    /// Endpoints subscribed to every event.
    pub endpoints: usize,
    /// Delivery invocations at a time.
    pub pollers: usize,
    /// Events published before their deliveries are played.
    pub wave: usize,
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
    events: usize,
    deliveries: u64,
    /// Requests the receiver got.
    received: u64,
    /// Distinct (endpoint, event, attempt number) among them; the rest are
    /// duplicates (at-least-once).
    distinct_attempts: u64,
    /// Wall time of publishing and delivering.
    seconds: f64,
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
        if r.distinct_attempts != expected {
            problems.push(format!(
                "{} path: the receiver got {} distinct attempts, expected {expected}",
                r.path.name(),
                r.distinct_attempts
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
            r.events,
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
            "Failure path ({} events x {} endpoints, receiver 500, 3 attempts): per failed delivery {w:.2} write units, {rd:.2} read units, \
             {s:.2} SQS requests, {l:.2} invocations: ${:.2} per million deliveries",
            r.events,
            opts.endpoints,
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
    let events = match path {
        Path::Success => opts.events,
        Path::Failure => opts.failure_events,
    };
    let sink = Sink::start(true)?;
    if path == Path::Failure {
        sink.set_status(500);
    }
    // Set-up, not counted: the tenant's endpoints, each with its own URL.
    let setup = aws::store().await;
    emulators::ensure_event_type(&setup).await?;
    let tenant: TenantId = format!(
        "bench_cost_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    )
    .parse()?;
    let filter: EventTypeFilter = "booking.*".parse().map_err(|e: EventTypeError| e.0)?;
    for i in 0..opts.endpoints {
        let endpoint = Endpoint::new(
            tenant.clone(),
            sink.url_for(i),
            vec![filter.clone()],
            OffsetDateTime::now_utc(),
        );
        setup.create_endpoint(&endpoint).await?;
    }
    let (_, plain_sqs) = aws::clients(None);
    let queue_url = aws::new_queue(&plain_sqs, Duration::from_secs(60))
        .await
        .queue_url;
    let mut settings = Settings {
        allow_private_targets: true,
        ..Settings::default()
    };
    if path == Path::Failure {
        // Three attempts, as the default schedule, a second apart.
        settings.retry_schedule = "1,1".parse().map_err(|e: String| e)?;
        settings.disable_after_failures = 1_000_000;
    }

    // Intake and delivery take turns, a wave of events at a time: the queue
    // holds full batches (as under load) yet stays short (moto's cost per
    // call grows with the queue's depth). Each side has clients of its own,
    // so their calls stay apart.
    let (endpoints_table, deliveries_table) = aws::tables().await;
    let intake_clients = Metered::new(None);
    let delivery_clients = Metered::new(None);
    let backend = |clients: &Metered| {
        (
            Arc::new(DynamoStore::new(
                clients.dynamodb.clone(),
                &endpoints_table,
                &deliveries_table,
            )),
            Arc::new(SqsQueue::new(clients.sqs.clone(), &queue_url)),
        )
    };
    let (intake_store, intake_queue) = backend(&intake_clients);
    let (delivery_store, delivery_queue) = backend(&delivery_clients);
    let intake = Intake::new(intake_store, intake_queue, settings.clone());
    let source = EventSource {
        deliverer: Arc::new(Deliverer::new(
            delivery_store,
            delivery_queue.clone(),
            settings,
        )?),
        queue: delivery_queue,
        sqs: delivery_clients.sqs.clone(),
        queue_url: queue_url.clone(),
    };
    let started = Instant::now();
    let mut intake_billed_ms = 0;
    let mut played = Played::default();
    for wave in (0..events).collect::<Vec<_>>().chunks(opts.wave.max(1)) {
        // Intake: one invocation per event.
        for &i in wave {
            let request = PublishRequest {
                id: None,
                event_type: EVENT_TYPE.into(),
                data: RawValue::from_string(payload::booking(i))?,
            };
            let t = Instant::now();
            let published = intake.publish(&tenant, request).await?;
            intake_billed_ms += ceil_ms(t.elapsed());
            if published.endpoints != opts.endpoints {
                return Err(format!(
                    "event fanned out to {} endpoints, expected {}",
                    published.endpoints, opts.endpoints
                )
                .into());
            }
        }
        // Delivery: every message of the wave, retries included.
        let messages = wave.len() * opts.endpoints;
        let deadline = DELIVERY_TIMEOUT.saturating_sub(started.elapsed());
        played.add(
            &event_source::play(&source, messages, opts.pollers, deadline)
                .await
                .map_err(|e| format!("{} path: {e}", path.name()))?,
        );
    }
    let mut intake_phase = Phase::snapshot(&intake_clients);
    intake_phase.invocations = events as u64;
    intake_phase.billed_ms = intake_billed_ms;
    let mut delivery_phase = Phase::snapshot(&delivery_clients);
    delivery_phase.invocations = played.invocations;
    delivery_phase.billed_ms = played.billed_ms;
    delivery_phase.empty_receives = played.empty_receives;
    delivery_phase.drop_empty_receives();
    let deliveries = (events * opts.endpoints) as u64;

    let arrivals = sink.arrivals();
    let distinct: HashSet<(String, String, u32)> = arrivals
        .iter()
        .map(|a| (a.path.clone(), a.id.clone(), a.attempt))
        .collect();
    Ok(PathResult {
        path,
        events,
        deliveries,
        received: arrivals.len() as u64,
        distinct_attempts: distinct.len() as u64,
        seconds: started.elapsed().as_secs_f64(),
        intake: intake_phase,
        delivery: delivery_phase,
    })
}
