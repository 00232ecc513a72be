//! Benchmark 5, fan-out: one event for a tenant with 1,000 (and 10,000)
//! subscribed endpoints through `Intake::publish` on DynamoDB Local: the
//! time of the publish and the calls it makes (the subscription query's
//! pages, one `SendMessageBatch` per 10 messages). SQS is moto (a fresh
//! queue per publish, up to `moto_max` endpoints) and an instant stand-in
//! ([`SqsStub`]) that shows Courier's own time without moto's. Creating the
//! endpoints is set-up, done in parallel and timed apart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use courier::config::Settings;
use courier::endpoint::Endpoint;
use courier::event_type::{EventTypeError, EventTypeFilter};
use courier::ids::TenantId;
use courier::ports::EndpointStore;
use courier_aws::{DynamoStore, SqsQueue};
use courier_intake::{Intake, PublishRequest};
use courier_testkit::aws;
use futures::StreamExt;
use serde_json::json;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::metered::Metered;
use crate::payload::{self, EVENT_TYPE};
use crate::report::{Latencies, Table, fmt_ms, ms, thousands};
use crate::sqs_stub::SqsStub;
use crate::{BenchResult, Outcome, emulators};

/// Publishes on moto: its time is mostly moto's own, one shows it.
const MOTO_RUNS: usize = 1;
/// Endpoints created at a time during set-up.
const CREATE_CONCURRENCY: usize = 32;

/// Sizes of the run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Endpoints per tenant, one tenant per size.
    pub sizes: Vec<usize>,
    /// Publishes per size and SQS backend.
    pub runs: usize,
    /// Largest fan-out sent to moto (see [`crate::sqs_stub`] for why).
    pub moto_max: usize,
}

/// Where the messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// moto's SQS: a fresh queue per publish.
    Moto,
    /// The in-process stand-in that accepts batches at once.
    Stub,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Self::Moto => "moto",
            Self::Stub => "stand-in",
        }
    }
}

/// Runs the benchmark and prints its table.
pub async fn run(opts: &Options) -> BenchResult<Outcome> {
    emulators::require()?;
    let stub = SqsStub::start()?;
    let mut table = Table::new(
        &format!(
            "5. Fan-out: one event to N endpoints through Intake::publish on DynamoDB Local, with moto ({MOTO_RUNS} publish) or an instant SQS stand-in ({} publishes)",
            opts.runs
        ),
        &[
            "endpoints",
            "SQS",
            "publish p50",
            "publish max",
            "SendMessageBatch",
            "SQS billed req",
            "DynamoDB calls",
            "messages",
            "set-up",
        ],
    );
    let mut rows = Vec::new();
    let mut summary = Vec::new();
    let mut problems = Vec::new();
    for &size in &opts.sizes {
        let (tenant, setup) = create_endpoints(size).await?;
        for backend in [Backend::Moto, Backend::Stub] {
            if backend == Backend::Moto && size > opts.moto_max {
                table.row(vec![
                    thousands(size as u64),
                    "moto".into(),
                    "not run".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
                rows.push(json!({"endpoints": size, "sqs": "moto", "skipped": format!("moto's SendMessage cost grows with queue depth; larger than --fan-out-moto-max {}", opts.moto_max)}));
                continue;
            }
            let runs = match backend {
                Backend::Moto => MOTO_RUNS,
                Backend::Stub => opts.runs,
            };
            let r = publish_runs(size, backend, runs, &tenant, &stub).await?;
            table.row(vec![
                thousands(size as u64),
                backend.name().into(),
                fmt_ms(r.publish.percentile(50.0)),
                fmt_ms(r.publish.max()),
                thousands(r.send_batches),
                thousands(r.sqs_billed),
                format!("{} ({})", r.dynamodb_calls, r.dynamodb_detail),
                thousands(r.messages),
                format!("{:.1} s", setup.as_secs_f64()),
            ]);
            summary.push(format!(
                "One event to {} endpoints ({}): publish p50 {} (max {}), {} SendMessageBatch calls, {} DynamoDB calls",
                thousands(size as u64),
                match backend {
                    Backend::Moto => "DynamoDB Local + moto",
                    Backend::Stub => "DynamoDB Local + instant SQS stand-in",
                },
                fmt_ms(r.publish.percentile(50.0)),
                fmt_ms(r.publish.max()),
                thousands(r.send_batches),
                r.dynamodb_calls,
            ));
            let expected = (size * runs) as u64;
            if r.messages != expected {
                problems.push(format!(
                    "{size} endpoints on {}: {} messages arrived, expected {expected}",
                    backend.name(),
                    r.messages
                ));
            }
            rows.push(json!({
                "endpoints": size,
                "sqs": backend.name(),
                "publish": r.publish.summary(),
                "publish_p50_ms": ms(r.publish.percentile(50.0)),
                "send_message_batch_calls_per_publish": r.send_batches,
                "sqs_billed_requests_per_publish": r.sqs_billed,
                "dynamodb_calls_per_publish": r.dynamodb_calls,
                "dynamodb_calls_by_operation": r.dynamodb_by_op,
                "messages": r.messages,
                "setup_seconds": setup.as_secs_f64(),
            }));
        }
    }
    table.print();
    println!(
        "  Calls are per publish. moto: a fresh queue per publish; its SendMessage cost grows with the queue's depth, so its times are moto's.\n  \
         stand-in: accepts each SendMessageBatch at once, so the time is Courier's own plus DynamoDB Local's (real SQS adds its latency per call, 8 calls in flight).\n  \
         set-up = creating the endpoints, {CREATE_CONCURRENCY} at a time, not in the publish time."
    );
    let json = json!({
        "description": "one event to N subscribed endpoints through Intake::publish on DynamoDB Local with moto or an instant SQS stand-in; endpoint creation excluded from the timing",
        "runs": opts.runs,
        "results": rows,
    });
    let problem = (!problems.is_empty()).then(|| problems.join("; "));
    Ok(Outcome {
        json,
        summary,
        problem,
    })
}

struct Measured {
    publish: Latencies,
    send_batches: u64,
    sqs_billed: u64,
    dynamodb_calls: u64,
    dynamodb_detail: String,
    dynamodb_by_op: BTreeMap<String, u64>,
    messages: u64,
}

/// A tenant with `size` endpoints subscribed to the benchmark's event type,
/// and how long creating them took.
async fn create_endpoints(size: usize) -> BenchResult<(TenantId, Duration)> {
    let tenant: TenantId = format!(
        "bench_fan_{size}_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    )
    .parse()?;
    let filter: EventTypeFilter = "booking.*".parse().map_err(|e: EventTypeError| e.0)?;
    let store = Arc::new(aws::store().await);
    emulators::ensure_event_type(store.as_ref()).await?;
    let started = Instant::now();
    let created: Vec<BenchResult<()>> = futures::stream::iter(0..size)
        .map(|i| {
            let (store, tenant, filter) = (store.clone(), tenant.clone(), filter.clone());
            async move {
                let endpoint = Endpoint::new(
                    tenant,
                    format!("https://receiver-{i}.example.com/webhooks"),
                    vec![filter],
                    OffsetDateTime::now_utc(),
                );
                store.create_endpoint(&endpoint).await.map_err(Into::into)
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .collect()
        .await;
    if let Some(Err(e)) = created.into_iter().find(Result::is_err) {
        return Err(format!("creating {size} endpoints: {e}").into());
    }
    Ok((tenant, started.elapsed()))
}

/// Publishes `runs` events to the tenant's `size` endpoints and measures the last.
async fn publish_runs(
    size: usize,
    backend: Backend,
    runs: usize,
    tenant: &TenantId,
    stub: &SqsStub,
) -> BenchResult<Measured> {
    let stub_endpoint = stub.endpoint();
    let clients = Metered::new((backend == Backend::Stub).then_some(stub_endpoint.as_str()));
    let (_, plain_sqs) = aws::clients(None);
    let (endpoints_table, deliveries_table) = aws::tables().await;
    let store = Arc::new(DynamoStore::new(
        clients.dynamodb.clone(),
        &endpoints_table,
        &deliveries_table,
    ));

    let mut publish = Latencies::new();
    let mut last = None;
    let mut messages = 0;
    for run in 0..runs {
        let queue_url = match backend {
            Backend::Moto => {
                aws::new_queue(&plain_sqs, Duration::from_secs(300))
                    .await
                    .queue_url
            }
            Backend::Stub => stub.queue_url(&format!("fan-out-{size}-{run}")),
        };
        let queue = Arc::new(SqsQueue::new(clients.sqs.clone(), &queue_url));
        let intake = Intake::new(store.clone(), queue, Settings::default());
        let request = PublishRequest {
            id: None,
            event_type: EVENT_TYPE.into(),
            data: RawValue::from_string(payload::booking(run))?,
        };
        clients.reset();
        let before = stub.messages();
        let t = Instant::now();
        let published = intake.publish(tenant, request).await?;
        publish.push(t.elapsed());
        if published.endpoints != size {
            return Err(format!(
                "fanned out to {} endpoints, expected {size}",
                published.endpoints
            )
            .into());
        }
        last = Some((
            clients.dynamodb_calls(),
            clients.sqs_calls(),
            clients.usage(),
        ));
        messages += match backend {
            Backend::Moto => queue_depth(&plain_sqs, &queue_url).await?,
            Backend::Stub => stub.messages() - before,
        };
    }
    let (ddb_calls, sqs_calls, usage) = last.unwrap_or_default();
    let dynamodb_detail = ddb_calls
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(op, n)| format!("{n} {op}"))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Measured {
        publish,
        send_batches: sqs_calls.get("SendMessageBatch").copied().unwrap_or(0),
        sqs_billed: usage
            .get("SendMessageBatch")
            .map_or(0, |u| u.sqs_billed_requests),
        dynamodb_calls: ddb_calls.values().sum(),
        dynamodb_detail,
        dynamodb_by_op: ddb_calls,
        messages,
    })
}

async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> BenchResult<u64> {
    Ok(sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await?
        .attributes
        .and_then(|a| {
            a.get(&QueueAttributeName::ApproximateNumberOfMessages)
                .cloned()
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}
