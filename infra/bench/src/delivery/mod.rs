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

mod rounds;

use serde_json::{Value, json};

use crate::report::{Latencies, Table, fmt_ms, thousands};
use crate::sink::Sink;
use crate::{BenchResult, Outcome};
use courier::config::Settings;
use courier::ids::TenantId;
use rounds::{Round, baseline_round, delivery_round, fair_round};

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
