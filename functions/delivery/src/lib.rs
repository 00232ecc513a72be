//! The delivery function: takes a batch of queued deliveries, signs and
//! POSTs each one, logs the attempt, and decides per message whether it is
//! done (acknowledged) or comes back later (a batch item failure whose
//! visibility was set to the next retry delay, or to a short wait after a
//! fault).
//!
//! # Records
//! The delivery log is the only record of an attempt. Attempt `n` of a
//! delivery is logged under an id every copy of the message computes the
//! same way ([`courier::ids::DeliveryId::for_attempt`]: the message id, the
//! number, and when the previous entry scheduled it), with one conditional
//! write that fails if the entry exists: that write is the attempt's claim
//! and its log entry at once. A copy finds where the delivery stands by
//! reading the chain from attempt 1 (one read for a first attempt), so:
//! - a function that dies after the POST and before the write leaves no
//!   entry: the next receive makes the attempt again under the same number
//!   (the receiver may see it twice, with the same `webhook-id`) and logs it
//!   once;
//! - a duplicate SQS copy finds the entry and stops, or, if both copies POST
//!   at the same moment, loses the write and logs nothing;
//! - receive counts (inflated by throttles, timeouts, faults) never number
//!   attempts.
//!
//! The statistics and the endpoint's failure counter are derived from the
//! entries, exactly once: the embedded store counts an entry in the same
//! step as it logs it; DynamoDB's stream carries each new entry back to
//! this function (see `courier_aws::accounting`). A transaction of entry
//! and counts would cost about four write units per delivery; this costs
//! one, plus a share of one counting write per endpoint and stream batch.
//!
//! # Faults
//! A store or queue error spends no attempt: the message is made visible
//! again after [`courier::policy::fault_backoff`] (1 s, doubling to 15 min),
//! so an hour-long outage costs about a dozen receives of the queue's
//! redrive budget of 100. Attempts are not started when the Lambda
//! deadline leaves no time to finish and log them.

mod attempt;
mod guard;
mod operational;
mod rate;
mod sender;
mod sqs;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use courier::attempt::{AttemptStatus, DeliveryAttempt};
use courier::circuit::HealthRules;
use courier::config::Settings;
use courier::endpoint::Endpoint;
use courier::ids::{EndpointId, TenantId};
use courier::message::{DeliveryMessage, ReceivedMessage};
use courier::operational::Operations;
use courier::ports::{DeliveryQueue, Store, StoreError};
use futures::StreamExt;
use tokio::time::Instant;

pub use guard::{Blocked, PublicResolver, check_literal};
pub use sender::{AttemptReport, Sender, SenderError};
pub use sqs::{batch_response, deadline_of, handle_sqs_event, received_messages};
pub use stream::{StreamError, count_and_report, handle_stream_event};

/// An endpoint of a batch and what reading it gave.
type EndpointRead = ((TenantId, EndpointId), Result<Option<Endpoint>, StoreError>);

/// Messages of a batch delivered at the same time.
const CONCURRENCY: usize = 32;
/// Time kept after an attempt's request to log it and set the message's
/// visibility: the SDK's operation timeout for one write, and a margin.
const RECORD_BUDGET: Duration = Duration::from_secs(12);

/// Delivers batches of queued messages.
pub struct Deliverer {
    store: Arc<dyn Store>,
    queue: Arc<dyn DeliveryQueue>,
    sender: Sender,
    settings: Settings,
    /// The circuit breaker's and auto-disable's rules, from the settings.
    rules: HealthRules,
    /// [`courier::policy::fault_backoff`]'s unit: 1 s, scaled down in tests.
    fault_unit: Duration,
    /// Publishes the operational webhooks about what counting did.
    operations: Operations,
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handled {
    /// Done: the message may be deleted.
    Ack,
    /// Report as a batch item failure: the queue hands it out again after
    /// the visibility set for it.
    Leave,
}

/// The batch's clock: when it was received and when the function must stop.
pub(crate) struct BatchClock {
    received: Instant,
    deadline: Option<Instant>,
}

impl BatchClock {
    /// How long ago the batch was received (for SQS's 12-hour limit).
    fn since_receive(&self) -> Duration {
        self.received.elapsed()
    }

    /// Time left before the deadline (a day when there is none).
    fn left(&self) -> Duration {
        self.deadline.map_or(Duration::from_secs(86_400), |d| {
            d.saturating_duration_since(Instant::now())
        })
    }

    /// True when an attempt started now can finish and be logged in time.
    fn time_for_an_attempt(&self, delivery_timeout: Duration) -> bool {
        self.deadline
            .is_none_or(|d| Instant::now() + delivery_timeout + RECORD_BUDGET <= d)
    }
}

impl Deliverer {
    /// A deliverer over the given store and queue.
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn DeliveryQueue>,
        settings: Settings,
    ) -> Result<Self, SenderError> {
        let sender = Sender::new(&settings)?;
        Ok(Self {
            operations: Operations::new(store.clone(), queue.clone(), &settings),
            store,
            queue,
            sender,
            rules: settings.health_rules(),
            settings,
            fault_unit: courier::policy::FAULT_BACKOFF_UNIT,
        })
    }

    /// Scales the waits after faults (tests play an hour-long outage in
    /// seconds); the production unit is 1 s.
    pub fn with_fault_backoff_unit(mut self, unit: Duration) -> Self {
        self.fault_unit = unit;
        self
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The publisher of operational webhooks (the stream handler publishes
    /// through it too).
    pub fn operations(&self) -> &Operations {
        &self.operations
    }

    /// The circuit breaker's and auto-disable's rules in force (the stream
    /// handler counts with them).
    pub fn rules(&self) -> &HealthRules {
        &self.rules
    }

    /// Handles one batch with no deadline; see [`Self::handle_batch_until`].
    pub async fn handle_batch(&self, messages: &[ReceivedMessage]) -> Vec<String> {
        self.handle_batch_until(messages, None).await
    }

    /// Handles one batch and returns the `queue_message_id`s to report as
    /// batch item failures (retries and messages to look at again); every
    /// other message is done and may be deleted. No attempt is started that
    /// could not be made and logged before `deadline`.
    pub async fn handle_batch_until(
        &self,
        messages: &[ReceivedMessage],
        deadline: Option<Instant>,
    ) -> Vec<String> {
        let clock = BatchClock {
            received: Instant::now(),
            deadline,
        };
        let parsed: Vec<Option<DeliveryMessage>> = messages
            .iter()
            .map(|m| {
                let parsed = DeliveryMessage::from_json(&m.body);
                if let Err(e) = &parsed {
                    // Left un-acknowledged so the redrive policy moves it to
                    // the dead-letter queue: never dropped silently.
                    tracing::error!(queue_message_id = %m.queue_message_id, error = %e, "unparseable delivery message");
                }
                parsed.ok()
            })
            .collect();
        let endpoints = self.load_endpoints(&parsed).await;
        let (clock, endpoints) = (&clock, endpoints.as_slice());
        let pairs = messages.iter().zip(&parsed);
        let handled: Vec<Handled> = if messages.len() <= CONCURRENCY {
            // SQS's usual 10: one allocation for the batch's futures, polled
            // in place, no task per message.
            futures::future::join_all(
                pairs.map(|(m, p)| self.handle_one(m, p.as_ref(), endpoints, clock)),
            )
            .await
        } else {
            // Collected first: a `Send` future cannot hold the closure over
            // borrowed pairs across an await (the compiler cannot prove it
            // general over their lifetimes).
            bounded(
                pairs
                    .map(|(m, p)| self.handle_one(m, p.as_ref(), endpoints, clock))
                    .collect(),
            )
            .await
        };
        messages
            .iter()
            .zip(handled)
            .filter(|(_, handled)| *handled == Handled::Leave)
            .map(|(m, _)| m.queue_message_id.clone())
            .collect()
    }

    /// Handles one message of a batch whose endpoints were read.
    async fn handle_one(
        &self,
        received: &ReceivedMessage,
        message: Option<&DeliveryMessage>,
        endpoints: &[EndpointRead],
        clock: &BatchClock,
    ) -> Handled {
        let Some(message) = message else {
            return self.poison(received).await;
        };
        let read = endpoints
            .iter()
            .find(|(key, _)| key.1 == message.endpoint_id && key.0 == message.tenant_id);
        match read.map(|(_, found)| found) {
            Some(Ok(endpoint)) => {
                self.deliver(received, message, endpoint.as_ref(), clock)
                    .await
            }
            // The endpoint could not be read: a fault.
            _ => self.fault(received).await,
        }
    }

    /// An unparseable message will never parse: make it visible again at
    /// once so the redrive policy moves it to the dead-letter queue after
    /// `maxReceiveCount` quick receives, instead of one visibility timeout each.
    async fn poison(&self, received: &ReceivedMessage) -> Handled {
        if let Err(e) = self
            .queue
            .retry_after(&received.receipt, Duration::ZERO)
            .await
        {
            tracing::warn!(queue_message_id = %received.queue_message_id, error = %e, "could not hurry a poison message to the DLQ");
        }
        Handled::Leave
    }

    /// Each endpoint of the batch read once; a batch names at most a few
    /// (SQS hands out 10 messages), so a list is searched faster than a map.
    async fn load_endpoints(&self, batch: &[Option<DeliveryMessage>]) -> Vec<EndpointRead> {
        let mut keys: Vec<(TenantId, EndpointId)> = Vec::with_capacity(batch.len());
        keys.extend(
            batch
                .iter()
                .flatten()
                .map(|m| (m.tenant_id.clone(), m.endpoint_id)),
        );
        keys.sort();
        keys.dedup();
        let read = |key: (TenantId, EndpointId)| async move {
            let found = self.store.endpoint(&key.0, key.1).await;
            if let Err(e) = &found {
                tracing::error!(tenant_id = %key.0, endpoint_id = %key.1, error = %e, "endpoint lookup failed");
            }
            (key, found)
        };
        if keys.len() <= CONCURRENCY {
            futures::future::join_all(keys.into_iter().map(read)).await
        } else {
            bounded(keys.into_iter().map(read).collect()).await
        }
    }
}

/// Runs the futures [`CONCURRENCY`] at a time and returns their outputs in
/// order (a batch larger than the event source's usual 10).
async fn bounded<F: Future>(work: Vec<F>) -> Vec<F::Output> {
    futures::stream::iter(work)
        .buffered(CONCURRENCY)
        .collect()
        .await
}

/// The attempt for CloudWatch: its metrics always; a JSON log line for
/// failed and skipped attempts at the default level (successes at `debug`:
/// the log entry and the metrics carry them). Never the secret or payload.
fn log_attempt(e: &DeliveryAttempt) {
    courier::metrics::attempt(e);
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
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
            )
        };
    }
    if e.status == AttemptStatus::Succeeded {
        line!(debug);
    } else {
        line!(info);
    }
}
