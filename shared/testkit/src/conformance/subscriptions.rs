//! `subscribed_endpoints`: the fan-out lookup.

use courier::endpoint::Endpoint;
use courier::ids::{EndpointId, TenantId};
use courier::ports::Store;

use super::{endpoint, unique_tenant};

async fn subscribed(store: &dyn Store, tenant: &TenantId, event_type: &str) -> Vec<EndpointId> {
    let mut ids = store
        .subscribed_endpoints(tenant, &event_type.parse().unwrap())
        .await
        .unwrap();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "an endpoint was listed twice");
    ids
}

fn sorted(eps: &[&Endpoint]) -> Vec<EndpointId> {
    let mut ids: Vec<EndpointId> = eps.iter().map(|e| e.id).collect();
    ids.sort();
    ids
}

async fn update(store: &dyn Store, ep: &Endpoint, change: impl FnOnce(&mut Endpoint)) -> Endpoint {
    let current = store.endpoint(&ep.tenant_id, ep.id).await.unwrap().unwrap();
    let mut updated = current.clone();
    change(&mut updated);
    updated.revision += 1;
    store.update_endpoint(&current, &updated).await.unwrap();
    updated
}

/// `*` selects every type, `booking.*` every type under `booking.`, a
/// name only itself; an endpoint matching several ways is listed once.
pub async fn subscribed_endpoints_match_exact_all_and_prefix_filters(store: &dyn Store) {
    let t = unique_tenant();
    let all = endpoint(&t, &["*"]);
    let booking = endpoint(&t, &["booking.*"]);
    let created = endpoint(&t, &["booking.created"]);
    let order = endpoint(&t, &["order.created"]);
    let several = endpoint(
        &t,
        &["booking.cancelled", "booking.*", "booking.created", "*"],
    );
    let nested = endpoint(&t, &["booking.created.*"]);
    for ep in [&all, &booking, &created, &order, &several, &nested] {
        store.create_endpoint(ep).await.unwrap();
    }
    assert_eq!(
        subscribed(store, &t, "booking.created").await,
        sorted(&[&all, &booking, &created, &several])
    );
    assert_eq!(
        subscribed(store, &t, "booking.created.v2").await,
        sorted(&[&all, &booking, &several, &nested])
    );
    assert_eq!(
        subscribed(store, &t, "order.created").await,
        sorted(&[&all, &order, &several])
    );
    assert_eq!(
        subscribed(store, &t, "booking").await,
        sorted(&[&all, &several])
    );
    // A prefix wildcard matches whole segments only.
    assert_eq!(
        subscribed(store, &t, "bookings.created").await,
        sorted(&[&all, &several])
    );
}

/// Disabled and deleted endpoints, and other tenants' endpoints, receive nothing.
pub async fn subscribed_endpoints_exclude_disabled_deleted_and_other_tenants(store: &dyn Store) {
    let t = unique_tenant();
    let enabled = endpoint(&t, &["*"]);
    let mut disabled = endpoint(&t, &["*", "booking.created"]);
    disabled.set_enabled(false);
    let deleted = endpoint(&t, &["booking.*"]);
    let other = endpoint(&unique_tenant(), &["*"]);
    for ep in [&enabled, &disabled, &deleted, &other] {
        store.create_endpoint(ep).await.unwrap();
    }
    assert!(store.delete_endpoint(&t, deleted.id).await.unwrap());
    assert_eq!(subscribed(store, &t, "booking.created").await, [enabled.id]);
    assert!(
        subscribed(store, &unique_tenant(), "booking.created")
            .await
            .is_empty()
    );
}

/// Changing an endpoint's types, or turning it off and on, changes what it
/// is subscribed to at once.
pub async fn subscribed_endpoints_follow_updates(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["booking.created"]);
    store.create_endpoint(&ep).await.unwrap();
    assert_eq!(subscribed(store, &t, "booking.created").await, [ep.id]);

    update(store, &ep, |e| {
        e.event_types = vec!["order.*".parse().unwrap(), "invoice.paid".parse().unwrap()]
    })
    .await;
    assert!(subscribed(store, &t, "booking.created").await.is_empty());
    assert_eq!(subscribed(store, &t, "order.paid").await, [ep.id]);
    assert_eq!(subscribed(store, &t, "invoice.paid").await, [ep.id]);

    update(store, &ep, |e| e.set_enabled(false)).await;
    assert!(subscribed(store, &t, "order.paid").await.is_empty());
    assert!(subscribed(store, &t, "invoice.paid").await.is_empty());

    // Changing the types while disabled must not subscribe it either.
    update(store, &ep, |e| e.event_types = vec!["*".parse().unwrap()]).await;
    assert!(subscribed(store, &t, "order.paid").await.is_empty());

    update(store, &ep, |e| e.set_enabled(true)).await;
    assert_eq!(subscribed(store, &t, "order.paid").await, [ep.id]);
    assert_eq!(subscribed(store, &t, "booking.created").await, [ep.id]);
}
