//! The queue message for one delivery of one event to one endpoint. It
//! carries the event itself so an attempt needs no extra read to build the
//! body; every attempt of the delivery shares its `message_id`.

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::ids::{EndpointId, MessageId, TenantId};

/// What started a chain of attempts (or, for attempts after the first, `Retry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// Fan-out of a published event.
    Event,
    /// A later attempt of a chain after a failure.
    Retry,
    /// A resend asked for through the API.
    Manual,
    /// A test event asked for through the API.
    Test,
}

/// One delivery to do: the body of an SQS message (or an embedded one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryMessage {
    /// Shared by all attempts of this delivery.
    pub message_id: MessageId,
    /// Whose endpoint.
    pub tenant_id: TenantId,
    /// Where to.
    pub endpoint_id: EndpointId,
    /// Why this delivery exists: `Event`, `Manual` or `Test`.
    pub trigger: Trigger,
    /// What to send.
    pub event: Event,
}

impl DeliveryMessage {
    /// A new delivery of `event` to `endpoint_id`.
    pub fn new(endpoint_id: EndpointId, trigger: Trigger, event: Event) -> Self {
        Self {
            message_id: MessageId::generate(),
            tenant_id: event.tenant_id.clone(),
            endpoint_id,
            trigger,
            event,
        }
    }

    /// The queue body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a queue body; an error here sends the message to the DLQ.
    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// The trigger logged for attempt number `attempt` (1-based).
    pub fn trigger_of_attempt(&self, attempt: u32) -> Trigger {
        if attempt > 1 {
            Trigger::Retry
        } else {
            self.trigger
        }
    }
}

/// A message as handed over by a queue: SQS through Lambda, or the
/// embedded queue's consumer loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The queue's own id for the message (used for batch item failures).
    pub queue_message_id: String,
    /// Receipt handle of this receive, for visibility changes.
    pub receipt: String,
    /// The raw body.
    pub body: String,
    /// How many times the queue has handed the message out, this one
    /// included. Inflated by redeliveries that made no attempt, so it is
    /// only a hint, never the attempt number.
    pub receive_count: u32,
}
