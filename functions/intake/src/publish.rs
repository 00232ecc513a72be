//! Accepting an event: validate, store once, fan out one queue message per
//! subscribed, enabled endpoint.
//!
//! # Idempotency and at-least-once
//! The event is stored with a conditional write before any fan-out and
//! marked fanned-out only after every message is enqueued. A repeat of a
//! finished event is a duplicate and is not fanned out again. A repeat of an
//! event whose fan-out failed half-way (the producer saw a 503) fans out to
//! every subscribed endpoint again, so no endpoint is ever missed; an
//! endpoint enqueued by the first try then receives the event twice with the
//! same `webhook-id`, which receivers deduplicate on.

use std::sync::Arc;

use courier::config::Settings;
use courier::event::{Event, to_millis};
use courier::event_type::EventTypeName;
use courier::ids::{EventId, TenantId};
use courier::message::{DeliveryMessage, Trigger};
use courier::ports::{DeliveryQueue, QueueError, Store, StoreError, StoredEvent};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

/// An event as a producer sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// Optional producer id (idempotency key); `evt_` + ULID when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// The event type; must be in the catalogue.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The producer's object, delivered unchanged.
    pub data: Box<RawValue>,
}

/// The answer to a publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    /// The event id (`webhook-id` at the receivers).
    pub id: String,
    /// Endpoints the event was fanned out to (0 for a duplicate).
    pub endpoints: usize,
    /// True when this id was already accepted and fanned out.
    pub duplicate: bool,
}

/// Why a publish was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A field is invalid.
    #[error("{detail}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The delivered body would exceed the limit.
    #[error("the event is {size} bytes once wrapped in its envelope; the limit is {limit}")]
    TooLarge {
        /// Envelope size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Storage failed; nothing was acknowledged.
    #[error("storage unavailable")]
    Store(#[from] StoreError),
    /// Some deliveries could not be enqueued; retry with the same event id.
    #[error(
        "event {event_id} was stored but not every endpoint could be queued ({source}); retry with the same id"
    )]
    FanOutIncomplete {
        /// The event's id, generated or given: the retry must reuse it.
        event_id: String,
        /// What the queue said.
        source: QueueError,
    },
}

/// The intake: validation, idempotent storage and fan-out.
pub struct Intake {
    store: Arc<dyn Store>,
    queue: Arc<dyn DeliveryQueue>,
    settings: Settings,
}

impl Intake {
    /// An intake over the given store and queue.
    pub fn new(store: Arc<dyn Store>, queue: Arc<dyn DeliveryQueue>, settings: Settings) -> Self {
        Self {
            store,
            queue,
            settings,
        }
    }

    /// Validates and accepts one event of `tenant`.
    pub async fn publish(
        &self,
        tenant: &TenantId,
        request: PublishRequest,
    ) -> Result<Published, PublishError> {
        let event = self.prepare(tenant, request).await?;
        self.accept(event).await
    }

    /// Stores a prepared event once and fans it out.
    pub async fn accept(&self, event: Event) -> Result<Published, PublishError> {
        let tenant = &event.tenant_id.clone();
        let expires_at = event.created_at + self.settings.retention;
        let event = match self.store.store_event(&event, expires_at).await? {
            StoredEvent::New => event,
            // Fan out what was stored first, so every copy carries the same body.
            StoredEvent::Unfinished(stored) => stored,
            StoredEvent::Duplicate(stored) => {
                tracing::info!(tenant_id = %tenant, event_id = %stored.id, event_type = %stored.event_type, "duplicate event ignored");
                return Ok(Published {
                    id: stored.id.to_string(),
                    endpoints: 0,
                    duplicate: true,
                });
            }
        };
        let endpoints = self
            .store
            .subscribed_endpoints(tenant, &event.event_type)
            .await?;
        let messages: Vec<DeliveryMessage> = endpoints
            .iter()
            .map(|ep| DeliveryMessage::new(*ep, Trigger::Event, event.clone()))
            .collect();
        if let Err(e) = self.queue.enqueue(&messages).await {
            tracing::error!(tenant_id = %tenant, event_id = %event.id, error = %e, "fan-out incomplete; producer must retry");
            return Err(PublishError::FanOutIncomplete {
                event_id: event.id.to_string(),
                source: e,
            });
        }
        self.store.mark_fanned_out(tenant, &event.id).await?;
        tracing::info!(
            tenant_id = %tenant, event_id = %event.id, event_type = %event.event_type,
            endpoints = messages.len(), "event accepted"
        );
        courier::metrics::event_accepted(messages.len());
        Ok(Published {
            id: event.id.to_string(),
            endpoints: messages.len(),
            duplicate: false,
        })
    }

    /// Validates a request into the event to accept, without storing it.
    pub async fn prepare(
        &self,
        tenant: &TenantId,
        request: PublishRequest,
    ) -> Result<Event, PublishError> {
        let invalid = |field: &'static str, detail: String| PublishError::Invalid { field, detail };
        let id = match request.id {
            Some(id) => id.parse::<EventId>().map_err(|e| invalid("id", e.0))?,
            None => EventId::generate(),
        };
        let event_type: EventTypeName = request
            .event_type
            .parse()
            .map_err(|e: courier::event_type::EventTypeError| invalid("type", e.0))?;
        if self.store.event_type(&event_type).await?.is_none() {
            return Err(invalid(
                "type",
                format!(
                    "event type '{event_type}' is not in the catalogue; create it with POST /v1/event-types first"
                ),
            ));
        }
        if !request.data.get().trim_start().starts_with('{') {
            return Err(invalid("data", "data must be a JSON object".into()));
        }
        // Valid JSON, but refused by SQS's message character set.
        if request.data.get().contains(['\u{FFFE}', '\u{FFFF}']) {
            return Err(invalid(
                "data",
                "data contains the noncharacter U+FFFE or U+FFFF; escape it as \\ufffe / \\uffff"
                    .into(),
            ));
        }
        let event = Event {
            id,
            tenant_id: tenant.clone(),
            event_type,
            created_at: to_millis(OffsetDateTime::now_utc()),
            data: request.data,
        };
        let size = event.max_body_len();
        if size > self.settings.max_payload_bytes {
            return Err(PublishError::TooLarge {
                size,
                limit: self.settings.max_payload_bytes,
            });
        }
        Ok(event)
    }
}
