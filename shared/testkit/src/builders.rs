//! The one set of test builders: tenants no other test uses, endpoints and
//! events, and what a test stores as the API would (catalogue entries, API
//! keys, portal sessions). Every test crate takes them from here.

use courier::credentials::{ApiKey, BearerSecret, CredentialStore, PortalSession};
use courier::endpoint::Endpoint;
use courier::event::{Event, to_millis};
use courier::event_type::EventType;
use courier::ids::{EventId, TenantId};
use courier::ports::{EventTypeStore, StoreError};
use serde_json::value::RawValue;
use time::{Duration, OffsetDateTime};

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

/// Adds `name` to the catalogue unless it is there (tests share tables on
/// the AWS backend, and the catalogue is global).
pub async fn ensure_event_type(store: &dyn EventTypeStore, name: &str) {
    let event_type = EventType {
        name: name.parse().expect("test event types are valid"),
        description: String::new(),
        created_at: OffsetDateTime::now_utc(),
    };
    match store.create_event_type(&event_type).await {
        Ok(()) | Err(StoreError::AlreadyExists) => {}
        Err(e) => panic!("storing event type {name}: {e}"),
    }
}

/// Stores an API key of `tenant` named `name` as the API would; the key
/// and its secret.
pub async fn api_key(
    store: &dyn CredentialStore,
    tenant: &TenantId,
    name: &str,
) -> (ApiKey, String) {
    let (key, secret) = ApiKey::new(tenant.clone(), name.into(), OffsetDateTime::now_utc());
    store
        .create_api_key(&key, &secret.hash())
        .await
        .expect("store the API key");
    (key, secret.expose().to_owned())
}

/// Stores a portal session of `tenant`, opened an hour ago and ending at
/// `expires_at`, as the API would; its token.
pub async fn portal_token(
    store: &dyn CredentialStore,
    tenant: &TenantId,
    read_only: bool,
    expires_at: OffsetDateTime,
) -> String {
    let session = PortalSession {
        tenant_id: tenant.clone(),
        read_only,
        created_at: OffsetDateTime::now_utc() - Duration::hours(1),
        expires_at,
    };
    let token = BearerSecret::portal_token();
    store
        .create_portal_session(&session, &token.hash())
        .await
        .expect("store the portal session");
    token.expose().to_owned()
}
