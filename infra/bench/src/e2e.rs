//! Benchmark 2, end-to-end latency: the release `courier-local` binary (API,
//! intake and delivery in one process on the embedded backends, exactly as a
//! developer runs it) is started on a free port; one endpoint points at a
//! loopback receiver that notes each `webhook-id` with its arrival time;
//! events are published over HTTP at a steady rate (open loop: each request
//! leaves at its scheduled time whatever the previous ones are doing).
//! Latency is from the moment the intake request is sent to the first
//! arrival of that event at the receiver; every event must arrive exactly
//! once.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::payload::{self, EVENT_TYPE};
use crate::process::{ChildGuard, free_port, memory};
use crate::report::{Latencies, Table, fmt_ms, ms, thousands};
use crate::sink::Sink;
use crate::{BenchResult, Outcome};

/// The admin token the server is started with.
const TOKEN: &str = "bench-e2e-admin-token";
const TENANT: &str = "bench_e2e";
/// Events sent (and awaited) before the measured run.
const WARM_UP: usize = 50;
/// How long to keep listening for duplicates after the last arrival.
const DUPLICATE_GRACE: Duration = Duration::from_secs(2);
/// How long after the last publish every event must have arrived.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Sizes of the run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events per second.
    pub rate: u32,
    /// Seconds of publishing.
    pub seconds: u32,
    /// Where `courier-local` is.
    pub bin_dir: PathBuf,
    /// Where the server's log goes.
    pub out: PathBuf,
}

/// One publish: when it left, how long the intake took, what it answered.
struct Sent {
    id: String,
    lag: Duration,
    sent: Instant,
    response: Duration,
    status: u16,
}

/// Runs the benchmark and prints its table.
pub async fn run(opts: &Options) -> BenchResult<Outcome> {
    if opts.rate == 0 || opts.seconds == 0 {
        return Err("the end-to-end rate and duration must be positive".into());
    }
    let sink = Sink::start(true)?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    std::fs::create_dir_all(&opts.out)?;
    let log_path = opts.out.join("e2e-courier-local.log");
    let log = File::create(&log_path)?;
    let mut command = Command::new(opts.bin_dir.join("courier-local"));
    command
        .arg("serve")
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("ADMIN_TOKEN", TOKEN)
        // The server's own defaults: info logs, private targets allowed.
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
    wait_until_ready(&client, &base, TOKEN, &mut server).await?;

    let created = client
        .post(format!("{base}/v1/tenants/{TENANT}/endpoints"))
        .bearer_auth(TOKEN)
        .json(&json!({"url": sink.url(), "eventTypes": [EVENT_TYPE], "description": "courier-bench end-to-end"}))
        .send()
        .await?;
    if created.status().as_u16() != 201 {
        return Err(format!("creating the endpoint answered {}", created.status()).into());
    }

    for i in 0..WARM_UP {
        publish(&client, &base, (TOKEN, TENANT), &format!("warm-{i}"), i).await?;
    }
    wait_for_count(&sink, WARM_UP as u64, Duration::from_secs(30)).await?;

    let total = (opts.rate as usize) * (opts.seconds as usize);
    let period = Duration::from_secs(1) / opts.rate;
    let url = format!("{base}/v1/tenants/{TENANT}/events");
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let scheduled = start + period * i as u32;
        tokio::time::sleep_until(scheduled).await;
        let lag = tokio::time::Instant::now().saturating_duration_since(scheduled);
        let (client, url) = (client.clone(), url.clone());
        let id = format!("e2e-{i:06}");
        let body = json!({"id": id, "type": EVENT_TYPE, "data": serde_json::value::RawValue::from_string(payload::booking(i))?}).to_string();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let result = client
                .post(&url)
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let status = match result {
                Ok(r) => {
                    let s = r.status().as_u16();
                    let _ = r.bytes().await;
                    s
                }
                Err(_) => 0,
            };
            Sent {
                id,
                lag,
                sent,
                response: sent.elapsed(),
                status,
            }
        }));
    }
    let mut sent = Vec::with_capacity(total);
    for t in tasks {
        sent.push(t.await?);
    }
    let publish_span = match (sent.first(), sent.last()) {
        (Some(a), Some(b)) => b.sent.duration_since(a.sent),
        _ => Duration::ZERO,
    };
    let accepted = sent.iter().filter(|s| s.status == 202).count();
    let expected = WARM_UP as u64 + accepted as u64;
    let drained = wait_for_count(&sink, expected, DRAIN_TIMEOUT).await.is_ok();
    tokio::time::sleep(DUPLICATE_GRACE).await;
    let server_memory = memory(server.id()).ok();
    drop(server);

    // First arrival and number of arrivals of each measured event.
    let mut arrivals: HashMap<String, (Instant, usize)> = HashMap::new();
    for a in sink.arrivals() {
        if !a.id.starts_with("e2e-") {
            continue;
        }
        let entry = arrivals.entry(a.id).or_insert((a.at, 0));
        entry.0 = entry.0.min(a.at);
        entry.1 += 1;
    }
    let mut latency = Latencies::new();
    let mut intake = Latencies::new();
    let mut lag = Latencies::new();
    let mut missing = 0usize;
    for s in &sent {
        intake.push(s.response);
        lag.push(s.lag);
        match arrivals.get(&s.id) {
            Some((at, _)) => latency.push(at.saturating_duration_since(s.sent)),
            None if s.status == 202 => missing += 1,
            None => {}
        }
    }
    let duplicates: usize = arrivals.values().map(|(_, n)| n - 1).sum();
    let achieved = if publish_span.is_zero() {
        0.0
    } else {
        (total - 1) as f64 / publish_span.as_secs_f64()
    };
    // The schedule held when 99% of requests left within 10 ms of their time.
    let sustained = lag.percentile(99.0) <= Duration::from_millis(10);
    let exactly_once = accepted == total && missing == 0 && duplicates == 0 && drained;

    let mut table = Table::new(
        &format!(
            "2. End-to-end: {}, intake request -> receipt at a loopback receiver, {} events/s for {} s",
            opts.bin_dir.join("courier-local").display(),
            opts.rate,
            opts.seconds
        ),
        &["measure", "value"],
    );
    let mut row = |k: &str, v: String| table.row(vec![k.into(), v]);
    row("events published", thousands(total as u64));
    row("publish rate achieved", format!("{achieved:.1}/s"));
    row(
        "publish lag p99 / max",
        format!("{} / {}", fmt_ms(lag.percentile(99.0)), fmt_ms(lag.max())),
    );
    row("intake answered 202", thousands(accepted as u64));
    row(
        "intake response p50 / p99",
        format!(
            "{} / {}",
            fmt_ms(intake.percentile(50.0)),
            fmt_ms(intake.percentile(99.0))
        ),
    );
    row("events received", thousands(arrivals.len() as u64));
    row("missing / duplicates", format!("{missing} / {duplicates}"));
    row(
        "exactly once",
        if exactly_once {
            "yes".into()
        } else {
            "NO".into()
        },
    );
    row("latency p50", fmt_ms(latency.percentile(50.0)));
    row("latency p99", fmt_ms(latency.percentile(99.0)));
    row("latency max", fmt_ms(latency.max()));
    if let Some(m) = server_memory {
        row(
            "server peak RSS",
            format!("{:.1} MiB", m.peak_rss_kib as f64 / 1024.0),
        );
    }
    table.print();
    println!("  server log: {}", log_path.display());
    if !sustained {
        println!(
            "  NOTE: the publisher fell behind its schedule (p99 lag over 10 ms): the rate was not sustained on this machine"
        );
    }

    let summary = vec![format!(
        "{} events/s for {} s through courier-local: latency p50 {}, p99 {}, max {}; {} of {} received exactly once{}",
        opts.rate,
        opts.seconds,
        fmt_ms(latency.percentile(50.0)),
        fmt_ms(latency.percentile(99.0)),
        fmt_ms(latency.max()),
        thousands((arrivals.len() - duplicates.min(arrivals.len())) as u64),
        thousands(total as u64),
        if exactly_once {
            ""
        } else {
            " (NOT exactly once: see the table)"
        },
    )];
    let json = json!({
        "description": "courier-local release binary; HTTP intake at a steady open-loop rate; latency = intake request sent -> first arrival at a loopback receiver",
        "rate_per_s": opts.rate,
        "seconds": opts.seconds,
        "events": total,
        "publish_rate_achieved_per_s": achieved,
        "publish_lag": lag.summary(),
        "rate_sustained": sustained,
        "intake_accepted": accepted,
        "intake_response": intake.summary(),
        "received_distinct": arrivals.len(),
        "missing": missing,
        "duplicates": duplicates,
        "exactly_once": exactly_once,
        "latency": latency.summary(),
        "latency_p50_ms": ms(latency.percentile(50.0)),
        "server_peak_rss_kib": server_memory.map(|m| m.peak_rss_kib),
    });
    let problem = (!exactly_once).then(|| {
        format!(
            "end-to-end: {accepted} of {total} accepted, {missing} missing, {duplicates} duplicates (server log: {})",
            log_path.display()
        )
    });
    Ok(Outcome {
        json,
        summary,
        problem,
    })
}

/// Publishes booking event `i` as `id` for `tenant`; an error unless 202.
pub(crate) async fn publish(
    client: &reqwest::Client,
    base: &str,
    (token, tenant): (&str, &str),
    id: &str,
    i: usize,
) -> BenchResult<()> {
    let body = json!({"id": id, "type": EVENT_TYPE, "data": serde_json::value::RawValue::from_string(payload::booking(i))?});
    let r = client
        .post(format!("{base}/v1/tenants/{tenant}/events"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    if r.status().as_u16() != 202 {
        return Err(format!("publishing {id} answered {}", r.status()).into());
    }
    Ok(())
}

/// Waits until the server at `base` answers an authorised read.
pub(crate) async fn wait_until_ready(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    server: &mut ChildGuard,
) -> BenchResult<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if server.has_exited() {
            return Err(
                "courier-local exited at start-up (see its log under the output directory)".into(),
            );
        }
        let ready = client
            .get(format!("{base}/v1/event-types"))
            .bearer_auth(token)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("courier-local did not answer within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_count(sink: &Sink, n: u64, timeout: Duration) -> BenchResult<()> {
    let deadline = Instant::now() + timeout;
    while sink.count() < n {
        if Instant::now() > deadline {
            return Err(format!(
                "the receiver got {} of {n} webhooks within {timeout:?}",
                sink.count()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
