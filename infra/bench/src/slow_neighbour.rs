//! Benchmark 6, a slow neighbour: what one tenant's slow endpoint does to
//! another tenant's deliveries on the release `courier-local` (the issue
//! "Endpoint outages" measured p95 1.3 ms → 4,294 ms before the circuit
//! breaker). Two runs, each on a fresh server with `DELIVERY_TIMEOUT_MS`
//! 1500: 200 events to a healthy endpoint of tenant A alone, then the same
//! 200 interleaved with 200 to tenant B's endpoint, which answers after 3 s
//! (so every attempt to it times out). Latency is from the intake request
//! to the event's first arrival at A's receiver.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use serde_json::json;

use crate::e2e::publish;
use crate::payload::EVENT_TYPE;
use crate::process::{ChildGuard, free_port};
use crate::report::{Latencies, Table, fmt_ms, ms};
use crate::server::Background;
use crate::sink::Sink;
use crate::{BenchResult, Outcome};

const TOKEN: &str = "bench-slow-neighbour-token";
const HEALTHY: &str = "bench_healthy";
const SLOW: &str = "bench_slow";
/// Events to each endpoint.
const EVENTS: usize = 200;
/// Events per second to each endpoint.
const RATE: u32 = 50;
/// How long B's receiver takes to answer, and the delivery timeout.
const SLOW_ANSWER: Duration = Duration::from_secs(3);
const DELIVERY_TIMEOUT_MS: &str = "1500";

/// Where the binary is and where its logs go.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where `courier-local` is.
    pub bin_dir: PathBuf,
    /// Where the servers' logs go.
    pub out: PathBuf,
}

/// One run's figures for the healthy tenant.
struct Run {
    latency: Latencies,
    missing: usize,
    slow_requests: u64,
}

/// Runs both halves and prints them side by side.
pub async fn run(opts: &Options) -> BenchResult<Outcome> {
    let alone = one_run(opts, false).await?;
    let beside = one_run(opts, true).await?;
    let p95 = |r: &Run| r.latency.percentile(95.0);
    let ratio = p95(&beside).as_secs_f64() / p95(&alone).as_secs_f64().max(1e-6);
    let mut table = Table::new(
        &format!(
            "6. Slow neighbour: tenant A's publish -> receipt, {EVENTS} events at {RATE}/s, alone and beside tenant B's endpoint that answers after {} s (DELIVERY_TIMEOUT_MS {DELIVERY_TIMEOUT_MS})",
            SLOW_ANSWER.as_secs()
        ),
        &["run", "p50", "p95", "max", "A missing", "POSTs to B"],
    );
    for (name, r) in [("A alone", &alone), ("A beside slow B", &beside)] {
        table.row(vec![
            name.into(),
            fmt_ms(r.latency.percentile(50.0)),
            fmt_ms(p95(r)),
            fmt_ms(r.latency.max()),
            r.missing.to_string(),
            r.slow_requests.to_string(),
        ]);
    }
    table.print();
    println!("  p95 beside the slow endpoint / alone: {ratio:.2}×");
    let summary = vec![format!(
        "tenant A beside tenant B's 3 s endpoint: p95 {} (alone {}, {ratio:.2}×), p50 {} (alone {}); {} POSTs to B for {EVENTS} events",
        fmt_ms(p95(&beside)),
        fmt_ms(p95(&alone)),
        fmt_ms(beside.latency.percentile(50.0)),
        fmt_ms(alone.latency.percentile(50.0)),
        beside.slow_requests,
    )];
    let missing = alone.missing + beside.missing;
    Ok(Outcome {
        json: json!({
            "description": "courier-local release; tenant A's latency from publish to receipt, alone and beside tenant B's endpoint that answers after 3 s",
            "events_per_endpoint": EVENTS,
            "rate_per_s": RATE,
            "delivery_timeout_ms": DELIVERY_TIMEOUT_MS,
            "alone": alone.latency.summary(),
            "beside_slow": beside.latency.summary(),
            "p95_alone_ms": ms(p95(&alone)),
            "p95_beside_slow_ms": ms(p95(&beside)),
            "p95_ratio": ratio,
            "posts_to_slow_endpoint": beside.slow_requests,
            "missing": missing,
        }),
        summary,
        problem: (missing > 0)
            .then(|| format!("slow neighbour: {missing} of tenant A's events never arrived")),
    })
}

async fn one_run(opts: &Options, with_slow: bool) -> BenchResult<Run> {
    let sink = Sink::start(true)?;
    let slow_requests = Arc::new(AtomicU64::new(0));
    let counted = slow_requests.clone();
    let slow = Background::start(
        Router::new().fallback(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(SLOW_ANSWER).await;
                StatusCode::OK
            }
        }),
        "bench-slow-receiver",
    )?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    std::fs::create_dir_all(&opts.out)?;
    let log = File::create(opts.out.join(format!(
        "slow-neighbour-{}.log",
        if with_slow { "beside" } else { "alone" }
    )))?;
    let mut command = Command::new(opts.bin_dir.join("courier-local"));
    command
        .arg("serve")
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("ADMIN_TOKEN", TOKEN)
        .env("DELIVERY_TIMEOUT_MS", DELIVERY_TIMEOUT_MS)
        .env_remove("RUST_LOG")
        .env_remove("ALLOW_PRIVATE_TARGETS")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut server = ChildGuard::spawn(command)?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()?;
    crate::e2e::wait_until_ready(&client, &base, TOKEN, &mut server).await?;
    let slow_url = format!("http://{}/webhook", slow.addr());
    for (tenant, url) in [(HEALTHY, sink.url()), (SLOW, slow_url)] {
        let r = client
            .post(format!("{base}/v1/tenants/{tenant}/endpoints"))
            .bearer_auth(TOKEN)
            .json(&json!({"url": url, "eventTypes": [EVENT_TYPE]}))
            .send()
            .await?;
        if r.status().as_u16() != 201 {
            return Err(format!("creating {tenant}'s endpoint answered {}", r.status()).into());
        }
    }
    // Warm the server and A's connection.
    for i in 0..20 {
        publish(&client, &base, (TOKEN, HEALTHY), &format!("warm-{i}"), i).await?;
    }
    wait_for(&sink, 20, Duration::from_secs(30)).await;

    let period = Duration::from_secs(1) / RATE;
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut sent = HashMap::with_capacity(EVENTS);
    for i in 0..EVENTS {
        tokio::time::sleep_until(start + period * i as u32).await;
        let id = format!("a-{i:04}");
        sent.insert(id.clone(), Instant::now());
        publish(&client, &base, (TOKEN, HEALTHY), &id, i).await?;
        if with_slow {
            tokio::time::sleep_until(start + period * i as u32 + period / 2).await;
            publish(&client, &base, (TOKEN, SLOW), &format!("b-{i:04}"), i).await?;
        }
    }
    wait_for(&sink, (20 + EVENTS) as u64, Duration::from_secs(60)).await;
    drop(server);
    let mut first: HashMap<String, Instant> = HashMap::new();
    for a in sink.arrivals() {
        let at = first.entry(a.id).or_insert(a.at);
        *at = (*at).min(a.at);
    }
    let mut latency = Latencies::new();
    let mut missing = 0;
    for (id, at) in &sent {
        match first.get(id) {
            Some(arrived) => latency.push(arrived.saturating_duration_since(*at)),
            None => missing += 1,
        }
    }
    Ok(Run {
        latency,
        missing,
        slow_requests: slow_requests.load(Ordering::SeqCst),
    })
}

/// Waits until `n` requests arrived, or `timeout` (the missing are counted).
async fn wait_for(sink: &Sink, n: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while sink.count() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
