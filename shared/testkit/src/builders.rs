//! The one set of test builders: tenants no other test uses, endpoints and
//! events. Every test crate takes them from here.

use courier::endpoint::Endpoint;
use courier::event::{Event, to_millis};
use courier::ids::{EventId, TenantId};
use serde_json::value::RawValue;
use time::OffsetDateTime;

/// A tenant id no other test uses (tests share DynamoDB tables).
pub fn unique_tenant() -> TenantId {
    format!("t_{}", ulid::Ulid::new())
        .parse()
        .expect("a ULID makes a valid tenant id")
}

/// A new enabled endpoint of `tenant` with the given filters, at a public
/// `https` URL (not stored).
pub fn endpoint(tenant: &TenantId, filters: &[&str]) -> Endpoint {
    endpoint_at(tenant, "https://example.com/webhooks", filters)
}

/// A new enabled endpoint of `tenant` at `url` with the given filters.
pub fn endpoint_at(tenant: &TenantId, url: &str, filters: &[&str]) -> Endpoint {
    Endpoint::new(
        tenant.clone(),
        url.into(),
        filters
            .iter()
            .map(|f| f.parse().expect("test filters are valid"))
            .collect(),
        OffsetDateTime::now_utc(),
    )
}

/// An event of `tenant` with a fresh id.
pub fn event(tenant: &TenantId, event_type: &str, data: &str) -> Event {
    Event {
        id: EventId::generate(),
        tenant_id: tenant.clone(),
        event_type: event_type.parse().expect("test event types are valid"),
        created_at: to_millis(OffsetDateTime::now_utc()),
        data: RawValue::from_string(data.to_owned()).expect("test data is JSON"),
    }
}
