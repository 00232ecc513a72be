//! Benchmark 1, delivery overhead: Courier's delivery path
//! (`Deliverer::handle_batch`: read progress and endpoint, sign, POST,
//! record progress, log entry, statistics) on the embedded store and queue,
//! against two baselines in the same process, to the same loopback
//! receiver, at the same concurrency:
//!
//! - the **fair baseline** does the work every delivery must do that is not
//!   bookkeeping: the same envelope, both signatures and the same headers
//!   (`courier_delivery::Sender`, the delivery path's own client), in the
//!   same batch shape (10 at once, the next batch when all 10 are done). So
//!   the ratio against it is what Courier adds: queue handling, records,
//!   logging and metrics;
//! - the **bare loop** (kept as a second reference line) keeps `concurrency`
//!   plain POSTs of pre-built bodies in flight, with one header and no HMAC.
//!
//! Concurrency means requests in flight at most: the delivery path and the
//! fair baseline run `concurrency / 10` batch loops side by side (like that
//! many concurrent Lambda invocations of 10 messages), the bare loop runs
//! `concurrency` request loops. Rounds alternate baseline and delivery so that a noisy
//! neighbour hurts both alike; throughput is the median round, latencies
//! pool every round. A delivery's latency is its batch's handling time: a
//! message is done (and acknowledged) only when its batch is.

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
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::report::{Latencies, Table, fmt_ms, process_cpu_time, thousands};
use crate::sink::Sink;
use crate::{BenchResult, Outcome, payload};

/// Messages per batch, as the SQS event source hands them out.
const BATCH: usize = 10;
/// Endpoints the messages are spread over (each batch touches several, so
/// the statistics and counters are written as in production).
const ENDPOINTS: usize = 10;

/// Sizes of the run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Deliveries per round and path.
    pub deliveries: usize,
    /// Measured rounds per path and concurrency.
    pub rounds: usize,
    /// Requests in flight; multiples of 10.
    pub concurrency: Vec<usize>,
}

/// One measured round of one path.
#[derive(Debug, Default)]
struct Round {
    elapsed: Duration,
    cpu: Duration,
    latencies: Latencies,
    ok: usize,
    failed: usize,
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
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    fn cpu_us_per_delivery(&self) -> f64 {
        self.cpu.as_micros() as f64 / self.ok.max(1) as f64
    }
}

/// Runs the benchmark and prints its table.
pub async fn run(opts: &Options) -> BenchResult<Outcome> {
    if opts.concurrency.iter().any(|c| *c == 0 || c % BATCH != 0) {
        return Err("delivery concurrency must be a positive multiple of 10".into());
    }
    let sink = Sink::start(false)?;
    let tenant: TenantId = "bench_delivery".parse()?;
    let settings = Settings {
        allow_private_targets: true,
        ..Settings::default()
    };
    let mut table = Table::new(
        &format!(
            "1. Delivery overhead: Deliverer::handle_batch on the embedded backends vs a bare reqwest POST loop \
             ({} deliveries x {} rounds per path, median round; loopback receiver answering 200)",
            thousands(opts.deliveries as u64),
            opts.rounds
        ),
        &[
            "in flight",
            "path",
            "deliveries/s",
            "CPU/delivery",
            "p50",
            "p99",
            "max",
            "errors",
        ],
    );
    let mut levels = Vec::new();
    let mut summary = Vec::new();
    let mut errors = 0;
    for &concurrency in &opts.concurrency {
        // Warm-up: connections, allocator, caches; not measured.
        let warm = (opts.deliveries / 10).max(BATCH);
        baseline_round(&sink.url(), &tenant, concurrency, warm).await?;
        fair_round(&sink.url(), &tenant, concurrency, warm, &settings).await?;
        delivery_round(&sink.url(), &tenant, concurrency, warm, &settings).await?;

        let mut baseline = Vec::new();
        let mut fair = Vec::new();
        let mut courier = Vec::new();
        for _ in 0..opts.rounds {
            baseline
                .push(baseline_round(&sink.url(), &tenant, concurrency, opts.deliveries).await?);
            fair.push(
                fair_round(
                    &sink.url(),
                    &tenant,
                    concurrency,
                    opts.deliveries,
                    &settings,
                )
                .await?,
            );
            courier.push(
                delivery_round(
                    &sink.url(),
                    &tenant,
                    concurrency,
                    opts.deliveries,
                    &settings,
                )
                .await?,
            );
        }
        let b = PathFigures::of(&baseline);
        let f = PathFigures::of(&fair);
        let c = PathFigures::of(&courier);
        let ratio = c.rate / f.rate;
        let bare_ratio = c.rate / b.rate;
        errors += b.errors + f.errors + c.errors;
        for (name, f) in [
            ("bare reqwest", &b),
            ("fair baseline", &f),
            ("courier delivery", &c),
        ] {
            table.row(vec![
                concurrency.to_string(),
                name.into(),
                thousands(f.rate.round() as u64),
                format!("{:.0} µs", f.cpu_us),
                fmt_ms(f.latencies.percentile(50.0)),
                fmt_ms(f.latencies.percentile(99.0)),
                fmt_ms(f.latencies.max()),
                f.errors.to_string(),
            ]);
        }
        for (name, r, base) in [
            ("ratio courier/fair", ratio, &f),
            ("ratio courier/bare", bare_ratio, &b),
        ] {
            table.row(vec![
                String::new(),
                name.into(),
                format!("{r:.2}"),
                format!("{:.1}x", c.cpu_us / base.cpu_us),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        summary.push(format!(
            "{concurrency} in flight: Courier delivers {} webhooks/s vs {} for the fair baseline \
             (sign, same headers, batches of 10; ratio {ratio:.2}) and {} for a bare reqwest loop \
             (ratio {bare_ratio:.2}); CPU per delivery {:.0} µs vs {:.0} µs (fair) and {:.0} µs (bare); \
             p50/p99 per batch {} / {} vs {} / {} (fair)",
            thousands(c.rate.round() as u64),
            thousands(f.rate.round() as u64),
            thousands(b.rate.round() as u64),
            c.cpu_us,
            f.cpu_us,
            b.cpu_us,
            fmt_ms(c.latencies.percentile(50.0)),
            fmt_ms(c.latencies.percentile(99.0)),
            fmt_ms(f.latencies.percentile(50.0)),
            fmt_ms(f.latencies.percentile(99.0)),
        ));
        levels.push(json!({
            "in_flight": concurrency,
            "bare_reqwest": b.to_json(&baseline),
            "fair_baseline": f.to_json(&fair),
            "courier_delivery": c.to_json(&courier),
            "ratio_deliveries_per_s": ratio,
            "ratio_cpu_per_delivery": c.cpu_us / f.cpu_us,
            "ratio_vs_bare_deliveries_per_s": bare_ratio,
            "ratio_vs_bare_cpu_per_delivery": c.cpu_us / b.cpu_us,
        }));
    }
    table.print();
    println!(
        "  CPU/delivery: process CPU time (user+system, 10 ms ticks) per delivery, the in-process \
         receiver included on every path. Latency: per request (bare), per batch of {BATCH} (fair, courier)."
    );
    let json = json!({
        "description": "Deliverer::handle_batch (sign, POST, record) on EmbeddedStore/EmbeddedQueue vs the fair baseline (courier_delivery::Sender: same envelope, signatures and headers, batches of 10) and a bare reqwest POST loop; same loopback receiver, same process, same requests in flight",
        "deliveries_per_round": opts.deliveries,
        "rounds": opts.rounds,
        "batch_size": BATCH,
        "endpoints": ENDPOINTS,
        "settings": {"allow_private_targets": true, "simple_signature_header": settings.simple_signature_header},
        "logging": "attempt log lines formatted as JSON (as in Lambda) and written to a null sink",
        "levels": levels,
    });
    let problem =
        (errors > 0).then(|| format!("delivery overhead: {errors} requests or deliveries failed"));
    Ok(Outcome {
        json,
        summary,
        problem,
    })
}

/// The figures of one path over its rounds.
struct PathFigures {
    rate: f64,
    cpu_us: f64,
    latencies: Latencies,
    errors: usize,
}

impl PathFigures {
    fn of(rounds: &[Round]) -> Self {
        let mut rates: Vec<f64> = rounds.iter().map(Round::rate).collect();
        rates.sort_by(f64::total_cmp);
        let mut cpu: Vec<f64> = rounds.iter().map(Round::cpu_us_per_delivery).collect();
        cpu.sort_by(f64::total_cmp);
        let mut latencies = Latencies::new();
        for r in rounds {
            latencies.extend(r.latencies.clone());
        }
        Self {
            rate: rates.get(rates.len() / 2).copied().unwrap_or(0.0),
            cpu_us: cpu.get(cpu.len() / 2).copied().unwrap_or(0.0),
            latencies,
            errors: rounds.iter().map(|r| r.failed).sum(),
        }
    }

    fn to_json(&self, rounds: &[Round]) -> Value {
        json!({
            "deliveries_per_s_median": self.rate,
            "cpu_us_per_delivery_median": self.cpu_us,
            "latency": self.latencies.summary(),
            "errors": self.errors,
            "rounds": rounds.iter().map(|r| json!({
                "deliveries": r.ok,
                "seconds": r.elapsed.as_secs_f64(),
                "deliveries_per_s": r.rate(),
                "cpu_us_per_delivery": r.cpu_us_per_delivery(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// `n` POSTs of the delivery bodies by `concurrency` plain request loops.
async fn baseline_round(
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
async fn fair_round(
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
async fn delivery_round(
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
