//! Fault injection on both backends: the store and the queue fail or hang
//! on each call the delivery path makes, before or after the call takes
//! effect; batches are cancelled at random points (a Lambda timeout).
//! After the queue drains,
//! what the receiver saw is checked against the log, the statistics and
//! the endpoints' counters. The seed is printed: `COURIER_FAULT_SEED=<n>`
//! replays a run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use courier::attempt::{AttemptStatus, DeliveryAttempt, DeliveryQuery};
use courier::config::Settings;
use courier::endpoint::Endpoint;
use courier::ids::{MessageId, TenantId};
use courier::message::{DeliveryMessage, Trigger};
use courier::ports::{DeliveryQueue, Store};
use courier_delivery::Deliverer;
use courier_testkit::faults::{FaultRates, Faults, FaultyQueue, FaultyStore};
use courier_testkit::{Receiver, ReceivingQueue, Reply, TestBackend};
use tokio::time::Instant;

courier_testkit::backend_tests!(faults_and_crashes_lose_no_attempt_and_log_each_once);

/// Endpoints by behaviour: path `/ep/{i}`; `i % 4 == 0` always answers
/// 500, `i % 4 == 1` fails 40 % of attempts (the same answer for the same
/// attempt), the rest answer 200.
const ENDPOINTS: usize = 20;
const EVENTS: usize = 100;
/// Messages come back this long after a receive unless their visibility
/// was changed (a lost visibility change, a cancelled batch).
const VISIBILITY: Duration = Duration::from_secs(2);

fn seed() -> u64 {
    let seed = std::env::var("COURIER_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand_seed);
    println!("fault seed {seed} (replay with COURIER_FAULT_SEED={seed})");
    seed
}

fn rand_seed() -> u64 {
    ulid::Ulid::new().random() as u64
}

fn settings() -> Settings {
    Settings {
        retry_schedule: "1,1".parse().unwrap(),
        delivery_timeout: Duration::from_millis(1000),
        allow_private_targets: true,
        // Out of reach: this suite checks the records, not auto-disable or
        // the circuit breaker (endpoint_outages.rs does).
        disable_after_failures: 1_000_000,
        circuit_open_after: u32::MAX,
        ..Settings::default()
    }
}

/// A stable pseudo-random answer for one attempt of one event.
fn flaky_fails(webhook_id: &str, attempt: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(format!("{webhook_id}/{attempt}"))[0] % 10 < 4
}

fn start_receiver(receiver: &Receiver) {
    receiver.answer_by(|uri, headers| {
        let i: usize = uri
            .path()
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
        match i % 4 {
            0 => Reply::status(500),
            1 if flaky_fails(header("webhook-id"), header("webhook-attempt")) => Reply::status(503),
            _ => Reply::status(200),
        }
    });
}

/// Every entry of an endpoint's log, oldest first.
async fn whole_log(store: &dyn Store, tenant: &TenantId, ep: &Endpoint) -> Vec<DeliveryAttempt> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let query = DeliveryQuery {
            limit: 100,
            cursor,
            ..DeliveryQuery::default()
        };
        let page = store
            .recent_deliveries(tenant, ep.id, &query)
            .await
            .unwrap();
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    all.reverse();
    all
}

/// The log's entries by delivery, each delivery's in attempt order.
fn chains(log: &[DeliveryAttempt]) -> BTreeMap<MessageId, Vec<&DeliveryAttempt>> {
    let mut chains: BTreeMap<MessageId, Vec<&DeliveryAttempt>> = BTreeMap::new();
    for e in log {
        chains.entry(e.message_id).or_default().push(e);
    }
    for chain in chains.values_mut() {
        chain.sort_by_key(|e| e.attempt);
    }
    chains
}

/// True when the delivery's chain ended: a success, a skip, or its last attempt.
fn finished(chain: &[&DeliveryAttempt], max_attempts: u32) -> bool {
    chain.last().is_some_and(|last| {
        last.status != AttemptStatus::Failed
            || (last.attempt == max_attempts && last.next_attempt_at.is_none())
    })
}

/// Plays the event source mapping with faults and cancellations until every
/// delivery's chain has ended; returns the batches cancelled.
async fn drain(
    deliverer: &Deliverer,
    queue: &dyn ReceivingQueue,
    store: &dyn Store,
    backend: &dyn TestBackend,
    (tenant, endpoints): (&TenantId, &[Endpoint]),
    faults: &Faults,
    messages: &[DeliveryMessage],
) -> usize {
    // A bound on a hang, not a speed test (about 3 minutes on the AWS
    // backend's emulators on 2 cores; they slow down when shared).
    let deadline = Instant::now() + Duration::from_secs(600);
    let max = settings().retry_schedule.max_attempts();
    let deliveries = messages.len();
    let (mut cancelled, mut batches, mut last_check) = (0, 0, Instant::now());
    // Enqueued a few hundred at a time, as traffic arrives (and because
    // moto's receives slow down with the queue's depth).
    let (mut enqueued, mut acked) = (0, 0);
    loop {
        assert!(
            Instant::now() < deadline,
            "the deliveries did not finish in 420 s"
        );
        while enqueued < deliveries && enqueued < acked + 300 {
            let next = (enqueued + 100).min(deliveries);
            queue.enqueue(&messages[enqueued..next]).await.unwrap();
            enqueued = next;
        }
        // Four batches at a time, as concurrent Lambda invocations.
        let mut received = Vec::new();
        for _ in 0..4 {
            let batch = queue.receive(10, Duration::from_millis(100)).await.unwrap();
            if !batch.is_empty() {
                received.push(batch);
            }
        }
        if received.is_empty() {
            if last_check.elapsed() < Duration::from_secs(2) {
                continue;
            }
            last_check = Instant::now();
            let mut done = 0;
            for ep in endpoints {
                let log = whole_log(store, tenant, ep).await;
                done += chains(&log).values().filter(|c| finished(c, max)).count();
            }
            if done == deliveries {
                return cancelled;
            }
            // Everything queued may be finished while more waits to be queued.
            acked = acked.max(done);
            continue;
        }
        batches += received.len();
        let outcomes = futures::future::join_all(received.into_iter().map(|batch| async move {
            let receipts: Vec<(String, String)> = batch
                .iter()
                .map(|m| (m.queue_message_id.clone(), m.receipt.clone()))
                .collect();
            // One batch in twenty dies part-way, as a Lambda that times
            // out: nothing of it is deleted, and its messages come back.
            let handled = if faults.draw() < 0.05 {
                let cut = Duration::from_micros((faults.draw() * 15_000.0) as u64);
                tokio::time::timeout(cut, deliverer.handle_batch(&batch))
                    .await
                    .ok()
            } else {
                Some(deliverer.handle_batch(&batch).await)
            };
            match handled {
                Some(failed) => {
                    let mut deleted = 0;
                    for (id, receipt) in receipts {
                        if !failed.contains(&id) {
                            queue.delete(&receipt).await.unwrap();
                            deleted += 1;
                        }
                    }
                    (false, deleted)
                }
                None => (true, 0),
            }
        }))
        .await;
        for (was_cancelled, deleted) in outcomes {
            cancelled += usize::from(was_cancelled);
            acked += deleted;
        }
        if batches % 20 < 4 {
            backend
                .count_logged(tenant, &settings().health_rules())
                .await;
        }
    }
}

async fn faults_and_crashes_lose_no_attempt_and_log_each_once(b: &dyn TestBackend) {
    let seed = seed();
    let store = b.store().await;
    let queue = b.queue_with_visibility(VISIBILITY).await;
    let faults = Faults::new(
        seed,
        FaultRates {
            fail_before: 0.04,
            fail_after: 0.04,
            hang: 0.005,
            hang_for: Duration::from_millis(100),
        },
    );
    let faulty_store: Arc<dyn Store> = Arc::new(FaultyStore::new(store.clone(), faults.clone()));
    let plain_queue: Arc<dyn DeliveryQueue> = queue.clone();
    let faulty_queue: Arc<dyn DeliveryQueue> =
        Arc::new(FaultyQueue::new(plain_queue, faults.clone()));
    let deliverer = Deliverer::new(faulty_store, faulty_queue, settings())
        .unwrap()
        .with_fault_backoff_unit(Duration::from_millis(20));
    let receiver = Receiver::start().await;
    start_receiver(&receiver);
    let tenant = courier_testkit::unique_tenant();
    let mut endpoints = Vec::new();
    for i in 0..ENDPOINTS {
        let ep =
            courier_testkit::endpoint_at(&tenant, &format!("{}/ep/{i}", receiver.url()), &["*"]);
        store.create_endpoint(&ep).await.unwrap();
        endpoints.push(ep);
    }
    let mut messages = Vec::new();
    for n in 0..EVENTS {
        let event = courier_testkit::event(&tenant, "booking.created", &format!("{{\"n\":{n}}}"));
        for ep in &endpoints {
            messages.push(DeliveryMessage::new(ep.id, Trigger::Event, event.clone()));
        }
    }
    let cancelled = drain(
        &deliverer,
        &*queue,
        &*store,
        b,
        (&tenant, &endpoints),
        &faults,
        &messages,
    )
    .await;
    b.count_logged(&tenant, &settings().health_rules()).await;

    // What the receiver saw, by endpoint: (webhook-id, webhook-attempt) → POSTs.
    let mut seen: BTreeMap<String, BTreeMap<(String, u32), usize>> = BTreeMap::new();
    let requests = receiver.requests();
    for r in &requests {
        let key = (
            r.header("webhook-id").unwrap().to_owned(),
            r.header("webhook-attempt").unwrap().parse().unwrap(),
        );
        let endpoint = r.uri.path().rsplit('/').next().unwrap_or_default();
        *seen
            .entry(format!("/ep/{endpoint}"))
            .or_default()
            .entry(key)
            .or_default() += 1;
    }
    let max = settings().retry_schedule.max_attempts();
    let today = time::OffsetDateTime::now_utc().date();
    let mut entries_total = 0;
    for (i, ep) in endpoints.iter().enumerate() {
        let log = whole_log(&*store, &tenant, ep).await;
        entries_total += log.len();
        let mut logged: BTreeMap<(String, u32), usize> = BTreeMap::new();
        for e in &log {
            assert_ne!(e.status, AttemptStatus::Skipped, "nothing is skipped here");
            *logged
                .entry((e.event_id.to_string(), e.attempt))
                .or_default() += 1;
        }
        let chains = chains(&log);
        let path = format!("/ep/{i}");
        let posted = seen.remove(&path).unwrap_or_default();
        // Every attempt the receiver saw is logged exactly once.
        for (key, n) in &logged {
            assert_eq!(*n, 1, "{path}: {key:?} logged {n} times (seed {seed})");
        }
        // An attempt that got an answer reached the receiver (one that
        // timed out before connecting may not have).
        for e in log.iter().filter(|e| e.http_status.is_some()) {
            let key = (e.event_id.to_string(), e.attempt);
            assert!(
                posted.contains_key(&key),
                "{path}: {key:?} answered but never sent (seed {seed}): {e:?}; sent for this event: {:?}",
                requests
                    .iter()
                    .filter(|r| r.header("webhook-id") == Some(key.0.as_str()))
                    .map(|r| (
                        r.uri.path().to_owned(),
                        r.header("webhook-attempt").map(str::to_owned)
                    ))
                    .collect::<Vec<_>>()
            );
        }
        for key in posted.keys() {
            assert!(
                logged.contains_key(key),
                "{path}: {key:?} sent but not logged (seed {seed})"
            );
        }
        // Each delivery's attempts are 1..=k with none skipped, k within the
        // schedule, and the chain ended.
        assert_eq!(
            chains.len(),
            EVENTS,
            "{path}: every delivery has a chain (seed {seed})"
        );
        for chain in chains.values() {
            let numbers: Vec<u32> = chain.iter().map(|e| e.attempt).collect();
            let want: Vec<u32> = (1..=numbers.len() as u32).collect();
            assert_eq!(numbers, want, "{path}: attempt numbers (seed {seed})");
            assert!(numbers.len() as u32 <= max);
            assert!(
                finished(chain, max),
                "{path}: an unfinished chain (seed {seed})"
            );
        }
        // The statistics add up to the log.
        let stats = store
            .daily_stats(&tenant, ep.id, today, today)
            .await
            .unwrap();
        let counts = stats.first().map(|d| d.counts.clone()).unwrap_or_default();
        let succeeded = log
            .iter()
            .filter(|e| e.status == AttemptStatus::Succeeded)
            .count() as u64;
        let failed = log
            .iter()
            .filter(|e| e.status == AttemptStatus::Failed)
            .count() as u64;
        assert_eq!(
            (counts.attempts, counts.succeeded, counts.failed),
            (succeeded + failed, succeeded, failed),
            "{path}: statistics against the log (seed {seed})"
        );
        // Every entry was folded into the endpoint's health exactly once:
        // its window of recent outcomes holds each of them (up to its size),
        // whatever the order they were counted in.
        let stored = store.endpoint(&tenant, ep.id).await.unwrap().unwrap();
        let window = settings().circuit_window;
        let seen = (succeeded + failed).min(u64::from(window));
        assert_eq!(
            u64::from(stored.circuit.recent_len),
            seen,
            "{path}: outcomes in the circuit's window (seed {seed})"
        );
        // The counter follows the rule: failures since the last success,
        // those in flight together counted once (see courier::circuit).
        match i % 4 {
            0 => {
                assert_eq!(
                    u64::from(stored.circuit.recent_failures(window)),
                    seen,
                    "{path}: every outcome a failure (seed {seed})"
                );
                assert!(
                    (1..=failed).contains(&u64::from(stored.consecutive_failures)),
                    "{path} (seed {seed})"
                );
            }
            1 => assert!(u64::from(stored.consecutive_failures) <= failed),
            _ => {
                assert_eq!(
                    stored.circuit.recent_failures(window),
                    0,
                    "{path} (seed {seed})"
                );
                assert_eq!(stored.consecutive_failures, 0, "{path} (seed {seed})");
            }
        }
    }
    assert!(seen.is_empty(), "requests to unknown paths: {seen:?}");
    assert_eq!(
        queue.dead_letters().await.unwrap(),
        Vec::<String>::new(),
        "nothing in the DLQ"
    );
    let repeated = requests.len() - entries_total;
    println!(
        "{} deliveries, {entries_total} attempts logged, {} POSTs ({repeated} repeated after a fault), \
         {cancelled} batches cancelled, faults injected: {:?}",
        messages.len(),
        requests.len(),
        faults.injected()
    );
    assert!(messages.len() >= 2000);
    assert!(cancelled > 0, "no batch was cancelled part-way");
    let injected: u64 = faults.injected().values().sum();
    assert!(
        injected > 100,
        "the plan injected too few faults to mean anything: {injected}"
    );
}
