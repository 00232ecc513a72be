//! Tenant isolation: an id of another tenant is never found.

use courier::attempt::DeliveryQuery;
use courier::ports::{Store, StoreError, StoredEvent};
use courier::stats::StatsDelta;
use time::{Duration, OffsetDateTime};

use super::{attempt, endpoint, event, unique_tenant};

/// Every method given tenant B and an id of tenant A finds nothing and
/// changes nothing of A's.
pub async fn another_tenants_ids_are_not_found(store: &dyn Store) {
    let a = unique_tenant();
    let b = unique_tenant();
    let ep = endpoint(&a, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let e = event(&a, "booking.created", "{}");
    let week = OffsetDateTime::now_utc() + Duration::days(7);
    store.store_event(&e, week).await.unwrap();
    let logged = attempt(&a, ep.id, "booking.created", OffsetDateTime::now_utc());
    store
        .record_attempts(std::slice::from_ref(&logged))
        .await
        .unwrap();
    let today = OffsetDateTime::now_utc().date();
    let mut delta = StatsDelta::default();
    delta.success();
    store.add_stats(&a, ep.id, today, &delta).await.unwrap();

    assert_eq!(store.endpoint(&b, ep.id).await.unwrap(), None);
    assert!(
        store
            .list_endpoints(&b, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let booking = "booking.created".parse().unwrap();
    assert!(
        store
            .subscribed_endpoints(&b, &booking)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!store.delete_endpoint(&b, ep.id).await.unwrap());
    let outcome = courier::circuit::Observed {
        gone: true,
        ..super::outcome::failure(OffsetDateTime::now_utc())
    };
    let rules = super::outcome::rules(1);
    assert_eq!(
        store
            .record_outcome(&b, ep.id, &[outcome], &rules)
            .await
            .unwrap(),
        None
    );
    let now = OffsetDateTime::now_utc();
    assert!(!store.claim_probe(&b, ep.id, None, now, now).await.unwrap());
    let mut foreign = ep.clone();
    foreign.tenant_id = b.clone();
    let mut hijacked = foreign.clone();
    hijacked.url = "https://attacker.example".into();
    hijacked.revision += 1;
    assert!(matches!(
        store.update_endpoint(&foreign, &hijacked).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.endpoint(&a, ep.id).await.unwrap(), Some(ep.clone()));
    assert_eq!(
        store.subscribed_endpoints(&a, &booking).await.unwrap(),
        [ep.id]
    );

    assert_eq!(store.event(&b, &e.id).await.unwrap(), None);
    let mut foreign_event = e.clone();
    foreign_event.tenant_id = b.clone();
    store.mark_fanned_out(&foreign_event, week).await.unwrap();
    assert_eq!(
        store.store_event(&e, week).await.unwrap(),
        StoredEvent::Unfinished(e.clone()),
        "marking another tenant's id did not touch A's event"
    );

    assert_eq!(store.delivery(&b, ep.id, logged.id).await.unwrap(), None);
    let q = DeliveryQuery {
        limit: 10,
        ..DeliveryQuery::default()
    };
    assert!(
        store
            .recent_deliveries(&b, ep.id, &q)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // A cursor from A's listing, replayed under B, still only reads B.
    let older = attempt(
        &a,
        ep.id,
        "booking.created",
        OffsetDateTime::now_utc() - Duration::seconds(1),
    );
    store
        .record_attempts(std::slice::from_ref(&older))
        .await
        .unwrap();
    let first = DeliveryQuery {
        limit: 1,
        ..q.clone()
    };
    let page = store.recent_deliveries(&a, ep.id, &first).await.unwrap();
    assert_eq!(page.items, std::slice::from_ref(&logged));
    let next = DeliveryQuery {
        cursor: page.next_cursor,
        ..first
    };
    assert!(
        store
            .recent_deliveries(&b, ep.id, &next)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        store
            .recent_deliveries(&a, ep.id, &next)
            .await
            .unwrap()
            .items,
        [older]
    );
    assert!(
        store
            .daily_stats(&b, ep.id, today, today)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .daily_stats(&a, ep.id, today, today)
            .await
            .unwrap()
            .len(),
        1
    );
}
