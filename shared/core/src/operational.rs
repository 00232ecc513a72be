//! Operational webhooks: the platform hears what happens to its tenants'
//! endpoints through the same machinery its tenants use. Three built-in
//! event types, published under the operations tenant (`OPERATIONS_TENANT`,
//! default `platform`) and delivered, signed as usual, to its endpoints:
//!
//! | type | when | data |
//! |---|---|---|
//! | `webhooks.endpoint.disabled` | counting disabled an endpoint (consecutive failures, or 410 Gone; not a PATCH) | `tenantId`, `endpointId`, `url`, `reason`, `consecutiveFailures` |
//! | `webhooks.endpoint.enabled` | a PATCH turned a disabled endpoint back on | `tenantId`, `endpointId`, `url` |
//! | `webhooks.delivery.exhausted` | a delivery failed its last attempt (any trigger) | `tenantId`, `endpointId`, `eventId`, `eventType`, `attempts`, `httpStatus`, `error` |
//!
//! Nothing is published about the operations tenant's own endpoints: a
//! failing operations endpoint would otherwise report itself to itself.
//! The `webhooks.` prefix is reserved ([`crate::event_type::EventTypeName::is_reserved`]):
//! producers cannot publish it through the intake, and the catalogue, which
//! lists the built-ins ([`crate::event_type::EventType::built_ins`]), cannot create or delete
//! such a type.
//! Ordinary tenants' endpoints may subscribe to the built-ins (a `*` filter
//! does anyway); they simply never receive one.
//!
//! # Once per fact
//! Each event's id is derived from the fact it reports
//! ([`EventId::derived`]): the endpoint and its revision after the disabling
//! or the re-enabling (both bump it), or the exhausted entry's id. So a
//! publish that is repeated (a retried stream batch, a redelivered message)
//! is a duplicate in the event store, not a second event, and its fan-out
//! resumes where a stopped one left off ([`crate::fan_out`]).
//!
//! # Who publishes
//! Where the counting happens: the delivery function right after logging
//! an attempt on the embedded store (which counts inline, see
//! [`crate::ports::Recorded`]), its stream handler on DynamoDB, and the API
//! after a re-enabling PATCH.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::attempt::{AttemptStatus, DeliveryAttempt};
use crate::config::Settings;
use crate::endpoint::{DisabledReason, Endpoint};
use crate::event::{Event, to_millis};
use crate::event_type::EventTypeName;
use crate::fan_out::{
    AcceptError, Accepted, FAN_OUT_BUDGET, FanOutStop, WhenHeld, store_and_fan_out,
};
use crate::ids::{EndpointId, EventId, TenantId};
use crate::ports::{DeliveryQueue, Store, StoreError};

/// An endpoint was disabled by its failures or a 410.
pub const ENDPOINT_DISABLED: &str = "webhooks.endpoint.disabled";
/// A disabled endpoint was enabled again.
pub const ENDPOINT_ENABLED: &str = "webhooks.endpoint.enabled";
/// A delivery failed its last attempt.
pub const DELIVERY_EXHAUSTED: &str = "webhooks.delivery.exhausted";
/// True when `entry` ends its delivery in failure: a failed attempt with
/// no next one scheduled (the last of the schedule, or a 410).
pub fn is_exhausted(entry: &DeliveryAttempt) -> bool {
    entry.status == AttemptStatus::Failed && entry.next_attempt_at.is_none()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DisabledData<'a> {
    tenant_id: &'a TenantId,
    endpoint_id: EndpointId,
    url: &'a str,
    reason: DisabledReason,
    consecutive_failures: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnabledData<'a> {
    tenant_id: &'a TenantId,
    endpoint_id: EndpointId,
    url: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExhaustedData<'a> {
    tenant_id: &'a TenantId,
    endpoint_id: EndpointId,
    event_id: &'a EventId,
    event_type: &'a EventTypeName,
    attempts: u32,
    http_status: Option<u16>,
    error: Option<&'a str>,
}

/// The `webhooks.endpoint.disabled` event about `endpoint` as stored after
/// counting disabled it; `None` when it is not disabled by counting or
/// belongs to the operations tenant.
pub fn disabled_event(ops: &TenantId, endpoint: &Endpoint, now: OffsetDateTime) -> Option<Event> {
    let reason = endpoint.disabled_reason.filter(|r| {
        !endpoint.enabled
            && matches!(
                r,
                DisabledReason::ConsecutiveFailures | DisabledReason::Gone
            )
    })?;
    let data = DisabledData {
        tenant_id: &endpoint.tenant_id,
        endpoint_id: endpoint.id,
        url: &endpoint.url,
        reason,
        consecutive_failures: endpoint.consecutive_failures,
    };
    let fact = format!("{}\n{}", endpoint.id, endpoint.revision);
    notice(
        ops,
        &endpoint.tenant_id,
        ENDPOINT_DISABLED,
        &fact,
        &data,
        now,
    )
}

/// The `webhooks.endpoint.enabled` event about `endpoint` as stored after
/// it was re-enabled; `None` when it is not enabled or belongs to the
/// operations tenant.
pub fn enabled_event(ops: &TenantId, endpoint: &Endpoint, now: OffsetDateTime) -> Option<Event> {
    if !endpoint.enabled {
        return None;
    }
    let data = EnabledData {
        tenant_id: &endpoint.tenant_id,
        endpoint_id: endpoint.id,
        url: &endpoint.url,
    };
    let fact = format!("{}\n{}", endpoint.id, endpoint.revision);
    notice(
        ops,
        &endpoint.tenant_id,
        ENDPOINT_ENABLED,
        &fact,
        &data,
        now,
    )
}

/// The `webhooks.delivery.exhausted` event about a logged entry; `None`
/// when the entry is not [`is_exhausted`] or belongs to the operations tenant.
pub fn exhausted_event(ops: &TenantId, entry: &DeliveryAttempt) -> Option<Event> {
    if !is_exhausted(entry) {
        return None;
    }
    let data = ExhaustedData {
        tenant_id: &entry.tenant_id,
        endpoint_id: entry.endpoint_id,
        event_id: &entry.event_id,
        event_type: &entry.event_type,
        attempts: entry.attempt,
        http_status: entry.http_status,
        error: entry.error.as_deref(),
    };
    let fact = format!("{}\n{}", entry.endpoint_id, entry.id);
    let at = entry.created_at;
    notice(ops, &entry.tenant_id, DELIVERY_EXHAUSTED, &fact, &data, at)
}

/// An event of the operations tenant about `about`'s `fact`.
fn notice(
    ops: &TenantId,
    about: &TenantId,
    event_type: &str,
    fact: &str,
    data: &impl Serialize,
    at: OffsetDateTime,
) -> Option<Event> {
    if about == ops {
        return None; // no loops: the operations tenant is not told about itself
    }
    let data = serde_json::to_string(data).ok()?;
    Some(Event {
        // Newline-separated: no id or type contains one.
        id: EventId::derived(&format!("{event_type}\n{about}\n{fact}")),
        tenant_id: ops.clone(),
        event_type: event_type.parse().ok()?,
        created_at: to_millis(at),
        data: RawValue::from_string(data).ok()?,
    })
}

/// Why an operational event was not published completely; publishing it
/// again continues where it stopped.
#[derive(Debug, thiserror::Error)]
pub enum OperationalError {
    /// Reading the endpoint or storing the event failed.
    #[error("operational event not stored: {0}")]
    Store(#[from] StoreError),
    /// The event is stored but not yet queued for every operations endpoint.
    #[error("operational event {event_id} not queued for every endpoint: {reason}")]
    Incomplete {
        /// The event's id.
        event_id: EventId,
        /// Why the fan-out stopped.
        reason: FanOutStop,
    },
}

/// Publishes operational events to the operations tenant's endpoints.
#[derive(Clone)]
pub struct Operations {
    store: Arc<dyn Store>,
    queue: Arc<dyn DeliveryQueue>,
    tenant: TenantId,
    retention: Duration,
}

impl Operations {
    /// A publisher over `store` and `queue` for `settings.operations_tenant`.
    pub fn new(store: Arc<dyn Store>, queue: Arc<dyn DeliveryQueue>, settings: &Settings) -> Self {
        Self {
            store,
            queue,
            tenant: settings.operations_tenant.clone(),
            retention: settings.retention,
        }
    }

    /// The operations tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Publishes `disabled` for an endpoint that counting disabled, read
    /// back for its URL and revision (a repeat finds the same revision).
    pub async fn endpoint_disabled(
        &self,
        tenant: &TenantId,
        id: EndpointId,
    ) -> Result<(), OperationalError> {
        if *tenant == self.tenant {
            return Ok(());
        }
        let Some(endpoint) = self.store.endpoint(tenant, id).await? else {
            return Ok(()); // deleted since: nobody to tell about
        };
        match disabled_event(&self.tenant, &endpoint, OffsetDateTime::now_utc()) {
            Some(event) => self.publish(event).await,
            None => Ok(()),
        }
    }

    /// Publishes `enabled` for an endpoint a PATCH turned back on, as stored.
    pub async fn endpoint_enabled(&self, endpoint: &Endpoint) -> Result<(), OperationalError> {
        match enabled_event(&self.tenant, endpoint, OffsetDateTime::now_utc()) {
            Some(event) => self.publish(event).await,
            None => Ok(()),
        }
    }

    /// Publishes `exhausted` when `entry` failed its delivery's last attempt.
    pub async fn delivery_exhausted(
        &self,
        entry: &DeliveryAttempt,
    ) -> Result<(), OperationalError> {
        match exhausted_event(&self.tenant, entry) {
            Some(event) => self.publish(event).await,
            None => Ok(()),
        }
    }

    /// Stores the event once and fans it out to the operations tenant's
    /// subscribed endpoints; a repeat of a finished one does nothing. One
    /// that another publisher holds is left to it.
    async fn publish(&self, event: Event) -> Result<(), OperationalError> {
        let expires_at = event.created_at + self.retention;
        let deadline = Instant::now() + FAN_OUT_BUDGET;
        let event_id = event.id.clone();
        let accepted = store_and_fan_out(
            &*self.store,
            &*self.queue,
            event,
            expires_at,
            deadline,
            WhenHeld::GiveUp,
        )
        .await;
        match accepted {
            Ok(Accepted::Published {
                event, enqueued, ..
            }) => {
                tracing::info!(
                    event_id = %event.id, event_type = %event.event_type,
                    endpoints = enqueued, "operational event published"
                );
                Ok(())
            }
            Ok(Accepted::Duplicate(_)) => Ok(()),
            Err(AcceptError::Store(e)) => Err(e.into()),
            Err(AcceptError::Incomplete(reason)) => {
                Err(OperationalError::Incomplete { event_id, reason })
            }
        }
    }
}

#[cfg(test)]
mod tests;
