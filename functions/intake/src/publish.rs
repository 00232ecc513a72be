//! Accepting an event: validate, store once, fan out one queue message per
//! subscribed, enabled endpoint.
//!
//! # Idempotency and at-least-once
//! The event is stored with a conditional write before any fan-out and
//! marked fanned-out only after every message is enqueued. Storing it also
//! leases its fan-out to this request (`FAN_OUT_LEASE`), so a concurrent
//! publish of the same id does not fan out a second time: it waits for the
//! first to finish and answers `duplicate: true`, or takes over once the
//! lease is released or has run out. A fan-out that stops early (queue
//! failure, deadline) records where it stopped and answers 503 naming the
//! event id; the producer's retry with that id continues from there. One
//! that dies without a word (out of memory, killed) is taken over from the
//! start once its lease runs out, and its deliveries, having deterministic
//! ids ([`courier::fan_out`]), are the same deliveries again, not new chains.

use std::sync::Arc;
use std::time::{Duration, Instant};

use courier::config::Settings;
use courier::event::{Event, to_millis};
use courier::event_type::EventTypeName;
use courier::ids::{EventId, TenantId};
use courier::ports::{DeliveryQueue, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::catalogue::Catalogue;
use courier::fan_out::{
    AcceptError, Accepted, FAN_OUT_BUDGET, FanOutStop, WhenHeld, store_and_fan_out,
};

/// How often a publish waiting on another request's fan-out looks again.
const HELD_POLL: Duration = Duration::from_millis(250);

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
    /// Endpoints this request enqueued the event for (0 for a duplicate; a
    /// resumed fan-out counts only those after its resume point).
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
    /// The event type is well formed but not in the catalogue: the same
    /// event is accepted once the type is added.
    #[error("{0}")]
    NotInCatalogue(String),
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
    /// The event is stored but not yet enqueued for every endpoint; a retry
    /// with the same id completes it.
    #[error(
        "the event was stored but not every endpoint could be queued ({0}); retry with the same id"
    )]
    FanOutIncomplete(FanOutStop),
    /// Any of the above, once the event's id is known.
    #[error("event {event_id}: {error}")]
    ForEvent {
        /// The event's id, given or generated (the retry must reuse it).
        event_id: String,
        /// What went wrong.
        error: Box<PublishError>,
    },
}

impl PublishError {
    /// This error about the event `event_id`.
    fn for_event(self, event_id: &EventId) -> Self {
        match self {
            already @ Self::ForEvent { .. } => already,
            error => Self::ForEvent {
                event_id: event_id.to_string(),
                error: Box::new(error),
            },
        }
    }

    /// The error without the event it is about.
    pub fn root(&self) -> &Self {
        match self {
            Self::ForEvent { error, .. } => error.root(),
            other => other,
        }
    }
}

/// The intake: validation, idempotent storage and fan-out.
pub struct Intake {
    store: Arc<dyn Store>,
    queue: Arc<dyn DeliveryQueue>,
    catalogue: Catalogue,
    settings: Settings,
}

impl Intake {
    /// An intake over the given store and queue.
    pub fn new(store: Arc<dyn Store>, queue: Arc<dyn DeliveryQueue>, settings: Settings) -> Self {
        Self {
            catalogue: Catalogue::new(store.clone()),
            store,
            queue,
            settings,
        }
    }

    /// Validates and accepts one event of `tenant`, fanning out for at most
    /// [`FAN_OUT_BUDGET`].
    pub async fn publish(
        &self,
        tenant: &TenantId,
        request: PublishRequest,
    ) -> Result<Published, PublishError> {
        let deadline = Instant::now() + FAN_OUT_BUDGET;
        let event = self.prepare(tenant, request).await?;
        self.accept(event, deadline).await
    }

    /// Stores a prepared event once and fans it out, stopping at `deadline`.
    pub async fn accept(&self, event: Event, deadline: Instant) -> Result<Published, PublishError> {
        let id = event.id.clone();
        self.store_and_fan_out(event, deadline)
            .await
            .map_err(|e| e.for_event(&id))
    }

    async fn store_and_fan_out(
        &self,
        event: Event,
        deadline: Instant,
    ) -> Result<Published, PublishError> {
        let expires_at = event.created_at + self.settings.retention;
        let (tenant, event_id) = (event.tenant_id.clone(), event.id.clone());
        let when_held = WhenHeld::Wait { poll: HELD_POLL };
        match store_and_fan_out(
            &*self.store,
            &*self.queue,
            event,
            expires_at,
            deadline,
            when_held,
        )
        .await
        {
            Ok(Accepted::Duplicate(stored)) => Ok(duplicate(&stored)),
            Ok(Accepted::Published {
                event,
                enqueued,
                resumed,
            }) => {
                tracing::info!(
                    tenant_id = %tenant, event_id = %event_id, event_type = %event.event_type,
                    endpoints = enqueued, resumed, "event accepted"
                );
                courier::metrics::event_accepted(enqueued);
                Ok(Published {
                    id: event_id.to_string(),
                    endpoints: enqueued,
                    duplicate: false,
                })
            }
            Err(AcceptError::Store(e)) => Err(e.into()),
            Err(AcceptError::Incomplete(reason)) => {
                tracing::error!(
                    tenant_id = %tenant, event_id = %event_id, error = %reason,
                    "fan-out incomplete; producer must retry"
                );
                Err(PublishError::FanOutIncomplete(reason))
            }
        }
    }

    /// Validates a request into the event to accept, without storing it.
    /// Errors found once the id is known name it.
    pub async fn prepare(
        &self,
        tenant: &TenantId,
        request: PublishRequest,
    ) -> Result<Event, PublishError> {
        let id = match request.id {
            Some(id) => id.parse::<EventId>().map_err(|e| invalid("id", e.0))?,
            None => EventId::generate(),
        };
        self.check(tenant, &id, &request.event_type, request.data)
            .await
            .map_err(|e| e.for_event(&id))
    }

    async fn check(
        &self,
        tenant: &TenantId,
        id: &EventId,
        event_type: &str,
        data: Box<RawValue>,
    ) -> Result<Event, PublishError> {
        let event_type: EventTypeName = event_type
            .parse()
            .map_err(|e: courier::event_type::EventTypeError| invalid("type", e.0))?;
        // Only the service itself publishes these (the operational webhooks).
        if event_type.is_reserved() {
            return Err(invalid(
                "type",
                format!(
                    "'{event_type}': event types under '{}' are the service's own operational webhooks and cannot be published",
                    courier::event_type::RESERVED_PREFIX
                ),
            ));
        }
        if !self.catalogue.contains(&event_type).await? {
            return Err(PublishError::NotInCatalogue(format!(
                "event type '{event_type}' is not in the catalogue; create it with POST /v1/event-types first"
            )));
        }
        if !data.get().trim_start().starts_with('{') {
            return Err(invalid("data", "data must be a JSON object".into()));
        }
        // Valid JSON, but refused by SQS's message character set.
        if data.get().contains(['\u{FFFE}', '\u{FFFF}']) {
            return Err(invalid(
                "data",
                "data contains the noncharacter U+FFFE or U+FFFF; escape it as \\ufffe / \\uffff"
                    .into(),
            ));
        }
        let event = Event {
            id: id.clone(),
            tenant_id: tenant.clone(),
            event_type,
            created_at: to_millis(OffsetDateTime::now_utc()),
            data,
        };
        let size = event.max_body_len(&self.settings.tenant_field);
        if size > self.settings.max_payload_bytes {
            return Err(PublishError::TooLarge {
                size,
                limit: self.settings.max_payload_bytes,
            });
        }
        Ok(event)
    }
}

fn invalid(field: &'static str, detail: String) -> PublishError {
    PublishError::Invalid { field, detail }
}

fn duplicate(stored: &Event) -> Published {
    tracing::info!(
        tenant_id = %stored.tenant_id, event_id = %stored.id, event_type = %stored.event_type,
        "duplicate event ignored"
    );
    Published {
        id: stored.id.to_string(),
        endpoints: 0,
        duplicate: true,
    }
}
