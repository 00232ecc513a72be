//! Endpoints: create, read, list, update, delete.

use courier::endpoint::{DisabledReason, PayloadFormat};
use courier::paging::encode_cursor;
use courier::ports::{Store, StoreError};
use courier::signing::Secret;
use time::{Duration, OffsetDateTime};

use super::{endpoint, ids, unique_tenant};

/// A created endpoint reads back unchanged; creating it twice fails.
pub async fn endpoint_create_then_read_round_trips(store: &dyn Store) {
    let tenant = unique_tenant();
    let mut ep = endpoint(&tenant, &["booking.*", "order.created", "*"]);
    ep.description = "Bookings to the CRM".into();
    ep.payload_format = PayloadFormat::Cloudevents;
    let now = OffsetDateTime::now_utc();
    ep.rotate_secret(Secret::generate(), Duration::hours(1), now);
    store.create_endpoint(&ep).await.unwrap();
    assert_eq!(
        store.endpoint(&tenant, ep.id).await.unwrap(),
        Some(ep.clone())
    );
    assert!(matches!(
        store.create_endpoint(&ep).await,
        Err(StoreError::AlreadyExists)
    ));
    let disabled = {
        let mut d = endpoint(&tenant, &["*"]);
        d.set_enabled(false);
        d
    };
    store.create_endpoint(&disabled).await.unwrap();
    let read = store.endpoint(&tenant, disabled.id).await.unwrap().unwrap();
    assert!(!read.enabled);
    assert_eq!(read.disabled_reason, Some(DisabledReason::Manual));
}

/// Lists are oldest first, in pages joined by cursors; the last page has
/// no cursor, even when it is exactly full.
pub async fn endpoints_list_paginates_in_creation_order(store: &dyn Store) {
    let tenant = unique_tenant();
    let mut created = Vec::new();
    for _ in 0..5 {
        let ep = endpoint(&tenant, &["*"]);
        store.create_endpoint(&ep).await.unwrap();
        created.push(ep);
        // Endpoint ids are ULIDs: a new millisecond orders them for sure.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    store
        .create_endpoint(&endpoint(&unique_tenant(), &["*"]))
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_endpoints(&tenant, 2, cursor.as_deref())
            .await
            .unwrap();
        sizes.push(page.items.len());
        seen.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(seen, created);

    let all = store.list_endpoints(&tenant, 5, None).await.unwrap();
    assert_eq!(ids(&all.items), ids(&created));
    assert_eq!(all.next_cursor, None);
    let empty = store
        .list_endpoints(&unique_tenant(), 10, None)
        .await
        .unwrap();
    assert!(empty.items.is_empty() && empty.next_cursor.is_none());
}

/// A cursor the store did not issue is refused.
pub async fn endpoints_list_rejects_invalid_cursors(store: &dyn Store) {
    let tenant = unique_tenant();
    store
        .create_endpoint(&endpoint(&tenant, &["*"]))
        .await
        .unwrap();
    for bad in ["not a cursor!".to_owned(), encode_cursor("evt_123")] {
        assert!(
            matches!(
                store.list_endpoints(&tenant, 10, Some(&bad)).await,
                Err(StoreError::InvalidCursor)
            ),
            "{bad}"
        );
    }
}

/// An update based on an outdated revision is a conflict and changes nothing.
pub async fn endpoint_update_conflicts_on_a_stale_revision(store: &dyn Store) {
    let tenant = unique_tenant();
    let ep = endpoint(&tenant, &["*"]);
    store.create_endpoint(&ep).await.unwrap();

    let mut first = ep.clone();
    first.description = "first".into();
    first.revision += 1;
    store.update_endpoint(&ep, &first).await.unwrap();

    let mut second = ep.clone();
    second.description = "second".into();
    second.revision += 1;
    assert!(matches!(
        store.update_endpoint(&ep, &second).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.endpoint(&tenant, ep.id).await.unwrap(), Some(first));
}

/// Settings updates never overwrite the failure counter and last attempt
/// time that deliveries keep.
pub async fn endpoint_update_keeps_the_delivery_bookkeeping(store: &dyn Store) {
    let tenant = unique_tenant();
    let ep = endpoint(&tenant, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let stale = store.endpoint(&tenant, ep.id).await.unwrap().unwrap();
    let at = OffsetDateTime::now_utc() + time::Duration::minutes(1);
    let three: Vec<_> = (0..3)
        .map(|i| super::outcome::failure(at + time::Duration::seconds(10 * i)))
        .collect();
    store
        .record_outcome(&tenant, ep.id, &three, &super::outcome::rules(10))
        .await
        .unwrap();
    let at = at + time::Duration::seconds(21);

    // `stale` was read before the attempts: counter 0, no attempt time.
    let mut updated = stale.clone();
    updated.url = "https://example.org/new".into();
    updated.revision += 1;
    store.update_endpoint(&stale, &updated).await.unwrap();
    let read = store.endpoint(&tenant, ep.id).await.unwrap().unwrap();
    assert_eq!(read.url, "https://example.org/new");
    assert_eq!(read.consecutive_failures, 3);
    assert_eq!(read.last_attempt_at, Some(at));
    assert_eq!(read.circuit.recent_len, 3, "the circuit is kept too");
    assert_eq!(read.revision, updated.revision);
}

/// Disabling by hand keeps the counter; re-enabling resets it.
pub async fn re_enabling_an_endpoint_resets_its_failure_counter(store: &dyn Store) {
    let tenant = unique_tenant();
    let ep = endpoint(&tenant, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    // Four failures open the circuit under the test rules.
    let at = OffsetDateTime::now_utc() + time::Duration::minutes(1);
    let four: Vec<_> = (0..4)
        .map(|i| super::outcome::failure(at + time::Duration::seconds(10 * i)))
        .collect();
    store
        .record_outcome(&tenant, ep.id, &four, &super::outcome::rules(10))
        .await
        .unwrap();

    let current = store.endpoint(&tenant, ep.id).await.unwrap().unwrap();
    let mut off = current.clone();
    off.set_enabled(false);
    off.revision += 1;
    store.update_endpoint(&current, &off).await.unwrap();
    let read = store.endpoint(&tenant, ep.id).await.unwrap().unwrap();
    assert!(!read.enabled);
    assert_eq!(read.disabled_reason, Some(DisabledReason::Manual));
    assert_eq!(read.consecutive_failures, 4);
    assert_eq!(
        read.circuit.state,
        courier::circuit::CircuitState::Open,
        "disabling keeps the circuit"
    );

    let mut on = read.clone();
    on.set_enabled(true);
    on.revision += 1;
    store.update_endpoint(&read, &on).await.unwrap();
    let read = store.endpoint(&tenant, ep.id).await.unwrap().unwrap();
    assert!(read.enabled);
    assert_eq!(read.disabled_reason, None);
    assert_eq!(read.consecutive_failures, 0);
    assert_eq!(
        read.circuit,
        courier::circuit::Circuit::default(),
        "re-enabling closes the circuit"
    );
}

/// A deleted endpoint is gone from reads, lists and subscriptions; a second
/// delete reports that there was nothing to delete.
pub async fn endpoint_delete_removes_it_once(store: &dyn Store) {
    let tenant = unique_tenant();
    let ep = endpoint(&tenant, &["*", "booking.created"]);
    let kept = endpoint(&tenant, &["booking.created"]);
    store.create_endpoint(&ep).await.unwrap();
    store.create_endpoint(&kept).await.unwrap();
    assert!(store.delete_endpoint(&tenant, ep.id).await.unwrap());
    assert_eq!(store.endpoint(&tenant, ep.id).await.unwrap(), None);
    assert!(!store.delete_endpoint(&tenant, ep.id).await.unwrap());
    let list = store.list_endpoints(&tenant, 10, None).await.unwrap();
    assert_eq!(ids(&list.items), [kept.id]);
    let subscribed = store
        .subscribed_endpoints(&tenant, &"booking.created".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(subscribed, [kept.id]);
}

/// A rotation written by an update keeps both secrets, in order and with
/// the old one's expiry, on every read path; the store keeps them sealed.
pub async fn rotated_secrets_are_read_back_after_an_update(store: &dyn Store) {
    let tenant = unique_tenant();
    let ep = endpoint(&tenant, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let mut rotated = ep.clone();
    rotated.rotate_secret(Secret::generate(), Duration::hours(2), now);
    rotated.revision += 1;
    store.update_endpoint(&ep, &rotated).await.unwrap();

    let read = store.endpoint(&tenant, ep.id).await.unwrap().unwrap();
    assert_eq!(read.secrets, rotated.secrets);
    assert_eq!(read.signing_secrets(now).len(), 2);
    assert_eq!(read.secrets[1].secret, *ep.current_secret());
    let listed = store.list_endpoints(&tenant, 10, None).await.unwrap();
    assert_eq!(listed.items[0].secrets, rotated.secrets);
    // A settings change with the secrets untouched leaves them as they are.
    let mut renamed = read.clone();
    renamed.description = "renamed".into();
    renamed.revision += 1;
    store.update_endpoint(&read, &renamed).await.unwrap();
    let again = store.endpoint(&tenant, ep.id).await.unwrap().unwrap();
    assert_eq!(
        (again.description.as_str(), &again.secrets),
        ("renamed", &rotated.secrets)
    );
}
