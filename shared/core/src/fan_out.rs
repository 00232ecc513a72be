//! Storing an event once and fanning it out ([`store_and_fan_out`]),
//! shared by the intake (producers' events) and the operational webhooks
//! ([`crate::operational`]). The fan-out streams: subscribers are read page by page and their
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
use time::OffsetDateTime;

use crate::event::Event;
use crate::ids::{EndpointId, MessageId};
use crate::message::{DeliveryMessage, MESSAGE_FORMAT, Trigger};
use crate::ports::{DeliveryQueue, FanOutClaim, QueueError, Store, StoreError, StoredEvent};

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

/// What to do when another request holds an unfinished event's fan-out.
#[derive(Debug, Clone, Copy)]
pub enum WhenHeld {
    /// Look again every `poll` until the deadline (a producer waits for
    /// its duplicate's answer).
    Wait {
        /// How long between looks.
        poll: Duration,
    },
    /// Stop at once with [`FanOutStop::Busy`] (the holder finishes it).
    GiveUp,
}

/// How [`store_and_fan_out`] ended well.
#[derive(Debug)]
pub enum Accepted {
    /// This run stored or took over the event and queued every message.
    Published {
        /// The event as fanned out (the stored copy when one existed).
        event: Event,
        /// Messages this run enqueued.
        enqueued: usize,
        /// True when it continued another run's fan-out.
        resumed: bool,
    },
    /// The event was already fanned out completely: nothing was sent.
    Duplicate(Event),
}

/// Why [`store_and_fan_out`] did not finish; the same call again continues.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// Storing, claiming or marking the event failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The event is stored but not queued for every endpoint yet.
    #[error(transparent)]
    Incomplete(FanOutStop),
}

/// Stores `event` once (until `expires_at`) and fans it out, or continues
/// an unfinished fan-out of the same id from where it stopped; marks it
/// finished once every message is queued. Any stop releases the fan-out
/// (best effort: otherwise its lease runs out) with its resume point.
pub async fn store_and_fan_out(
    store: &dyn Store,
    queue: &dyn DeliveryQueue,
    event: Event,
    expires_at: OffsetDateTime,
    deadline: Instant,
    when_held: WhenHeld,
) -> Result<Accepted, AcceptError> {
    let (event, resume_after) = match store.store_event(&event, expires_at).await? {
        StoredEvent::New => (event, None),
        StoredEvent::Duplicate(stored) => return Ok(Accepted::Duplicate(stored)),
        // Fan out what was stored first, so every copy carries the same body.
        StoredEvent::Unfinished(stored) => {
            match claim(store, &stored, deadline, when_held).await? {
                Some(resume_after) => (stored, resume_after),
                None => return Ok(Accepted::Duplicate(stored)),
            }
        }
    };
    let resumed = resume_after.is_some();
    let (resume_point, error) = match fan_out(store, queue, &event, resume_after, deadline).await {
        FanOutEnd::Complete { enqueued, last } => {
            match store.mark_fanned_out(&event, expires_at).await {
                Ok(()) => {
                    return Ok(Accepted::Published {
                        event,
                        enqueued,
                        resumed,
                    });
                }
                // Every message is queued: the retry only has to mark it.
                Err(e) => (last, AcceptError::Store(e)),
            }
        }
        FanOutEnd::Stopped {
            resume_after,
            reason,
        } => (resume_after, AcceptError::Incomplete(reason)),
    };
    if let Err(e) = store
        .release_fan_out(&event.tenant_id, &event.id, resume_point)
        .await
    {
        tracing::warn!(event_id = %event.id, error = %e, "fan-out release failed");
    }
    Err(error)
}

/// Takes over an unfinished event's fan-out: `Some(resume point)` when
/// this run now holds it, `None` when another finished it.
async fn claim(
    store: &dyn Store,
    event: &Event,
    deadline: Instant,
    when_held: WhenHeld,
) -> Result<Option<Option<EndpointId>>, AcceptError> {
    loop {
        match store.claim_fan_out(&event.tenant_id, &event.id).await? {
            FanOutClaim::Claimed { resume_after } => return Ok(Some(resume_after)),
            FanOutClaim::Finished => return Ok(None),
            FanOutClaim::Held => match when_held {
                WhenHeld::Wait { poll } if Instant::now() + poll < deadline => {
                    tokio::time::sleep(poll).await;
                }
                _ => return Err(AcceptError::Incomplete(FanOutStop::Busy)),
            },
        }
    }
}

fn stopped(resume_after: Option<EndpointId>, reason: FanOutStop) -> FanOutEnd {
    FanOutEnd::Stopped {
        resume_after,
        reason,
    }
}

#[cfg(test)]
mod tests;
