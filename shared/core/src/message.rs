//! The queue message for one delivery of one event to one endpoint. It
//! carries the event itself so an attempt needs no extra read to build the
//! body; every attempt of the delivery shares its `message_id`.
//!
//! # Format versions
//! Messages wait in the queue across deploys (retries up to 12 h apart, the
//! dead-letter queue for 14 days), so the code reads every format an older
//! release may have queued. Each message says its `format`:
//!
//! | format | written by | fields |
//! |---|---|---|
//! | 1 | the first release (no `format` field) | `messageId`, `tenantId`, `endpointId`, `trigger`, `event` |
//! | 2 | this release | format 1 plus `format` |
//!
//! The rule: a field may be added only with a default that gives an older
//! message its old meaning, and then the format stays; a change an older
//! message cannot be read under (a field renamed, removed or given a new
//! meaning) bumps [`MESSAGE_FORMAT`] and keeps reading the older formats.
//! A new [`Trigger`] (such as `recover`) keeps the format too: no older
//! message carries it, and an older release refuses it like any message it
//! cannot read (below).
//! A message of a format newer than the code (a rollback) is refused like
//! any unreadable one: it ends in the dead-letter queue, from which it is
//! redriven once the newer code runs again. `events/delivery-sqs-batch-format-1.json`
//! is a format-1 message that the tests deliver with today's code.

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
    /// A recovery of an endpoint's failed or skipped deliveries, asked for
    /// through the API (`POST .../recover`); otherwise like `Manual`.
    Recover,
}

/// The message format this code writes; it reads every format up to it.
pub const MESSAGE_FORMAT: u32 = 2;

/// Messages queued before formats were numbered are format 1.
fn unnumbered() -> u32 {
    1
}

/// One delivery to do: the body of an SQS message (or an embedded one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryMessage {
    /// The message's format (see the module docs).
    #[serde(default = "unnumbered")]
    pub format: u32,
    /// Shared by all attempts of this delivery.
    pub message_id: MessageId,
    /// Whose endpoint.
    pub tenant_id: TenantId,
    /// Where to.
    pub endpoint_id: EndpointId,
    /// Why this delivery exists: `Event`, `Manual`, `Test` or `Recover`.
    pub trigger: Trigger,
    /// What to send.
    pub event: Event,
}

impl DeliveryMessage {
    /// A new delivery of `event` to `endpoint_id`.
    pub fn new(endpoint_id: EndpointId, trigger: Trigger, event: Event) -> Self {
        Self {
            format: MESSAGE_FORMAT,
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

    /// Parses a queue body of any format up to [`MESSAGE_FORMAT`]; an
    /// error here sends the message to the DLQ.
    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        let message: Self = serde_json::from_str(body)?;
        if message.format > MESSAGE_FORMAT {
            return Err(serde::de::Error::custom(format!(
                "message format {} is newer than this code reads ({MESSAGE_FORMAT}): a newer release queued it",
                message.format
            )));
        }
        Ok(message)
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
    /// The raw body; shared, as the embedded queue keeps it too.
    pub body: std::sync::Arc<str>,
    /// How many times the queue has handed the message out, this one
    /// included. Inflated by redeliveries that made no attempt, so it is
    /// only a hint, never the attempt number.
    pub receive_count: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT_1: &str = r#"{"messageId":"msg_01J9Z3W5Q8R7T6Y5X4V3B2N1M2","tenantId":"store_66f1","endpointId":"ep_01J9Z3W5Q8R7T6Y5X4V3B2N1M0","trigger":"event","event":{"id":"evt_1","tenantId":"store_66f1","type":"booking.created","createdAt":"2026-04-23T14:22:11.823Z","data":{"b":1,"a":2}}}"#;

    #[test]
    fn a_first_release_message_reads_as_format_1() {
        let m = DeliveryMessage::from_json(FORMAT_1).unwrap();
        assert_eq!(m.format, 1);
        assert_eq!(m.event.data.get(), r#"{"b":1,"a":2}"#);
        assert_eq!(m.trigger, Trigger::Event);
    }

    #[test]
    fn messages_are_written_in_the_current_format_and_read_back() {
        let m = DeliveryMessage::from_json(FORMAT_1).unwrap();
        let fresh = DeliveryMessage::new(m.endpoint_id, Trigger::Manual, m.event.clone());
        let json = fresh.to_json();
        assert!(json.starts_with(r#"{"format":2,"#), "{json}");
        assert_eq!(DeliveryMessage::from_json(&json).unwrap(), fresh);
    }

    #[test]
    fn triggers_are_written_in_lowercase() {
        for (trigger, name) in [
            (Trigger::Event, "event"),
            (Trigger::Retry, "retry"),
            (Trigger::Manual, "manual"),
            (Trigger::Test, "test"),
            (Trigger::Recover, "recover"),
        ] {
            assert_eq!(serde_json::to_value(trigger).unwrap(), name);
            assert_eq!(
                serde_json::from_value::<Trigger>(name.into()).unwrap(),
                trigger
            );
        }
    }

    #[test]
    fn a_newer_format_is_refused_by_name() {
        let newer = FORMAT_1.replacen('{', r#"{"format":3,"#, 1);
        let err = DeliveryMessage::from_json(&newer).unwrap_err().to_string();
        assert!(err.contains("message format 3 is newer"), "{err}");
    }
}
