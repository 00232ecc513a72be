//! The three paths' rounds: the bare loop, the fair baseline and the
//! delivery path, each timed with the process's CPU time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use courier::config::Settings;
use courier::embedded::{EmbeddedQueue, EmbeddedStore, QueueSettings};
use courier::endpoint::{Endpoint, PayloadFormat};
use courier::event::Event;
use courier::event_type::EventTypeFilter;
use courier::ids::TenantId;
use courier::message::{DeliveryMessage, Trigger};
use courier::ports::{DeliveryQueue, EndpointStore};
use courier_delivery::{Deliverer, Sender};
use time::OffsetDateTime;

use super::{BATCH, ENDPOINTS};
use crate::report::{Latencies, process_cpu_time};
use crate::{BenchResult, payload};

/// One measured round of one path.
#[derive(Debug, Default)]
pub(super) struct Round {
    pub(super) elapsed: Duration,
    pub(super) cpu: Duration,
    pub(super) latencies: Latencies,
    pub(super) ok: usize,
    pub(super) failed: usize,
}

impl Round {
    /// Counts one delivery that took `latency`.
    fn count(&mut self, latency: Duration, ok: bool) {
        self.latencies.push(latency);
        if ok {
            self.ok += 1;
        } else {
            self.failed += 1;
        }
    }
    /// Deliveries per second.
    pub(super) fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// Process CPU time per delivery, in µs.
    pub(super) fn cpu_us_per_delivery(&self) -> f64 {
        self.cpu.as_micros() as f64 / self.ok.max(1) as f64
    }
}

/// `n` POSTs of the delivery bodies by `concurrency` plain request loops.
pub(super) async fn baseline_round(
    url: &str,
    tenant: &TenantId,
    concurrency: usize,
    n: usize,
) -> BenchResult<Round> {
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..n)
            .map(|i| Ok(payload::event(tenant, i)?.body(PayloadFormat::Default)))
            .collect::<BenchResult<_>>()?,
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let cpu0 = process_cpu_time();
    let started = Instant::now();
    let loops: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, bodies, next, url) =
                (client.clone(), bodies.clone(), next.clone(), url.to_owned());
            tokio::spawn(async move {
                let mut round = Round::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    let ok = match response {
                        Ok(r) => {
                            let status = r.status();
                            status.is_success() && r.bytes().await.is_ok()
                        }
                        Err(_) => false,
                    };
                    round.count(sent.elapsed(), ok);
                }
                round
            })
        })
        .collect();
    finish(loops, started, cpu0).await
}

/// `n` signed POSTs by the delivery path's own `Sender` (envelope, both
/// signatures, every header), `concurrency / 10` batches of 10 at a time,
/// each batch finished before its loop starts the next: a delivery without
/// the queue, the records, the log line or the metrics.
pub(super) async fn fair_round(
    url: &str,
    tenant: &TenantId,
    concurrency: usize,
    n: usize,
    settings: &Settings,
) -> BenchResult<Round> {
    let endpoints = Arc::new(endpoints(tenant, url)?);
    let events: Arc<Vec<Event>> = Arc::new(
        (0..n)
            .map(|i| payload::event(tenant, i))
            .collect::<BenchResult<_>>()?,
    );
    let sender = Sender::new(settings)?;
    let next = Arc::new(AtomicUsize::new(0));
    let cpu0 = process_cpu_time();
    let started = Instant::now();
    let loops: Vec<_> = (0..concurrency / BATCH)
        .map(|_| {
            let (sender, endpoints, events, next) = (
                sender.clone(),
                endpoints.clone(),
                events.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                let mut round = Round::default();
                loop {
                    let first = next.fetch_add(BATCH, Ordering::Relaxed);
                    if first >= events.len() {
                        break;
                    }
                    let batch = first..(first + BATCH).min(events.len());
                    let handled = Instant::now();
                    let reports = futures::future::join_all(
                        batch.map(|i| sender.send(&endpoints[i % ENDPOINTS], &events[i], 1)),
                    )
                    .await;
                    let took = handled.elapsed();
                    for report in reports {
                        round.count(
                            took,
                            report.result == courier::policy::AttemptResult::Delivered,
                        );
                    }
                }
                round
            })
        })
        .collect();
    finish(loops, started, cpu0).await
}

/// `n` deliveries through `Deliverer::handle_batch`, `concurrency / 10`
/// batches at a time, on a fresh embedded store and queue.
pub(super) async fn delivery_round(
    url: &str,
    tenant: &TenantId,
    concurrency: usize,
    n: usize,
    settings: &Settings,
) -> BenchResult<Round> {
    let store = Arc::new(EmbeddedStore::new());
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings {
        // Longer than any round, so nothing comes back by itself.
        visibility_timeout: Duration::from_secs(600),
        ..QueueSettings::default()
    }));
    let mut ids = Vec::new();
    for endpoint in endpoints(tenant, url)? {
        store.create_endpoint(&endpoint).await?;
        ids.push(endpoint.id);
    }
    let messages: Vec<DeliveryMessage> = (0..n)
        .map(|i| {
            Ok(DeliveryMessage::new(
                ids[i % ENDPOINTS],
                Trigger::Event,
                payload::event(tenant, i)?,
            ))
        })
        .collect::<BenchResult<_>>()?;
    queue.enqueue(&messages).await?;
    let deliverer = Arc::new(Deliverer::new(store, queue.clone(), settings.clone())?);

    let cpu0 = process_cpu_time();
    let started = Instant::now();
    let loops: Vec<_> = (0..concurrency / BATCH)
        .map(|_| {
            let (deliverer, queue) = (deliverer.clone(), queue.clone());
            tokio::spawn(async move {
                let mut round = Round::default();
                loop {
                    let batch = queue.receive(BATCH, Duration::ZERO).await;
                    if batch.is_empty() {
                        break;
                    }
                    let handled = Instant::now();
                    let failed = deliverer.handle_batch(&batch).await;
                    let took = handled.elapsed();
                    // One delete for the batch's successes, as the event
                    // source mapping's DeleteMessageBatch.
                    let done = |m: &&courier::message::ReceivedMessage| {
                        !failed.contains(&m.queue_message_id)
                    };
                    queue.delete_batch(batch.iter().filter(done).map(|m| m.receipt.as_str()));
                    for m in &batch {
                        round.count(took, done(&m));
                    }
                }
                round
            })
        })
        .collect();
    finish(loops, started, cpu0).await
}

/// The endpoints the messages are spread over, all at `url`.
fn endpoints(tenant: &TenantId, url: &str) -> BenchResult<Vec<Endpoint>> {
    let all: EventTypeFilter = "*"
        .parse()
        .map_err(|e: courier::event_type::EventTypeError| e.0)?;
    Ok((0..ENDPOINTS)
        .map(|_| {
            Endpoint::new(
                tenant.clone(),
                url.to_owned(),
                vec![all.clone()],
                OffsetDateTime::now_utc(),
            )
        })
        .collect())
}

async fn finish(
    loops: Vec<tokio::task::JoinHandle<Round>>,
    started: Instant,
    cpu0: Duration,
) -> BenchResult<Round> {
    let mut total = Round::default();
    for l in loops {
        let r = l.await?;
        total.ok += r.ok;
        total.failed += r.failed;
        total.latencies.extend(r.latencies);
    }
    total.elapsed = started.elapsed();
    total.cpu = process_cpu_time().saturating_sub(cpu0);
    Ok(total)
}
