//! The conformance suite: what every adapter of the storage and queue
//! ports must do, as generic async functions. [`crate::conformance_tests!`]
//! turns them into tests for one backend. Each function uses tenants and
//! names of its own, so tests can share one DynamoDB Local.

mod endpoints;
mod event_types;
mod events;
mod fan_out;
mod headers;
mod isolation;
mod log;
mod outcome;
mod queue;
mod rate;
mod record;
mod stats;
mod subscriptions;

pub use endpoints::*;
pub use event_types::*;
pub use events::*;
pub use fan_out::*;
pub use headers::*;
pub use isolation::*;
pub use log::*;
pub use outcome::*;
pub use queue::*;
pub use rate::*;
pub use record::*;
pub use stats::*;
pub use subscriptions::*;

use courier::endpoint::Endpoint;
use courier::event::to_millis;
use courier::ids::{EventId, TenantId};
use time::OffsetDateTime;

pub use crate::builders::{endpoint, event, unique_tenant};

/// Ids of a list of endpoints, for comparisons.
fn ids(endpoints: &[Endpoint]) -> Vec<courier::ids::EndpointId> {
    endpoints.iter().map(|e| e.id).collect()
}

/// A succeeded attempt on `endpoint` made at `at` (its id sorts by `at`),
/// expiring a day later.
pub fn attempt(
    tenant: &TenantId,
    endpoint: courier::ids::EndpointId,
    event_type: &str,
    at: OffsetDateTime,
) -> courier::attempt::DeliveryAttempt {
    use courier::attempt::{AttemptStatus, DeliveryAttempt};
    use courier::ids::{DeliveryId, MessageId};
    let at = to_millis(at);
    let millis = (at.unix_timestamp_nanos() / 1_000_000) as u64;
    DeliveryAttempt {
        id: DeliveryId::from_ulid(ulid::Ulid::from_parts(millis, rand_bits())),
        tenant_id: tenant.clone(),
        endpoint_id: endpoint,
        event_id: EventId::generate(),
        event_type: event_type.parse().expect("test event types are valid"),
        message_id: MessageId::generate(),
        attempt: 1,
        trigger: courier::message::Trigger::Event,
        status: AttemptStatus::Succeeded,
        url: "https://example.com/webhooks".into(),
        http_status: Some(200),
        response_time_ms: Some(42),
        error_class: None,
        error: None,
        response_body: Some("ok".into()),
        request_headers: Default::default(),
        created_at: at,
        next_attempt_at: None,
        expires_at: at + time::Duration::days(1),
        probe: false,
    }
}

/// Random low bits for a ULID (a fresh ULID's random part).
fn rand_bits() -> u128 {
    ulid::Ulid::new().random()
}

/// A time `ms` milliseconds after `base`.
pub fn ms_after(base: OffsetDateTime, ms: i64) -> OffsetDateTime {
    base + time::Duration::milliseconds(ms)
}
