//! One received copy of a delivery: find where its chain stands in the log,
//! make the attempt that is due, log it (the attempt's claim), and tell the
//! queue when to hand the message out again.

use std::time::Duration;

use courier::attempt::{AttemptStatus, DeliveryAttempt, ErrorClass};
use courier::circuit::{self, Gate};
use courier::endpoint::Endpoint;
use courier::ids::DeliveryId;
use courier::message::{DeliveryMessage, ReceivedMessage};
use courier::policy::{self, AttemptResult, Decision, NextStep};
use courier::ports::{Recorded, StoreError};
use time::OffsetDateTime;

use crate::{Deliverer, Handled};

/// The attempt a copy of a message is to make.
struct Due {
    attempt: u32,
    id: DeliveryId,
}

/// Where the chain of a delivery stands.
enum Position {
    Due(Due),
    Done,
    NotYet(Duration),
}

impl Deliverer {
    /// Walks the delivery's chain in the log from attempt 1: each attempt's
    /// id follows from the previous entry, so one read per attempt made
    /// (one for a first attempt) finds the next one.
    async fn position(&self, message: &DeliveryMessage) -> Result<Position, StoreError> {
        let max = self.settings.retry_schedule.max_attempts();
        let mut due = Due {
            attempt: 1,
            id: DeliveryId::for_attempt(message.message_id, 1, message.message_id.created_at()),
        };
        loop {
            let found = self
                .store
                .find_attempt(&message.tenant_id, message.endpoint_id, due.id)
                .await?;
            let Some(entry) = found else {
                return Ok(Position::Due(due));
            };
            match policy::after_entry(&entry, OffsetDateTime::now_utc(), max) {
                NextStep::Done => return Ok(Position::Done),
                NextStep::NotYet(wait) => return Ok(Position::NotYet(wait)),
                NextStep::Continue { attempt, due: at } => {
                    due = Due {
                        attempt,
                        id: DeliveryId::for_attempt(message.message_id, attempt, at),
                    };
                }
            }
        }
    }

    /// Handles one copy of a parsed message whose endpoint was read.
    pub(crate) async fn deliver(
        &self,
        received: &ReceivedMessage,
        message: &DeliveryMessage,
        endpoint: Option<&Endpoint>,
        clock: &crate::BatchClock,
    ) -> Handled {
        // An open circuit holds the delivery before anything is read: a
        // waiting delivery costs its receive and one visibility change.
        let spread = spread_of(message);
        let gate = endpoint.filter(|ep| ep.enabled).map_or(Gate::Send, |ep| {
            circuit::gate(
                &ep.circuit,
                ep.probe_lease_until,
                message.trigger,
                OffsetDateTime::now_utc(),
                spread,
            )
        });
        if let Gate::Wait(wait) = gate {
            return self.put_back(received, wait, clock).await;
        }
        let due = match self.position(message).await {
            Ok(Position::Due(due)) => due,
            Ok(Position::Done) => {
                tracing::debug!(message_id = %message.message_id, "copy of a finished delivery acknowledged");
                return Handled::Ack;
            }
            Ok(Position::NotYet(wait)) => {
                // A copy handed out before its retry is due (an SQS duplicate,
                // a visibility change that did not take, or a delay longer
                // than one visibility can express): wait the rest.
                return self.put_back(received, wait, clock).await;
            }
            Err(e) => {
                tracing::error!(message_id = %message.message_id, error = %e, "delivery log lookup failed");
                return self.fault(received).await;
            }
        };
        // Not enough time left to make the attempt and log it: leave it to
        // the next receive rather than risk an attempt without its entry.
        if !clock.time_for_an_attempt(self.settings.delivery_timeout) {
            tracing::info!(message_id = %message.message_id, left_ms = clock.left().as_millis() as u64, "too close to the deadline; left for the next receive");
            return self.fault(received).await;
        }
        let entry = match policy::check_send(endpoint, message.trigger) {
            Ok(endpoint) => {
                let probe = gate == Gate::Probe;
                if probe {
                    let turn = circuit::probe_turn(
                        &endpoint.circuit,
                        &self.rules,
                        due.attempt,
                        OffsetDateTime::now_utc(),
                        spread,
                    );
                    if let Some(wait) = turn {
                        return self.put_back(received, wait, clock).await;
                    }
                }
                // The rate limit's slot before the probe's claim: a probe
                // waiting for a later window would hold the claim.
                if let Some(held) = self.keep_pace(received, endpoint, clock).await {
                    return held;
                }
                if probe {
                    match self.claim_probe(endpoint, spread).await {
                        Ok(None) => {}
                        Ok(Some(wait)) => return self.put_back(received, wait, clock).await,
                        Err(e) => {
                            tracing::error!(endpoint_id = %endpoint.id, error = %e, "probe claim failed");
                            return self.fault(received).await;
                        }
                    }
                }
                let mut entry = self.attempt(message, endpoint, &due).await;
                entry.probe = probe;
                entry
            }
            Err(reason) => {
                let mut entry = self.entry(message, endpoint, &due, AttemptStatus::Skipped);
                entry.error = Some(reason.describe().into());
                entry
            }
        };
        self.record(received, entry, clock).await
    }

    /// Takes the open circuit's probe for this delivery: `None` when taken,
    /// else how long to wait for the probe in flight.
    async fn claim_probe(
        &self,
        endpoint: &Endpoint,
        spread: f64,
    ) -> Result<Option<Duration>, StoreError> {
        let now = OffsetDateTime::now_utc();
        // Held while the attempt is made and logged; a probe that dies
        // lets the next one go when this runs out.
        let lease = self.settings.delivery_timeout + crate::RECORD_BUDGET;
        let claimed = self
            .store
            .claim_probe(
                &endpoint.tenant_id,
                endpoint.id,
                endpoint.circuit.next_attempt_at,
                now,
                now + lease,
            )
            .await?;
        if claimed {
            tracing::info!(tenant_id = %endpoint.tenant_id, endpoint_id = %endpoint.id, "probing an endpoint whose circuit is open");
            return Ok(None);
        }
        // Taken since the endpoint was read: wait about one probe's lease.
        Ok(Some(circuit::wait_for_probe(lease, spread)))
    }

    /// Signs and POSTs attempt `due`, and describes it as a log entry.
    async fn attempt(
        &self,
        message: &DeliveryMessage,
        endpoint: &Endpoint,
        due: &Due,
    ) -> DeliveryAttempt {
        let report = self
            .sender
            .send(endpoint, &message.event, due.attempt)
            .await;
        let attempted_at = OffsetDateTime::now_utc();
        let status = if report.result == AttemptResult::Delivered {
            AttemptStatus::Succeeded
        } else {
            AttemptStatus::Failed
        };
        let mut entry = self.entry(message, Some(endpoint), due, status);
        entry.created_at = attempted_at;
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
        if let Decision::Retry(delay) =
            policy::after_attempt(due.attempt, report.result, &self.settings.retry_schedule)
        {
            entry.next_attempt_at = Some(attempted_at + delay);
        }
        entry.expires_at = self.expiry(attempted_at, due.attempt);
        entry
    }

    /// Logs the entry (the attempt's claim), then acknowledges the message
    /// or makes it come back when the next attempt is due.
    async fn record(
        &self,
        received: &ReceivedMessage,
        entry: DeliveryAttempt,
        clock: &crate::BatchClock,
    ) -> Handled {
        match self.store.record_attempt(&entry, &self.rules).await {
            Ok(Recorded::Counted(outcome)) => {
                crate::log_attempt(&entry);
                self.report_counted(&entry, outcome).await;
            }
            // Counted from the stream, whose handler reports it.
            Ok(Recorded::Deferred) => crate::log_attempt(&entry),
            Ok(Recorded::Duplicate) => {
                // Another copy logged this attempt first: it owns it. The next
                // receive reads the chain again and acts on what it says.
                tracing::info!(message_id = %entry.message_id, attempt = entry.attempt, "attempt already logged by another copy");
                return self.fault(received).await;
            }
            Err(e) => {
                // The attempt was made but is not logged: the next receive
                // makes it again under the same number and logs it once.
                tracing::error!(message_id = %entry.message_id, attempt = entry.attempt, error = %e, "could not log an attempt");
                return self.fault(received).await;
            }
        }
        match entry.next_attempt_at {
            // The schedule's delay, counted from the attempt (SQS counts
            // visibility in whole seconds anyway).
            Some(at) => {
                let delay = (at - entry.created_at).unsigned_abs();
                self.put_back(received, delay, clock).await
            }
            None => Handled::Ack,
        }
    }

    /// Makes the message come back after `wait` (within SQS's 12 hours from
    /// the receive). If that fails, it comes back after the queue's own
    /// visibility timeout, and the chain says it is not yet due.
    pub(crate) async fn put_back(
        &self,
        received: &ReceivedMessage,
        wait: Duration,
        clock: &crate::BatchClock,
    ) -> Handled {
        let visibility = policy::visibility_for(wait, clock.since_receive());
        if let Err(e) = self.queue.retry_after(&received.receipt, visibility).await {
            tracing::warn!(queue_message_id = %received.queue_message_id, error = %e, "could not schedule the message's return");
        }
        Handled::Leave
    }

    /// A store or queue fault, or a step left undone: the message comes back
    /// soon, and again later the longer faults last, spending no attempt.
    pub(crate) async fn fault(&self, received: &ReceivedMessage) -> Handled {
        let wait = policy::fault_backoff(received.receive_count, self.fault_unit);
        if let Err(e) = self.queue.retry_after(&received.receipt, wait).await {
            tracing::warn!(queue_message_id = %received.queue_message_id, error = %e, "could not shorten the message's return after a fault");
        }
        Handled::Leave
    }

    /// An entry expires `retention` after it was made, but never before the
    /// rest of its chain could be made: earlier entries number later attempts.
    fn expiry(&self, made_at: OffsetDateTime, attempt: u32) -> OffsetDateTime {
        made_at + self.settings.retention + self.settings.retry_schedule.remaining_after(attempt)
    }

    fn entry(
        &self,
        message: &DeliveryMessage,
        endpoint: Option<&Endpoint>,
        due: &Due,
        status: AttemptStatus,
    ) -> DeliveryAttempt {
        let now = OffsetDateTime::now_utc();
        DeliveryAttempt {
            id: due.id,
            tenant_id: message.tenant_id.clone(),
            endpoint_id: message.endpoint_id,
            event_id: message.event.id.clone(),
            event_type: message.event.event_type.clone(),
            message_id: message.message_id,
            attempt: due.attempt,
            trigger: message.trigger_of_attempt(due.attempt),
            status,
            url: endpoint.map(|e| e.url.clone()).unwrap_or_default(),
            http_status: None,
            response_time_ms: None,
            error_class: None,
            error: None,
            response_body: None,
            request_headers: Default::default(),
            created_at: now,
            next_attempt_at: None,
            expires_at: self.expiry(now, self.settings.retry_schedule.max_attempts()),
            probe: false,
        }
    }
}

/// Where in its stagger a waiting delivery returns (0..1), fixed per
/// delivery so that the waiting ones spread out instead of returning at once.
fn spread_of(message: &DeliveryMessage) -> f64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    message.message_id.hash(&mut h);
    (h.finish() % 1_000) as f64 / 1_000.0
}
