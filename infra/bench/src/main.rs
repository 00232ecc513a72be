//! `courier-bench`: Courier's benchmarks, each printing a table and writing
//! `<out>/<name>.json`, then `<out>/summary.md` with the headline figures.
//! `infra/bench.sh` installs the emulators, builds the release binaries and
//! runs them all; this binary runs any of them given what they need.
//!
//! 1. `delivery`   delivery path vs a bare reqwest loop (embedded backends)
//! 2. `e2e`        intake-to-receipt latency through the local server
//! 3. `cold-start` Lambda binaries: init time, peak RSS, size
//! 4. `aws-cost`   AWS calls and dollars per delivery (DynamoDB Local + moto)
//! 5. `fan-out`    one event to 1,000 and 10,000 endpoints
//! 6. `slow-neighbour` one tenant's latency beside another's slow endpoint
//!
//! Wiring only; each benchmark is its own module.

mod aws_cost;
mod capacity;
mod cold_start;
mod delivery;
mod e2e;
mod emulators;
mod fan_out;
mod log_bytes;
mod metered;
mod payload;
mod prices;
mod process;
mod report;
mod runtime_api;
mod server;
mod sink;
mod slow_neighbour;
mod sqs_stub;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use serde_json::Value;

/// Errors of the benchmarks: a readable reason, no recovery.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What a benchmark produced.
pub struct Outcome {
    /// Written to `<out>/<name>.json`.
    pub json: Value,
    /// Headline lines for `summary.md`.
    pub summary: Vec<String>,
    /// Set when the figures came with a failed check (lost events, errors).
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Bench {
    Delivery,
    E2e,
    ColdStart,
    AwsCost,
    FanOut,
    SlowNeighbour,
}

impl Bench {
    const ALL: [Bench; 6] = [
        Self::Delivery,
        Self::E2e,
        Self::ColdStart,
        Self::AwsCost,
        Self::FanOut,
        Self::SlowNeighbour,
    ];

    fn file_name(self) -> &'static str {
        match self {
            Self::Delivery => "delivery_overhead",
            Self::E2e => "end_to_end",
            Self::ColdStart => "cold_start",
            Self::AwsCost => "aws_cost",
            Self::FanOut => "fan_out",
            Self::SlowNeighbour => "slow_neighbour",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Delivery => "Delivery overhead",
            Self::E2e => "End-to-end latency",
            Self::ColdStart => "Cold start and footprint",
            Self::AwsCost => "AWS calls and cost",
            Self::FanOut => "Fan-out",
            Self::SlowNeighbour => "Slow neighbour",
        }
    }
}

#[derive(Debug, Parser)]
#[command(about = "Courier's benchmarks (run them all with infra/bench.sh)")]
struct Cli {
    /// Benchmarks to run, in order; all six when none is named.
    #[arg(value_enum)]
    benches: Vec<Bench>,
    /// Where the JSON files, logs and summary go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Where the release binaries (api, intake, delivery, courier-local) are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// The SAM template (Lambda memory size).
    #[arg(long, default_value = "template.yaml")]
    template: PathBuf,
    /// The sample events directory (the API cold start uses api-list.json).
    #[arg(long, default_value = "events")]
    events_dir: PathBuf,
    /// Delivery overhead: deliveries per round and path.
    #[arg(long, default_value_t = 20_000)]
    deliveries: usize,
    /// Delivery overhead: measured rounds per path.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Delivery overhead: requests in flight (multiples of 10).
    #[arg(long, value_delimiter = ',', default_value = "10,50")]
    concurrency: Vec<usize>,
    /// End-to-end: events per second.
    #[arg(long, default_value_t = 500)]
    e2e_rate: u32,
    /// End-to-end: seconds of publishing.
    #[arg(long, default_value_t = 20)]
    e2e_seconds: u32,
    /// Cold start: starts per function.
    #[arg(long, default_value_t = 5)]
    cold_runs: usize,
    /// AWS cost: events published on each success scenario.
    #[arg(long, default_value_t = 200)]
    cost_events: usize,
    /// AWS cost: events published on the failure path (3 attempts each).
    #[arg(long, default_value_t = 100)]
    cost_failure_events: usize,
    /// AWS cost: endpoints subscribed on the fan-out scenarios.
    #[arg(long, default_value_t = 5)]
    cost_endpoints: usize,
    /// AWS cost: tenants of the mixed scenario (one endpoint each).
    #[arg(long, default_value_t = 100)]
    cost_tenants: usize,
    /// AWS cost: delivery invocations at a time.
    #[arg(long, default_value_t = 4)]
    cost_pollers: usize,
    /// AWS cost: events published before their deliveries are played.
    #[arg(long, default_value_t = 20)]
    cost_wave: usize,
    /// AWS cost: waves played between two reads of the deliveries table's
    /// stream (its entries then counted 1,000 at most per invocation).
    #[arg(long, default_value_t = 1)]
    cost_count_waves: usize,
    /// Fan-out: endpoint counts.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    fan_out: Vec<usize>,
    /// Fan-out: publishes per size and SQS backend.
    #[arg(long, default_value_t = 3)]
    fan_out_runs: usize,
    /// Fan-out: largest fan-out sent to moto (its cost grows with queue depth).
    #[arg(long, default_value_t = 1000)]
    fan_out_moto_max: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The functions log JSON lines (failed attempts, faults); format them as
    // they do, into a writer that counts the bytes CloudWatch Logs would
    // ingest and discards them, so the delivery path pays for its logging.
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(log_bytes::log_lines)
        .init();
    let benches: Vec<Bench> = if cli.benches.is_empty() {
        Bench::ALL.to_vec()
    } else {
        cli.benches.clone()
    };
    let started = Instant::now();
    let mut done: Vec<(Bench, Outcome, f64)> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for bench in benches {
        let t = Instant::now();
        println!("\n=== {} ===", bench.title());
        match run(bench, &cli).await {
            Ok(mut outcome) => {
                let seconds = t.elapsed().as_secs_f64();
                if let Value::Object(map) = &mut outcome.json {
                    map.insert("seconds".into(), serde_json::json!(seconds));
                }
                if let Err(e) =
                    report::write_json(&cli.out, bench.file_name(), outcome.json.clone())
                {
                    failed.push(format!("{}: {e}", bench.title()));
                }
                if let Some(problem) = &outcome.problem {
                    eprintln!("CHECK FAILED: {problem}");
                    failed.push(problem.clone());
                }
                println!("  ({seconds:.0} s)");
                done.push((bench, outcome, seconds));
            }
            Err(e) => {
                eprintln!("FAILED: {}: {e}", bench.title());
                failed.push(format!("{}: {e}", bench.title()));
            }
        }
    }
    let total = started.elapsed().as_secs_f64();
    match write_summary(&cli, &done, &failed, total) {
        Ok(path) => println!("\nsummary: {} ({total:.0} s of benchmarks)", path.display()),
        Err(e) => failed.push(format!("summary: {e}")),
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("\n{} problem(s):", failed.len());
        for f in &failed {
            eprintln!("  - {f}");
        }
        ExitCode::FAILURE
    }
}

async fn run(bench: Bench, cli: &Cli) -> BenchResult<Outcome> {
    match bench {
        Bench::Delivery => {
            delivery::run(&delivery::Options {
                deliveries: cli.deliveries,
                rounds: cli.rounds,
                concurrency: cli.concurrency.clone(),
            })
            .await
        }
        Bench::E2e => {
            e2e::run(&e2e::Options {
                rate: cli.e2e_rate,
                seconds: cli.e2e_seconds,
                bin_dir: cli.bin_dir.clone(),
                out: cli.out.clone(),
            })
            .await
        }
        Bench::ColdStart => {
            cold_start::run(&cold_start::Options {
                runs: cli.cold_runs,
                bin_dir: cli.bin_dir.clone(),
                events_dir: cli.events_dir.clone(),
                out: cli.out.clone(),
                memory_mb: prices::lambda_memory_mb(&cli.template)?,
            })
            .await
        }
        Bench::AwsCost => {
            aws_cost::run(&aws_cost::Options {
                events: cli.cost_events,
                failure_events: cli.cost_failure_events,
                endpoints: cli.cost_endpoints,
                tenants: cli.cost_tenants,
                pollers: cli.cost_pollers,
                wave: cli.cost_wave,
                count_waves: cli.cost_count_waves,
                memory_mb: prices::lambda_memory_mb(&cli.template)?,
            })
            .await
        }
        Bench::FanOut => {
            fan_out::run(&fan_out::Options {
                sizes: cli.fan_out.clone(),
                runs: cli.fan_out_runs,
                moto_max: cli.fan_out_moto_max,
            })
            .await
        }
        Bench::SlowNeighbour => {
            slow_neighbour::run(&slow_neighbour::Options {
                bin_dir: cli.bin_dir.clone(),
                out: cli.out.clone(),
            })
            .await
        }
    }
}

/// `<out>/summary.md`: the machine and each benchmark's headline lines.
fn write_summary(
    cli: &Cli,
    done: &[(Bench, Outcome, f64)],
    failed: &[String],
    total_seconds: f64,
) -> BenchResult<PathBuf> {
    let m = report::machine();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Figures from `infra/bench.sh` on {} ({} vCPU, {} GiB, {} {}), commit {}, {}; benchmarks took {:.0} s.\n",
        m["cpu_model"].as_str().unwrap_or("?"),
        m["cpus"],
        m["memory_gib"],
        m["arch"].as_str().unwrap_or("?"),
        m["kernel"].as_str().unwrap_or("?"),
        m["commit"].as_str().unwrap_or("?"),
        m["taken_at"].as_str().unwrap_or("?"),
        total_seconds,
    );
    for (bench, outcome, seconds) in done {
        let _ = writeln!(text, "**{}** ({seconds:.0} s)\n", bench.title());
        for line in &outcome.summary {
            let _ = writeln!(text, "- {line}");
        }
        text.push('\n');
    }
    for f in failed {
        let _ = writeln!(text, "- FAILED: {f}");
    }
    std::fs::create_dir_all(&cli.out)?;
    let path = cli.out.join("summary.md");
    std::fs::write(&path, text)?;
    Ok(path)
}
