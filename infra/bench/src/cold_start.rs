//! Benchmark 3, cold start and footprint: each release Lambda binary (`api`,
//! `intake`, `delivery`) is started as Lambda would start it — the Lambda
//! environment variables, the function's own (tables, queue, admin token
//! hash), AWS endpoints pointed at DynamoDB Local and moto, dummy
//! credentials, nothing else — against [`RuntimeApi`]. Measured: time from
//! spawning the process to its first `/next` request (the function's own
//! init: runtime, configuration, SDK clients), the first invocation (a real
//! one: a DynamoDB query, an event stored and fanned out to SQS, a webhook
//! signed and POSTed), peak RSS after it (`VmHWM`), and the binary's size.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use courier::endpoint::Endpoint;
use courier::event_type::EventTypeFilter;
use courier::ids::TenantId;
use courier::message::{DeliveryMessage, Trigger};
use courier::ports::EndpointStore;
use courier_testkit::aws;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::payload::{self, EVENT_TYPE};
use crate::process::{ChildGuard, file_size, memory};
use crate::report::{Latencies, Table, fmt_ms, ms};
use crate::runtime_api::RuntimeApi;
use crate::sink::Sink;
use crate::{BenchResult, Outcome, emulators};

const TENANT: &str = "bench_cold";
/// The bearer token of the sample API events in `events/` (see their README).
const SAMPLE_ADMIN_TOKEN: &str = "local-admin-token";

/// Sizes of the run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Cold starts per function.
    pub runs: usize,
    /// Where the release binaries are.
    pub bin_dir: PathBuf,
    /// The sample events (`events/`).
    pub events_dir: PathBuf,
    /// Where the functions' logs go.
    pub out: PathBuf,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, as in the SAM template.
    pub memory_mb: u32,
}

/// One cold start.
struct Run {
    /// Spawn to first `/next`.
    init: Duration,
    /// Event handed out to answer posted.
    first_invocation: Duration,
    /// `VmHWM` once idle again.
    peak_rss_kib: u64,
    /// The function answered through `/error`.
    error: bool,
    /// What it answered.
    body: String,
}

/// Runs the benchmark and prints its table.
pub async fn run(opts: &Options) -> BenchResult<Outcome> {
    emulators::require()?;
    let sink = Sink::start(false)?;
    let (endpoints_table, deliveries_table) = aws::tables().await;
    let (_, sqs) = aws::clients(None);
    let queue = aws::new_queue(&sqs, Duration::from_secs(60)).await;
    let store = aws::store().await;
    emulators::ensure_event_type(&store).await?;
    let tenant: TenantId = TENANT.parse()?;
    let filter: EventTypeFilter = EVENT_TYPE
        .parse()
        .map_err(|e: courier::event_type::EventTypeError| e.0)?;
    let endpoint = Endpoint::new(
        tenant.clone(),
        sink.url(),
        vec![filter],
        OffsetDateTime::now_utc(),
    );
    store.create_endpoint(&endpoint).await?;

    let admin_hash = hex::encode(Sha256::digest(SAMPLE_ADMIN_TOKEN.as_bytes()));
    let api_event = std::fs::read_to_string(opts.events_dir.join("api-list.json"))
        .map_err(|e| format!("reading {}/api-list.json: {e}", opts.events_dir.display()))?;
    std::fs::create_dir_all(&opts.out)?;

    let mut table = Table::new(
        &format!(
            "3. Cold start and footprint: {}/{{api,intake,delivery}} ({}) against a local Lambda Runtime API, DynamoDB Local + moto; {} cold starts each",
            opts.bin_dir.display(),
            std::env::consts::ARCH,
            opts.runs
        ),
        &[
            "function",
            "binary",
            "init p50",
            "init max",
            "1st invocation p50",
            "peak RSS max",
            "ok",
        ],
    );
    let mut functions = Vec::new();
    let mut summary = Vec::new();
    let mut failures = Vec::new();
    for name in ["api", "intake", "delivery"] {
        let bin = opts.bin_dir.join(name);
        let size = file_size(&bin)?;
        let log_path = opts.out.join(format!("cold-start-{name}.log"));
        let log = File::create(&log_path)?;
        let mut init = Latencies::new();
        let mut invocation = Latencies::new();
        let mut peak_rss = 0u64;
        let mut ok = 0;
        for run in 0..opts.runs {
            let (event, check): (String, Check) = match name {
                "api" => (api_event.clone(), Check::ApiStatus200),
                "intake" => (
                    json!({"tenantId": TENANT, "id": format!("cold-{run}-{}", ulid::Ulid::new()), "type": EVENT_TYPE, "data": serde_json::from_str::<Value>(&payload::booking(run))?}).to_string(),
                    Check::FannedOutToOne,
                ),
                _ => (sqs_event(&DeliveryMessage::new(endpoint.id, Trigger::Event, payload::event(&tenant, run)?)), Check::NoBatchItemFailures),
            };
            let received_before = sink.count();
            let mut env = function_env(
                name,
                opts.memory_mb,
                &endpoints_table,
                &deliveries_table,
                &queue.queue_url,
                &admin_hash,
            )?;
            // The secrets key, as the template gives the api and delivery
            // functions (intake has none).
            if name != "intake" {
                env.extend(aws::secrets_env().await);
            }
            let sample = cold_start(&bin, name, event, &env, &log).await?;
            let answered_ok = !sample.error && check.passes(&sample.body);
            let delivered_ok = name != "delivery" || sink.count() > received_before;
            init.push(sample.init);
            invocation.push(sample.first_invocation);
            peak_rss = peak_rss.max(sample.peak_rss_kib);
            if answered_ok && delivered_ok {
                ok += 1;
            } else {
                failures.push(format!(
                    "{name} run {run}: answered {}",
                    truncate(&sample.body, 300)
                ));
            }
        }
        table.row(vec![
            name.into(),
            format!("{:.1} MiB", size as f64 / 1_048_576.0),
            fmt_ms(init.percentile(50.0)),
            fmt_ms(init.max()),
            fmt_ms(invocation.percentile(50.0)),
            format!("{:.1} MiB", peak_rss as f64 / 1024.0),
            format!("{ok}/{}", opts.runs),
        ]);
        summary.push(format!(
            "`{name}`: {:.1} MiB binary, init p50 {} (max {}), first invocation p50 {}, peak RSS {:.1} MiB",
            size as f64 / 1_048_576.0,
            fmt_ms(init.percentile(50.0)),
            fmt_ms(init.max()),
            fmt_ms(invocation.percentile(50.0)),
            peak_rss as f64 / 1024.0,
        ));
        functions.push(json!({
            "function": name,
            "binary_bytes": size,
            "init": init.summary(),
            "init_p50_ms": ms(init.percentile(50.0)),
            "first_invocation": invocation.summary(),
            "peak_rss_kib_max": peak_rss,
            "runs_ok": ok,
            "runs": opts.runs,
            "log": log_path.display().to_string(),
        }));
    }
    table.print();
    println!(
        "  init = process spawn -> first GET /runtime/invocation/next; 1st invocation = event handed out -> response posted \
         (includes the first calls to the emulators); peak RSS = VmHWM after the invocation. Lambda's own start-up \
         (sandbox, code download) is not included."
    );
    for f in &failures {
        println!("  FAILED {f}");
    }
    let json = json!({
        "description": "release Lambda binaries started against a local Lambda Runtime API; init = spawn -> first /next; peak RSS = VmHWM after one invocation",
        "arch": std::env::consts::ARCH,
        "memory_size_mb": opts.memory_mb,
        "functions": functions,
        "failures": failures,
    });
    let problem =
        (!failures.is_empty()).then(|| format!("cold start: {} runs failed", failures.len()));
    Ok(Outcome {
        json,
        summary,
        problem,
    })
}

/// What a successful first invocation answers.
enum Check {
    ApiStatus200,
    FannedOutToOne,
    NoBatchItemFailures,
}

impl Check {
    fn passes(&self, body: &str) -> bool {
        let Ok(v) = serde_json::from_str::<Value>(body) else {
            return false;
        };
        match self {
            Self::ApiStatus200 => v["statusCode"] == 200,
            Self::FannedOutToOne => v["endpoints"] == 1,
            Self::NoBatchItemFailures => {
                v["batchItemFailures"].as_array().is_some_and(Vec::is_empty)
            }
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Starts `bin` as a fresh function instance and measures it.
async fn cold_start(
    bin: &Path,
    name: &str,
    event: String,
    env: &[(String, String)],
    log: &File,
) -> BenchResult<Run> {
    let api = RuntimeApi::start(event, &format!("courier-{name}")).await?;
    let mut command = Command::new(bin);
    command
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?);
    let spawned = Instant::now();
    let child = ChildGuard::spawn(command)?;
    let first = api.nth_next(1, Duration::from_secs(20)).await?;
    let answer = api.answer(Duration::from_secs(30)).await?;
    // The next /next means the invocation is over and the instance is idle.
    api.nth_next(2, Duration::from_secs(10)).await?;
    let mem = memory(child.id())?;
    drop(child);
    Ok(Run {
        init: first.duration_since(spawned),
        first_invocation: answer.at.saturating_duration_since(first),
        peak_rss_kib: mem.peak_rss_kib,
        error: answer.error,
        body: answer.body,
    })
}

/// The environment Lambda gives the function, plus the function's own.
fn function_env(
    name: &str,
    memory_mb: u32,
    endpoints_table: &str,
    deliveries_table: &str,
    queue_url: &str,
    admin_hash: &str,
) -> BenchResult<Vec<(String, String)>> {
    let (dynamodb, sqs) = emulators::endpoints()?;
    let function = format!("courier-{name}");
    let pairs = [
        ("AWS_LAMBDA_FUNCTION_NAME", function.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "courier-bench".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb),
        ("AWS_ENDPOINT_URL_SQS", sqs),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("ENDPOINTS_TABLE", endpoints_table.into()),
        ("DELIVERIES_TABLE", deliveries_table.into()),
        ("DELIVERY_QUEUE_URL", queue_url.into()),
        ("ADMIN_TOKEN_SHA256", admin_hash.into()),
        // The receiver is on loopback.
        ("ALLOW_PRIVATE_TARGETS", "true".into()),
        ("TZ", ":UTC".into()),
    ];
    Ok(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// An SQS event source event holding one delivery message.
fn sqs_event(message: &DeliveryMessage) -> String {
    let now_ms = OffsetDateTime::now_utc().unix_timestamp() * 1000;
    json!({"Records": [{
        "messageId": ulid::Ulid::new().to_string(),
        "receiptHandle": format!("bench-receipt-{}", ulid::Ulid::new()),
        "body": message.to_json(),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now_ms.to_string(),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": now_ms.to_string(),
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:courier-deliveries",
        "awsRegion": "us-east-1",
    }]})
    .to_string()
}
