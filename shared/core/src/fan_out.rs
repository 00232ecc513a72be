//! The streaming fan-out, shared by the intake (producers' events) and the
//! operational webhooks ([`crate::operational`]): subscribers are read page by page and their
//! messages built and sent batch by batch, so memory holds a few batches
//! whatever the endpoint count (a 1,000-endpoint fan-out used to build every
//! message, each with its own copy of the event, before the first send).
//!
//! # One delivery chain per endpoint
//! Each message's id is [`MessageId::for_delivery`] of (tenant, event,
//! endpoint, trigger `event`): a fan-out that is repeated (the producer
//! retries after a crash) or resumed enqueues the very delivery it may have
//! enqueued before, and the delivery log, whose entries' ids derive from
//! that id, lets only one chain of attempts run and be logged.
//!
//! # Where a stopped fan-out resumes
//! Subscribers come in endpoint-id order. Batches are sent a few at a time
//! but their results are taken in order, so the resume point is the last
//! endpoint of the longest run of batches that all succeeded: nothing after
//! it is assumed sent (never skipped), nothing before it is sent again
//! (never restarted). Batches after it that did go out are sent again under
//! the same ids, which the delivery log's claims absorb.
//!
//! # The event inside every message
//! Messages keep carrying the event rather than a reference to the stored
//! copy, at every size the intake accepts: SQS bills 64 KiB chunks at
//! $0.40 per million on send and on receive, while reading a 256 KiB event
//! back from DynamoDB is 32 read units at $0.125 per million each, so for a
//! 256 KiB event inline costs $3.2 and by reference $4.8 per million
//! deliveries (and adds a read to every attempt). Memory is bounded by the
//! streaming instead.

use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::event::Event;
use crate::ids::{EndpointId, MessageId};
use crate::message::{DeliveryMessage, MESSAGE_FORMAT, Trigger};
use crate::ports::{DeliveryQueue, QueueError, Store, StoreError};

/// Subscribers read per page (keys only: a page is a few KB).
pub const PAGE: usize = 100;
/// Messages per `enqueue` call: one `SendMessageBatch`.
pub const BATCH: usize = 10;
/// Message bytes allowed in flight at once; bounds the fan-out's memory.
const IN_FLIGHT_BYTES: usize = 8 * 1024 * 1024;
/// Most batches in flight at once, whatever their size.
const MAX_IN_FLIGHT: usize = 8;
/// What a message adds to the producer's data (ids, envelope, type).
const MESSAGE_OVERHEAD: usize = 1024;
/// Longest a fan-out runs in one request: under API Gateway's 30 s and the
/// function's 29 s timeout, and well inside the 30 s lease.
pub const FAN_OUT_BUDGET: Duration = Duration::from_secs(20);
/// Time kept before Lambda's deadline to record the resume point and answer.
const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// How a fan-out ended.
#[derive(Debug)]
pub enum FanOutEnd {
    /// Every subscriber after the starting point was enqueued.
    Complete {
        /// Messages this run enqueued.
        enqueued: usize,
        /// The last endpoint enqueued (the resume point if marking fails).
        last: Option<EndpointId>,
    },
    /// Stopped early; the next run resumes after `resume_after`.
    Stopped {
        /// The last endpoint of the longest fully enqueued run of batches.
        resume_after: Option<EndpointId>,
        /// Why it stopped.
        reason: FanOutStop,
    },
}

/// Why a fan-out stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum FanOutStop {
    /// The queue refused messages.
    #[error("the queue did not take every message: {0}")]
    Queue(#[from] QueueError),
    /// The subscriber lookup failed.
    #[error("the subscriber lookup failed: {0}")]
    Store(#[from] StoreError),
    /// The request's time ran out; the retry continues where it stopped.
    #[error("the request's time ran out; a retry continues where it stopped")]
    Deadline,
    /// Another request holds the fan-out and did not finish in time.
    #[error("another request is fanning this event out")]
    Busy,
}

/// When a fan-out that starts at `start` must stop: after [`FAN_OUT_BUDGET`],
/// or [`DEADLINE_MARGIN`] before the Lambda deadline (`lambda_deadline_ms`,
/// unix ms) if that comes first. A deadline already past at the start is
/// none Lambda gives (0 outside Lambda; `cargo lambda watch` passes its
/// 600,000 ms timeout there): the budget alone applies.
pub fn fan_out_deadline(start: Instant, now_ms: u64, lambda_deadline_ms: u64) -> Instant {
    let budget = start + FAN_OUT_BUDGET;
    if lambda_deadline_ms <= now_ms {
        return budget;
    }
    let left = Duration::from_millis(lambda_deadline_ms.saturating_sub(now_ms));
    budget.min(start + left.saturating_sub(DEADLINE_MARGIN))
}

/// Batches in flight for messages carrying `data_len` bytes of data: as
/// many as fit [`IN_FLIGHT_BYTES`], at least one, at most [`MAX_IN_FLIGHT`].
pub fn batches_in_flight(data_len: usize) -> usize {
    let batch_bytes = BATCH * (data_len + MESSAGE_OVERHEAD);
    (IN_FLIGHT_BYTES / batch_bytes).clamp(1, MAX_IN_FLIGHT)
}

/// The fan-out message of `event` to `endpoint`, under its deterministic id.
fn message(event: &Event, endpoint: EndpointId) -> DeliveryMessage {
    DeliveryMessage {
        format: MESSAGE_FORMAT,
        message_id: MessageId::for_delivery(
            &event.tenant_id,
            &event.id,
            event.created_at,
            endpoint,
            Trigger::Event,
        ),
        tenant_id: event.tenant_id.clone(),
        endpoint_id: endpoint,
        trigger: Trigger::Event,
        event: event.clone(),
    }
}

/// Enqueues `event` for every subscriber after `resume_after`, stopping at
/// `deadline` between pages (the first page is always sent, so every run
/// makes progress).
pub async fn fan_out(
    store: &dyn Store,
    queue: &dyn DeliveryQueue,
    event: &Event,
    resume_after: Option<EndpointId>,
    deadline: Instant,
) -> FanOutEnd {
    let in_flight = batches_in_flight(event.data.get().len());
    let mut cursor = resume_after;
    let mut enqueued = 0;
    for page_number in 0.. {
        if page_number > 0 && Instant::now() >= deadline {
            return stopped(cursor, FanOutStop::Deadline);
        }
        let page = match store
            .subscribed_endpoints_after(&event.tenant_id, &event.event_type, cursor, PAGE)
            .await
        {
            Ok(page) => page,
            Err(e) => return stopped(cursor, e.into()),
        };
        let last_page = page.len() < PAGE;
        // Messages are built inside each batch's future, so only the
        // batches in flight exist at once.
        let batches: Vec<Vec<EndpointId>> = page.chunks(BATCH).map(<[_]>::to_vec).collect();
        let mut sent = futures::stream::iter(batches)
            .map(|chunk| send(queue, event, chunk))
            .buffered(in_flight);
        while let Some(result) = sent.next().await {
            match result {
                Ok(chunk) => {
                    cursor = chunk.last().copied().or(cursor);
                    enqueued += chunk.len();
                }
                Err(e) => return stopped(cursor, e.into()),
            }
        }
        if last_page {
            break;
        }
    }
    FanOutEnd::Complete {
        enqueued,
        last: cursor,
    }
}

/// Builds and enqueues one batch; gives the batch back once it is queued.
async fn send(
    queue: &dyn DeliveryQueue,
    event: &Event,
    chunk: Vec<EndpointId>,
) -> Result<Vec<EndpointId>, QueueError> {
    let messages: Vec<DeliveryMessage> = chunk.iter().map(|ep| message(event, *ep)).collect();
    queue.enqueue(&messages).await.map(|()| chunk)
}

fn stopped(resume_after: Option<EndpointId>, reason: FanOutStop) -> FanOutEnd {
    FanOutEnd::Stopped {
        resume_after,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_the_budget_or_the_lambda_deadline_less_the_margin() {
        let start = Instant::now();
        let now_ms = 1_000_000;
        assert_eq!(fan_out_deadline(start, now_ms, 0), start + FAN_OUT_BUDGET);
        // 29 s left: the 20 s budget comes first.
        assert_eq!(
            fan_out_deadline(start, now_ms, now_ms + 29_000),
            start + FAN_OUT_BUDGET
        );
        // 10 s left: stop 3 s before Lambda would.
        assert_eq!(
            fan_out_deadline(start, now_ms, now_ms + 10_000),
            start + Duration::from_secs(7)
        );
        // 2 s left: less than the margin, so stop after the first page.
        assert_eq!(fan_out_deadline(start, now_ms, now_ms + 2_000), start);
        // Not a time at all (cargo lambda watch's timeout): the budget.
        assert_eq!(
            fan_out_deadline(start, now_ms, 600_000),
            start + FAN_OUT_BUDGET
        );
    }

    #[test]
    fn large_events_have_fewer_batches_in_flight() {
        assert_eq!(batches_in_flight(0), MAX_IN_FLIGHT);
        assert_eq!(batches_in_flight(10 * 1024), MAX_IN_FLIGHT);
        // 256 KiB: three batches of ten, 7.7 MiB of messages.
        assert_eq!(batches_in_flight(256 * 1024), 3);
        assert_eq!(batches_in_flight(384 * 1024), 2);
        assert_eq!(batches_in_flight(usize::MAX / 100), 1);
    }
}
