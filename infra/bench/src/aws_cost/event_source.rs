//! The SQS event source mapping, played: pollers that receive up to 10
//! messages, hand them to `Deliverer::handle_batch` (one delivery
//! invocation each), and delete the messages not reported as failed with
//! one `DeleteMessageBatch`, until every delivery is finished. Each
//! invocation ends, as in Lambda, with the EMF metrics flushed (into the
//! byte counter of `log_bytes`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use courier::metrics::Metrics;
use courier_aws::SqsQueue;
use courier_delivery::Deliverer;

use super::flush_metrics;
use super::usage::ceil_ms;
use crate::BenchResult;

/// Messages per delivery invocation (the template's `DeliveryBatchSize`).
pub const BATCH: usize = 10;

/// What the event source and the function need.
#[derive(Clone)]
pub struct EventSource {
    /// The delivery function's handler.
    pub deliverer: Arc<Deliverer>,
    /// The queue, for receiving.
    pub queue: Arc<SqsQueue>,
    /// A client of the same queue, for `DeleteMessageBatch`.
    pub sqs: aws_sdk_sqs::Client,
    /// The queue's URL.
    pub queue_url: String,
    /// The EMF recorder, flushed after every invocation.
    pub metrics: Option<Metrics>,
}

/// What playing the event source took.
#[derive(Debug, Default)]
pub struct Played {
    /// Delivery invocations (batches handled).
    pub invocations: u64,
    /// Their durations, each rounded up to the millisecond, summed.
    pub billed_ms: u64,
    /// Receives that came back empty (waiting for retries).
    pub empty_receives: u64,
}

impl Played {
    /// Adds `other` into this one.
    pub fn add(&mut self, other: &Played) {
        self.invocations += other.invocations;
        self.billed_ms += other.billed_ms;
        self.empty_receives += other.empty_receives;
    }
}

#[derive(Default)]
struct Progress {
    finished: AtomicUsize,
    invocations: AtomicU64,
    billed_ms: AtomicU64,
    empty_receives: AtomicU64,
}

/// Runs `pollers` pollers until `deliveries` messages are finished
/// (deleted), or fails after `timeout`.
pub async fn play(
    source: &EventSource,
    deliveries: usize,
    pollers: usize,
    timeout: Duration,
) -> BenchResult<Played> {
    let progress = Arc::new(Progress::default());
    let deadline = Instant::now() + timeout;
    let tasks: Vec<_> = (0..pollers.max(1))
        .map(|_| {
            let (source, progress) = (source.clone(), progress.clone());
            tokio::spawn(async move { poll(&source, &progress, deliveries, deadline).await })
        })
        .collect();
    let mut first_error = None;
    for task in tasks {
        if let Err(e) = task.await? {
            first_error.get_or_insert(e);
        }
    }
    if let Some(e) = first_error {
        return Err(e.into());
    }
    Ok(Played {
        invocations: progress.invocations.load(Ordering::SeqCst),
        billed_ms: progress.billed_ms.load(Ordering::SeqCst),
        empty_receives: progress.empty_receives.load(Ordering::SeqCst),
    })
}

async fn poll(
    source: &EventSource,
    progress: &Progress,
    deliveries: usize,
    deadline: Instant,
) -> Result<(), String> {
    while progress.finished.load(Ordering::SeqCst) < deliveries {
        if Instant::now() > deadline {
            return Err(format!(
                "{} of {deliveries} deliveries finished in time",
                progress.finished.load(Ordering::SeqCst)
            ));
        }
        let batch = source
            .queue
            .receive(BATCH, Duration::from_secs(1), None)
            .await
            .map_err(|e| format!("ReceiveMessage: {e}"))?;
        if batch.is_empty() {
            progress.empty_receives.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        let receipts: Vec<(String, String)> = batch
            .iter()
            .map(|m| (m.queue_message_id.clone(), m.receipt.clone()))
            .collect();
        let started = Instant::now();
        let failed = source.deliverer.handle_batch(&batch).await;
        flush_metrics(source.metrics);
        progress
            .billed_ms
            .fetch_add(ceil_ms(started.elapsed()), Ordering::SeqCst);
        progress.invocations.fetch_add(1, Ordering::SeqCst);
        let finished: Vec<DeleteMessageBatchRequestEntry> = receipts
            .into_iter()
            .filter(|(id, _)| !failed.contains(id))
            .enumerate()
            .filter_map(|(i, (_, receipt))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .build()
                    .ok()
            })
            .collect();
        if finished.is_empty() {
            continue;
        }
        let n = finished.len();
        source
            .sqs
            .delete_message_batch()
            .queue_url(&source.queue_url)
            .set_entries(Some(finished))
            .send()
            .await
            .map_err(|e| format!("DeleteMessageBatch: {e}"))?;
        progress.finished.fetch_add(n, Ordering::SeqCst);
    }
    Ok(())
}
