//! The delivery function: takes a batch of queued deliveries, signs and
//! POSTs each one, records the attempt, and decides per message whether it
//! is done (acknowledged) or comes back later (a batch item failure whose
//! visibility was set to the next retry delay).
//!
//! # Attempt numbers
//! SQS's receive count is not an attempt count: it grows when Lambda is
//! throttled or a batch times out before any attempt was made, and a
//! standard queue may hand out a duplicate. So each delivery (queue message,
//! `msg_` id) has a progress record holding the attempts made and whether it
//! is done, read (one strongly consistent read) before every attempt. After
//! an attempt, the record is advanced with a conditional write that only
//! succeeds if nobody recorded that attempt first — a concurrent duplicate
//! loses and logs nothing. A duplicate received after the delivery is done
//! is acknowledged without a POST. Two copies handled at the very same time
//! can both reach the receiver, with the same `webhook-id` (at-least-once);
//! receivers deduplicate on that header, as Standard Webhooks asks.
//!
//! # Writes per delivery
//! A delivery that succeeds on its first attempt costs one read (progress)
//! plus the endpoint's read, shared by its messages in the batch, and 3 writes:
//! the progress record, the log entry and the daily statistics (the last is
//! shared by all attempts of the same endpoint and day within a batch). The
//! endpoint item is only written when its failure counter changes, or when
//! its `lastAttemptAt` is more than a minute old, and then once per batch.

mod guard;
mod sender;
mod sqs;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use courier::attempt::{AttemptStatus, DeliveryAttempt, ErrorClass};
use courier::config::Settings;
use courier::endpoint::Endpoint;
use courier::ids::{DeliveryId, EndpointId, TenantId};
use courier::message::{DeliveryMessage, ReceivedMessage};
use courier::policy::{self, AttemptResult, Decision};
use courier::ports::{DeliveryQueue, EndpointOutcome, MessageProgress, Store, StoreError};
use courier::stats::StatsDelta;
use futures::StreamExt;
use time::{Date, OffsetDateTime};

pub use guard::{Blocked, PublicResolver, check_literal};
pub use sender::{AttemptReport, Sender, USER_AGENT};
pub use sqs::{batch_response, handle_sqs_event, received_messages};

/// A copy this close to its due time is attempted rather than put back:
/// SQS visibility is counted in whole seconds.
const EARLY_TOLERANCE: time::Duration = time::Duration::seconds(1);
/// Messages of a batch delivered at the same time.
const CONCURRENCY: usize = 32;
/// `lastAttemptAt` precision: newer values are not worth a write.
const LAST_ATTEMPT_PRECISION: time::Duration = time::Duration::minutes(1);

/// Delivers batches of queued messages.
pub struct Deliverer {
    store: Arc<dyn Store>,
    queue: Arc<dyn DeliveryQueue>,
    sender: Sender,
    settings: Settings,
}

/// What to do with a received copy of a delivery.
enum NextStep {
    /// Make attempt `previous + 1`.
    Attempt {
        /// Attempts already recorded.
        previous: u32,
    },
    /// The delivery is finished: acknowledge without sending.
    Done,
    /// The next attempt is not due for this long.
    NotYet(std::time::Duration),
}

/// What became of one message, before the batch's bookkeeping.
struct Handled {
    queue_message_id: String,
    /// False: report as a batch item failure so the queue hands it out again.
    ack: bool,
    entry: Option<DeliveryAttempt>,
    effect: Option<(AttemptResult, OffsetDateTime)>,
    endpoint: Option<(TenantId, EndpointId)>,
}

impl Handled {
    fn leave(queue_message_id: String) -> Self {
        Self {
            queue_message_id,
            ack: false,
            entry: None,
            effect: None,
            endpoint: None,
        }
    }
    fn ack(queue_message_id: String) -> Self {
        Self {
            queue_message_id,
            ack: true,
            entry: None,
            effect: None,
            endpoint: None,
        }
    }
}

impl Deliverer {
    /// A deliverer over the given store and queue.
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn DeliveryQueue>,
        settings: Settings,
    ) -> Result<Self, reqwest::Error> {
        let sender = Sender::new(&settings)?;
        Ok(Self {
            store,
            queue,
            sender,
            settings,
        })
    }

    /// Handles one batch and returns the `queue_message_id`s to report as
    /// batch item failures (retries and messages to look at again); every
    /// other message is done and may be deleted.
    pub async fn handle_batch(&self, messages: Vec<ReceivedMessage>) -> Vec<String> {
        let parsed: Vec<(ReceivedMessage, Option<DeliveryMessage>)> = messages
            .into_iter()
            .map(|m| {
                let parsed = DeliveryMessage::from_json(&m.body);
                if let Err(e) = &parsed {
                    // Left un-acknowledged so the redrive policy moves it to
                    // the dead-letter queue: never dropped silently.
                    tracing::error!(queue_message_id = %m.queue_message_id, error = %e, "unparseable delivery message");
                }
                (m, parsed.ok())
            })
            .collect();
        let endpoints = self.load_endpoints(&parsed).await;
        let handled: Vec<Handled> = futures::stream::iter(parsed)
            .map(|(received, message)| {
                let endpoints = &endpoints;
                async move {
                    match message {
                        None => self.poison(received).await,
                        Some(message) => {
                            let key = (message.tenant_id.clone(), message.endpoint_id);
                            match endpoints.get(&key) {
                                Some(Ok(endpoint)) => {
                                    self.deliver(received, message, endpoint.as_ref()).await
                                }
                                // The endpoint could not be read: try later.
                                _ => Handled::leave(received.queue_message_id),
                            }
                        }
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        self.bookkeeping(&handled, &endpoints).await;
        handled
            .into_iter()
            .filter(|h| !h.ack)
            .map(|h| h.queue_message_id)
            .collect()
    }

    /// An unparseable message will never parse: make it visible again at
    /// once so the redrive policy moves it to the dead-letter queue after
    /// `maxReceiveCount` quick receives, instead of one visibility timeout each.
    async fn poison(&self, received: ReceivedMessage) -> Handled {
        if let Err(e) = self
            .queue
            .retry_after(&received.receipt, std::time::Duration::ZERO)
            .await
        {
            tracing::warn!(queue_message_id = %received.queue_message_id, error = %e, "could not hurry a poison message to the DLQ");
        }
        Handled::leave(received.queue_message_id)
    }

    async fn load_endpoints(
        &self,
        batch: &[(ReceivedMessage, Option<DeliveryMessage>)],
    ) -> HashMap<(TenantId, EndpointId), Result<Option<Endpoint>, StoreError>> {
        let mut keys: Vec<(TenantId, EndpointId)> = batch
            .iter()
            .filter_map(|(_, m)| m.as_ref().map(|m| (m.tenant_id.clone(), m.endpoint_id)))
            .collect();
        keys.sort();
        keys.dedup();
        futures::stream::iter(keys)
            .map(|key| async move {
                let found = self.store.endpoint(&key.0, key.1).await;
                if let Err(e) = &found {
                    tracing::error!(tenant_id = %key.0, endpoint_id = %key.1, error = %e, "endpoint lookup failed");
                }
                (key, found)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await
    }

    /// What the progress record says about this copy of the message.
    async fn next_step(&self, message: &DeliveryMessage) -> Result<NextStep, StoreError> {
        let max = self.settings.retry_schedule.max_attempts();
        let now = OffsetDateTime::now_utc();
        Ok(match self.store.progress(message.message_id).await? {
            Some(p) if p.done || p.attempts >= max => NextStep::Done,
            Some(MessageProgress {
                next_attempt_at: Some(due),
                ..
            }) if due - now > EARLY_TOLERANCE => NextStep::NotYet((due - now).unsigned_abs()),
            Some(p) => NextStep::Attempt {
                previous: p.attempts,
            },
            None => NextStep::Attempt { previous: 0 },
        })
    }

    async fn deliver(
        &self,
        received: ReceivedMessage,
        message: DeliveryMessage,
        endpoint: Option<&Endpoint>,
    ) -> Handled {
        let id = received.queue_message_id.clone();
        let previous = match self.next_step(&message).await {
            Ok(NextStep::Attempt { previous }) => previous,
            Ok(NextStep::Done) => {
                tracing::info!(message_id = %message.message_id, "duplicate of a finished delivery acknowledged");
                return Handled::ack(id);
            }
            Ok(NextStep::NotYet(wait)) => {
                // A copy handed out before its retry is due (an SQS duplicate,
                // or a visibility change that did not take): wait the rest.
                tracing::info!(message_id = %message.message_id, wait_ms = wait.as_millis() as u64, "early copy put back until its retry is due");
                if let Err(e) = self.queue.retry_after(&received.receipt, wait).await {
                    tracing::warn!(message_id = %message.message_id, error = %e, "could not delay an early copy");
                }
                return Handled::leave(id);
            }
            Err(e) => {
                tracing::error!(message_id = %message.message_id, error = %e, "progress lookup failed");
                return Handled::leave(id);
            }
        };
        let attempt = previous + 1;
        // The progress record outlives the rest of the schedule.
        let progress_expires_at = OffsetDateTime::now_utc() + self.settings.progress_retention();
        let endpoint_key = Some((message.tenant_id.clone(), message.endpoint_id));

        if let Err(reason) = policy::check_send(endpoint, message.trigger) {
            let done = MessageProgress {
                attempts: attempt,
                done: true,
                next_attempt_at: None,
            };
            return match self
                .store
                .advance_progress(message.message_id, previous, done, progress_expires_at)
                .await
            {
                Ok(true) => {
                    let mut entry = self.entry(&message, endpoint, attempt, AttemptStatus::Skipped);
                    entry.error = Some(reason.describe().into());
                    log_attempt(&entry);
                    Handled {
                        queue_message_id: id,
                        ack: true,
                        entry: Some(entry),
                        effect: None,
                        endpoint: endpoint_key,
                    }
                }
                Ok(false) => Handled::leave(id),
                Err(e) => {
                    tracing::error!(message_id = %message.message_id, error = %e, "progress update failed");
                    Handled::leave(id)
                }
            };
        }
        let Some(endpoint) = endpoint else {
            return Handled::leave(id);
        };

        let report = self.sender.send(endpoint, &message.event, attempt).await;
        let attempted_at = OffsetDateTime::now_utc();
        let decision = policy::after_attempt(attempt, report.result, &self.settings.retry_schedule);
        let next_attempt_at = match decision {
            Decision::Retry(delay) => Some(attempted_at + delay),
            Decision::Succeeded | Decision::GiveUp(_) => None,
        };
        let progress = MessageProgress {
            attempts: attempt,
            done: next_attempt_at.is_none(),
            next_attempt_at,
        };
        match self
            .store
            .advance_progress(message.message_id, previous, progress, progress_expires_at)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                // A duplicate of this message recorded this attempt first; it
                // owns the bookkeeping. Look again later.
                tracing::info!(message_id = %message.message_id, attempt, "attempt already recorded by a duplicate");
                return Handled::leave(id);
            }
            Err(e) => {
                tracing::error!(message_id = %message.message_id, error = %e, "progress update failed");
                return Handled::leave(id);
            }
        }

        let status = if report.result == AttemptResult::Delivered {
            AttemptStatus::Succeeded
        } else {
            AttemptStatus::Failed
        };
        let mut entry = self.entry(&message, Some(endpoint), attempt, status);
        entry.created_at = attempted_at;
        entry.expires_at = attempted_at + self.settings.retention;
        entry.http_status = report.http_status;
        entry.response_time_ms = Some(report.latency_ms);
        entry.error = report.error;
        entry.error_class = match report.result {
            AttemptResult::Failed(class) => Some(class),
            AttemptResult::Gone => Some(ErrorClass::ClientError),
            AttemptResult::Delivered => None,
        };
        entry.response_body = report.response_body;
        entry.request_headers = report.request_headers;

        let ack = match decision {
            Decision::Retry(delay) => {
                entry.next_attempt_at = Some(attempted_at + delay);
                if let Err(e) = self.queue.retry_after(&received.receipt, delay).await {
                    // The message still comes back, after the queue's own
                    // visibility timeout instead of the schedule's delay.
                    tracing::warn!(message_id = %message.message_id, error = %e, "could not schedule retry");
                }
                false
            }
            Decision::Succeeded | Decision::GiveUp(_) => true,
        };
        log_attempt(&entry);
        Handled {
            queue_message_id: id,
            ack,
            entry: Some(entry),
            effect: Some((report.result, attempted_at)),
            endpoint: endpoint_key,
        }
    }

    fn entry(
        &self,
        message: &DeliveryMessage,
        endpoint: Option<&Endpoint>,
        attempt: u32,
        status: AttemptStatus,
    ) -> DeliveryAttempt {
        let now = OffsetDateTime::now_utc();
        DeliveryAttempt {
            id: DeliveryId::generate(),
            tenant_id: message.tenant_id.clone(),
            endpoint_id: message.endpoint_id,
            event_id: message.event.id.clone(),
            event_type: message.event.event_type.clone(),
            message_id: message.message_id,
            attempt,
            trigger: message.trigger_of_attempt(attempt),
            status,
            url: endpoint.map(|e| e.url.clone()).unwrap_or_default(),
            http_status: None,
            response_time_ms: None,
            error_class: None,
            error: None,
            response_body: None,
            request_headers: vec![],
            created_at: now,
            next_attempt_at: None,
            expires_at: now + self.settings.retention,
        }
    }

    /// Writes the batch's log entries, statistics and endpoint counters,
    /// grouped so that each endpoint and day costs at most one write each.
    async fn bookkeeping(
        &self,
        handled: &[Handled],
        endpoints: &HashMap<(TenantId, EndpointId), Result<Option<Endpoint>, StoreError>>,
    ) {
        let entries: Vec<DeliveryAttempt> =
            handled.iter().filter_map(|h| h.entry.clone()).collect();
        if !entries.is_empty()
            && let Err(e) = self.store.record_attempts(&entries).await
        {
            tracing::error!(error = %e, entries = entries.len(), "could not write delivery log entries");
        }

        let mut stats: BTreeMap<(TenantId, EndpointId, Date), StatsDelta> = BTreeMap::new();
        let mut effects: BTreeMap<(TenantId, EndpointId), Vec<(OffsetDateTime, AttemptResult)>> =
            BTreeMap::new();
        for h in handled {
            let (Some((result, at)), Some(key)) = (h.effect, h.endpoint.clone()) else {
                continue;
            };
            let delta = stats.entry((key.0.clone(), key.1, at.date())).or_default();
            match result {
                AttemptResult::Delivered => delta.success(),
                AttemptResult::Gone => delta.failure(ErrorClass::ClientError),
                AttemptResult::Failed(class) => delta.failure(class),
            }
            effects.entry(key).or_default().push((at, result));
        }
        let stat_writes = stats.iter().map(|((tenant, ep, day), delta)| async move {
            if let Err(e) = self.store.add_stats(tenant, *ep, *day, delta).await {
                tracing::error!(tenant_id = %tenant, endpoint_id = %ep, error = %e, "could not update statistics");
            }
        });
        futures::future::join_all(stat_writes).await;

        let outcome_writes = effects.into_iter().filter_map(|(key, mut results)| {
            results.sort_by_key(|(at, _)| *at);
            let outcome = fold_outcome(&results)?;
            let current = endpoints.get(&key).and_then(|r| r.as_ref().ok()).and_then(|e| e.as_ref());
            if !worth_writing(current, &outcome) {
                return None;
            }
            Some(async move {
                match self
                    .store
                    .record_outcome(&key.0, key.1, &outcome, self.settings.disable_after_failures)
                    .await
                {
                    Ok(Some(recorded)) => {
                        if let Some(reason) = recorded.disabled {
                            tracing::warn!(
                                tenant_id = %key.0, endpoint_id = %key.1,
                                consecutive_failures = recorded.consecutive_failures,
                                reason = ?reason, "endpoint disabled"
                            );
                            courier::metrics::endpoint_disabled();
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(tenant_id = %key.0, endpoint_id = %key.1, error = %e, "could not update endpoint"),
                }
            })
        });
        futures::future::join_all(outcome_writes).await;
    }
}

/// Folds one endpoint's attempts of a batch, oldest first, into one update.
fn fold_outcome(results: &[(OffsetDateTime, AttemptResult)]) -> Option<EndpointOutcome> {
    let last = results.last()?.0;
    let mut outcome = EndpointOutcome {
        succeeded: false,
        failures: 0,
        gone: false,
        attempted_at: last,
    };
    for (_, result) in results {
        match result {
            AttemptResult::Delivered => {
                outcome.succeeded = true;
                outcome.failures = 0;
            }
            AttemptResult::Gone => {
                outcome.gone = true;
                outcome.failures += 1;
            }
            AttemptResult::Failed(_) => outcome.failures += 1,
        }
    }
    Some(outcome)
}

/// False when the update would change nothing worth a write: only
/// successes, a counter already at zero and a recent `lastAttemptAt`.
fn worth_writing(current: Option<&Endpoint>, outcome: &EndpointOutcome) -> bool {
    let Some(ep) = current else { return true };
    if outcome.failures > 0 || outcome.gone || ep.consecutive_failures != 0 {
        return true;
    }
    ep.last_attempt_at
        .is_none_or(|t| outcome.attempted_at - t >= LAST_ATTEMPT_PRECISION)
}

/// One JSON log line per attempt for CloudWatch Logs Insights (and its
/// metrics); never the secret or the payload.
fn log_attempt(e: &DeliveryAttempt) {
    courier::metrics::attempt(e);
    tracing::info!(
        target: "courier::attempt",
        tenant_id = %e.tenant_id,
        endpoint_id = %e.endpoint_id,
        event_id = %e.event_id,
        event_type = %e.event_type,
        message_id = %e.message_id,
        attempt = e.attempt,
        trigger = ?e.trigger,
        status = ?e.status,
        http_status = e.http_status,
        latency_ms = e.response_time_ms,
        error_class = e.error_class.map(|c| c.as_str()),
        next_attempt_at = e.next_attempt_at.map(|t| t.unix_timestamp()),
        "delivery attempt"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(secs)
    }

    #[test]
    fn a_success_resets_the_failures_before_it() {
        let fail = AttemptResult::Failed(ErrorClass::ServerError);
        let o = fold_outcome(&[
            (at(1), fail),
            (at(2), AttemptResult::Delivered),
            (at(3), fail),
        ])
        .unwrap();
        assert!(o.succeeded);
        assert_eq!(o.failures, 1);
        assert_eq!(o.attempted_at, at(3));
        let o = fold_outcome(&[(at(1), fail), (at(2), fail)]).unwrap();
        assert!(!o.succeeded);
        assert_eq!(o.failures, 2);
        assert!(fold_outcome(&[(at(1), AttemptResult::Gone)]).unwrap().gone);
    }

    #[test]
    fn a_healthy_endpoint_is_written_at_most_once_a_minute() {
        let mut ep = Endpoint::new(
            "t".parse().unwrap(),
            "https://example.com".into(),
            vec![],
            at(0),
        );
        let ok = EndpointOutcome {
            succeeded: true,
            failures: 0,
            gone: false,
            attempted_at: at(100),
        };
        ep.last_attempt_at = Some(at(70));
        assert!(!worth_writing(Some(&ep), &ok));
        ep.last_attempt_at = Some(at(30));
        assert!(worth_writing(Some(&ep), &ok));
        ep.last_attempt_at = Some(at(99));
        ep.consecutive_failures = 2;
        assert!(
            worth_writing(Some(&ep), &ok),
            "a reset to zero must be written"
        );
        ep.consecutive_failures = 0;
        let failed = EndpointOutcome {
            succeeded: false,
            failures: 1,
            ..ok
        };
        assert!(worth_writing(Some(&ep), &failed));
    }
}
