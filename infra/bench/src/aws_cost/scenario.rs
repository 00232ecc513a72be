//! One scenario, played: set-up (not counted), then waves of publishing,
//! delivering and counting, each side on metered clients of its own.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use courier::config::Settings;
use courier::endpoint::Endpoint;
use courier::event_type::{EventTypeError, EventTypeFilter};
use courier::ids::TenantId;
use courier::metrics::Metrics;
use courier::ports::EndpointStore;
use courier_aws::{DynamoStore, SqsQueue};
use courier_delivery::Deliverer;
use courier_intake::{Intake, PublishRequest};
use courier_testkit::aws;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::counting::Counting;
use super::event_source::{self, EventSource, Played};
use super::usage::{Cost, Phase, ceil_ms};
use super::{Options, Path, RESPONSE_BODY_BYTES, Scenario, flush_metrics};
use crate::log_bytes::Bytes;
use crate::metered::Metered;
use crate::payload::{self, EVENT_TYPE};
use crate::sink::Sink;
use crate::{BenchResult, emulators};

/// How long every delivery of a scenario may take to finish.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(240);

/// One scenario's result.
pub struct ScenarioResult {
    pub scenario: Scenario,
    pub deliveries: u64,
    /// Requests the receiver got.
    pub received: u64,
    /// Distinct (endpoint, event, attempt number) among them; the rest are
    /// duplicates (at-least-once).
    pub distinct_attempts: u64,
    /// Wall time of publishing, delivering and counting.
    pub seconds: f64,
    pub intake: Phase,
    pub delivery: Phase,
    pub counting: Phase,
    /// Log entries handed to the stream handler.
    pub stream_entries: u64,
    /// Entries it reported as newly counted.
    pub stream_counted: u64,
}

impl ScenarioResult {
    pub fn phases(&self) -> [(&'static str, &Phase); 3] {
        [
            ("intake", &self.intake),
            ("delivery", &self.delivery),
            ("counting", &self.counting),
        ]
    }

    pub fn cost(&self, memory_mb: u32) -> Cost {
        Cost::of(
            &[&self.intake, &self.delivery, &self.counting],
            self.deliveries,
            memory_mb,
        )
    }

    /// Failed checks: attempts lost or repeated, entries not counted.
    pub fn problems(&self) -> Vec<String> {
        let expected = self.deliveries * self.scenario.path.attempts();
        let mut problems = Vec::new();
        if self.distinct_attempts != expected {
            problems.push(format!(
                "{}: the receiver got {} distinct attempts, expected {expected}",
                self.scenario.label, self.distinct_attempts
            ));
        }
        if self.stream_entries != expected || self.stream_counted != expected {
            problems.push(format!(
                "{}: the stream carried {} log entries and {} were counted, expected {expected}",
                self.scenario.label, self.stream_entries, self.stream_counted
            ));
        }
        problems
    }
}

/// Publishes, delivers and counts one scenario and returns what it used.
pub async fn run_scenario(
    scenario: &Scenario,
    opts: &Options,
    metrics: Option<Metrics>,
) -> BenchResult<ScenarioResult> {
    let sink = Sink::start_answering(true, RESPONSE_BODY_BYTES)?;
    if scenario.path == Path::Failure {
        sink.set_status(500);
    }
    // Set-up, not counted: the tenants' endpoints, each with its own URL.
    let setup = aws::store().await;
    emulators::ensure_event_type(&setup).await?;
    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let tenants: Vec<TenantId> = (0..scenario.tenants)
        .map(|t| format!("bench_cost_{run_id}_{t}").parse())
        .collect::<Result<_, _>>()?;
    let filter: EventTypeFilter = "booking.*".parse().map_err(|e: EventTypeError| e.0)?;
    for (t, tenant) in tenants.iter().enumerate() {
        for i in 0..scenario.endpoints {
            let endpoint = Endpoint::new(
                tenant.clone(),
                sink.url_for(t * scenario.endpoints + i),
                vec![filter.clone()],
                OffsetDateTime::now_utc(),
            );
            setup.create_endpoint(&endpoint).await?;
        }
    }
    let (_, plain_sqs) = aws::clients(None);
    let queue_url = aws::new_queue(&plain_sqs, Duration::from_secs(60))
        .await
        .queue_url;
    let mut settings = Settings {
        allow_private_targets: true,
        ..Settings::default()
    };
    if scenario.path == Path::Failure {
        // Three attempts, as the default schedule, a second apart.
        settings.retry_schedule = "1,1".parse().map_err(|e: String| e)?;
        settings.disable_after_failures = 1_000_000;
        // Three failed attempts per delivery are measured, not the circuit
        // breaker: more failures than the window holds never open it.
        settings.circuit_open_after = u32::MAX;
    }

    // Intake, delivery and counting take turns, a wave of events at a time:
    // the queue holds full batches (as under load) yet stays short (moto's
    // cost per call grows with the queue's depth). Each side has clients of
    // its own, so their calls stay apart.
    let (endpoints_table, deliveries_table) = aws::tables().await;
    let clients = [Metered::new(None), Metered::new(None), Metered::new(None)];
    let [intake_clients, delivery_clients, counting_clients] = &clients;
    // The set-up's sealer (KMS on moto), as a deployment's functions share
    // the stack's key: a store of its own could not open the secrets. Its
    // data keys are cached, so it makes one KMS call per run, not counted.
    let sealer = aws::kms_sealer().await;
    let store = |clients: &Metered| {
        DynamoStore::new(
            clients.dynamodb.clone(),
            &endpoints_table,
            &deliveries_table,
        )
        .with_sealer(sealer.clone())
    };
    let queue = |clients: &Metered| Arc::new(SqsQueue::new(clients.sqs.clone(), &queue_url));
    let intake = Intake::new(
        Arc::new(store(intake_clients)),
        queue(intake_clients),
        settings.clone(),
    );
    let delivery_queue = queue(delivery_clients);
    let rules = settings.health_rules();
    let source = EventSource {
        deliverer: Arc::new(Deliverer::new(
            Arc::new(store(delivery_clients)),
            delivery_queue.clone(),
            settings,
        )?),
        queue: delivery_queue,
        sqs: delivery_clients.sqs.clone(),
        queue_url: queue_url.clone(),
        metrics,
    };
    let mut counting = Counting::start(
        &deliveries_table,
        store(counting_clients),
        &tenants,
        rules,
        metrics,
    )
    .await;

    let started = Instant::now();
    let mut intake_billed_ms = 0;
    let mut played = Played::default();
    let mut logs = [Bytes::default(); 3];
    let indices: Vec<usize> = (0..scenario.events).collect();
    let waves: Vec<&[usize]> = indices.chunks(opts.wave.max(1)).collect();
    for (w, wave) in waves.iter().enumerate() {
        // Intake: one invocation per event, the tenants in turn.
        let before = Bytes::now();
        for &i in *wave {
            let request = PublishRequest {
                id: None,
                event_type: EVENT_TYPE.into(),
                data: RawValue::from_string(payload::booking(i))?,
            };
            let t = Instant::now();
            let published = intake.publish(&tenants[i % tenants.len()], request).await?;
            flush_metrics(metrics);
            intake_billed_ms += ceil_ms(t.elapsed());
            if published.endpoints != scenario.endpoints {
                return Err(format!(
                    "event fanned out to {} endpoints, expected {}",
                    published.endpoints, scenario.endpoints
                )
                .into());
            }
        }
        logs[0].add(Bytes::since(before));
        // Delivery: every message of the wave, retries included.
        let before = Bytes::now();
        let messages = wave.len() * scenario.endpoints;
        let deadline = DELIVERY_TIMEOUT.saturating_sub(started.elapsed());
        played.add(&event_source::play(&source, messages, opts.pollers, deadline).await?);
        logs[1].add(Bytes::since(before));
        // Counting: the wave's log entries from the stream.
        counting.read().await;
        if (w + 1) % opts.count_waves.max(1) == 0 || w + 1 == waves.len() {
            let before = Bytes::now();
            counting.count().await?;
            logs[2].add(Bytes::since(before));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut intake_phase = Phase::snapshot(intake_clients);
    intake_phase.invocations = scenario.events as u64;
    intake_phase.billed_ms = intake_billed_ms;
    intake_phase.logs = logs[0];
    let mut delivery_phase = Phase::snapshot(delivery_clients);
    delivery_phase.invocations = played.invocations;
    delivery_phase.billed_ms = played.billed_ms;
    delivery_phase.empty_receives = played.empty_receives;
    delivery_phase.logs = logs[1];
    delivery_phase.drop_empty_receives();
    let mut counting_phase = Phase::snapshot(counting_clients);
    counting_phase.invocations = counting.invocations;
    counting_phase.billed_ms = counting.billed_ms;
    counting_phase.logs = logs[2];

    let arrivals = sink.arrivals();
    let distinct: HashSet<(String, String, u32)> = arrivals
        .iter()
        .map(|a| (a.path.clone(), a.id.clone(), a.attempt))
        .collect();
    Ok(ScenarioResult {
        scenario: scenario.clone(),
        deliveries: scenario.deliveries(),
        received: arrivals.len() as u64,
        distinct_attempts: distinct.len() as u64,
        seconds,
        intake: intake_phase,
        delivery: delivery_phase,
        counting: counting_phase,
        stream_entries: counting.entries,
        stream_counted: counting.counted,
    })
}
