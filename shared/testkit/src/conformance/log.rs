//! The delivery log.

use std::time::Duration as StdDuration;

use courier::attempt::{AttemptStatus, DeliveryAttempt, DeliveryQuery, ErrorClass, StatusFilter};
use courier::ids::{DeliveryId, EndpointId, TenantId};
use courier::ports::{Store, StoreError};
use time::{Duration, OffsetDateTime};

use super::{attempt, ms_after, unique_tenant};

fn query(limit: usize) -> DeliveryQuery {
    DeliveryQuery {
        limit,
        ..DeliveryQuery::default()
    }
}

fn failed(mut a: DeliveryAttempt, retry: bool) -> DeliveryAttempt {
    a.status = AttemptStatus::Failed;
    a.http_status = Some(503);
    a.error_class = Some(ErrorClass::ServerError);
    a.error = Some("503 Service Unavailable".into());
    a.next_attempt_at = retry.then(|| a.created_at + Duration::minutes(1));
    a
}

/// Every page of a query, newest first, checking page sizes on the way.
async fn all_pages(
    store: &dyn Store,
    t: &TenantId,
    ep: EndpointId,
    mut q: DeliveryQuery,
) -> Vec<DeliveryId> {
    let mut ids = Vec::new();
    loop {
        let page = store.recent_deliveries(t, ep, &q).await.unwrap();
        assert!(page.items.len() <= q.limit);
        if page.next_cursor.is_some() {
            assert_eq!(page.items.len(), q.limit, "only the last page may be short");
        }
        ids.extend(page.items.iter().map(|a| a.id));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return ids,
        }
    }
}

fn newest_first(attempts: &[&DeliveryAttempt]) -> Vec<DeliveryId> {
    let mut ids: Vec<DeliveryId> = attempts.iter().map(|a| a.id).collect();
    ids.sort();
    ids.reverse();
    ids
}

/// One attempt reads back whole; other endpoints, tenants or ids find nothing.
pub async fn delivery_round_trips_one_attempt(store: &dyn Store) {
    let t = unique_tenant();
    let ep = EndpointId::generate();
    let mut a = failed(
        attempt(&t, ep, "booking.created", OffsetDateTime::now_utc()),
        true,
    );
    a.attempt = 2;
    a.trigger = courier::message::Trigger::Retry;
    a.response_body = Some("{\"error\": \"über busy\"}".into());
    a.request_headers = vec![
        ("content-type".into(), "application/json".into()),
        ("webhook-signature".into(), "<redacted>".into()),
    ]
    .into();
    store
        .record_attempts(std::slice::from_ref(&a))
        .await
        .unwrap();
    assert_eq!(store.delivery(&t, ep, a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(
        store
            .delivery(&t, EndpointId::generate(), a.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.delivery(&unique_tenant(), ep, a.id).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .delivery(&t, ep, DeliveryId::generate())
            .await
            .unwrap(),
        None
    );
}

/// Newest first, in cursor pages; a bad cursor is refused.
pub async fn deliveries_are_newest_first_in_cursor_pages(store: &dyn Store) {
    let t = unique_tenant();
    let ep = EndpointId::generate();
    let base = OffsetDateTime::now_utc();
    let attempts: Vec<DeliveryAttempt> = (0..7)
        .map(|i| attempt(&t, ep, "booking.created", ms_after(base, i * 10)))
        .collect();
    // Written out of order, and in two calls.
    store.record_attempts(&attempts[4..]).await.unwrap();
    store.record_attempts(&attempts[..4]).await.unwrap();
    let expected = newest_first(&attempts.iter().collect::<Vec<_>>());
    assert_eq!(all_pages(store, &t, ep, query(3)).await, expected);
    let one = store.recent_deliveries(&t, ep, &query(7)).await.unwrap();
    assert_eq!(one.items.len(), 7);
    assert_eq!(one.items[0], attempts[6]);
    assert_eq!(one.next_cursor, None);
    let bad = DeliveryQuery {
        cursor: Some("garbage".into()),
        ..query(3)
    };
    assert!(matches!(
        store.recent_deliveries(&t, ep, &bad).await,
        Err(StoreError::InvalidCursor)
    ));
    assert!(
        store
            .recent_deliveries(&t, EndpointId::generate(), &query(3))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// Filters by event type and status; `retrying` means failed with a next attempt.
pub async fn deliveries_filter_by_event_type_and_status(store: &dyn Store) {
    let t = unique_tenant();
    let ep = EndpointId::generate();
    let base = OffsetDateTime::now_utc();
    let at = |i: i64| ms_after(base, i * 10);
    let ok_created = attempt(&t, ep, "booking.created", at(0));
    let retrying = failed(attempt(&t, ep, "booking.created", at(1)), true);
    let failed_for_good = failed(attempt(&t, ep, "order.paid", at(2)), false);
    let mut skipped = attempt(&t, ep, "booking.created", at(3));
    skipped.status = AttemptStatus::Skipped;
    skipped.http_status = None;
    let ok_order = attempt(&t, ep, "order.paid", at(4));
    let all = [
        &ok_created,
        &retrying,
        &failed_for_good,
        &skipped,
        &ok_order,
    ];
    store
        .record_attempts(&all.iter().map(|a| (*a).clone()).collect::<Vec<_>>())
        .await
        .unwrap();
    let run = |event_type: Option<&str>, status: Option<StatusFilter>| {
        let q = DeliveryQuery {
            event_type: event_type.map(|e| e.parse().unwrap()),
            status,
            ..query(10)
        };
        all_pages(store, &t, ep, q)
    };
    assert_eq!(run(None, None).await, newest_first(&all));
    assert_eq!(
        run(Some("booking.created"), None).await,
        newest_first(&[&ok_created, &retrying, &skipped])
    );
    assert_eq!(
        run(None, Some(StatusFilter::Failed)).await,
        newest_first(&[&retrying, &failed_for_good])
    );
    assert_eq!(run(None, Some(StatusFilter::Retrying)).await, [retrying.id]);
    assert_eq!(run(None, Some(StatusFilter::Skipped)).await, [skipped.id]);
    assert_eq!(
        run(None, Some(StatusFilter::Succeeded)).await,
        newest_first(&[&ok_created, &ok_order])
    );
    assert_eq!(
        run(Some("order.paid"), Some(StatusFilter::Succeeded)).await,
        [ok_order.id]
    );
    assert!(
        run(Some("order.paid"), Some(StatusFilter::Skipped))
            .await
            .is_empty()
    );
}

/// `since` is inclusive, `until` exclusive, and both combine with cursors.
pub async fn deliveries_filter_by_time_range(store: &dyn Store) {
    let t = unique_tenant();
    let ep = EndpointId::generate();
    let base = OffsetDateTime::now_utc() - Duration::minutes(1);
    let attempts: Vec<DeliveryAttempt> = (0..8)
        .map(|i| attempt(&t, ep, "booking.created", ms_after(base, i * 10)))
        .collect();
    store.record_attempts(&attempts).await.unwrap();
    let at = |i: usize| attempts[i].created_at;
    let range = |since: Option<OffsetDateTime>, until: Option<OffsetDateTime>, limit| {
        all_pages(
            store,
            &t,
            ep,
            DeliveryQuery {
                since,
                until,
                ..query(limit)
            },
        )
    };
    let ids = |r: std::ops::Range<usize>| newest_first(&attempts[r].iter().collect::<Vec<_>>());
    assert_eq!(range(Some(at(2)), Some(at(5)), 2).await, ids(2..5));
    assert_eq!(range(Some(at(6)), None, 10).await, ids(6..8));
    assert_eq!(range(None, Some(at(1)), 10).await, ids(0..1));
    assert_eq!(
        range(Some(at(3)), Some(at(3)), 10).await,
        Vec::<DeliveryId>::new()
    );
    assert_eq!(
        range(Some(at(5)), Some(at(2)), 10).await,
        Vec::<DeliveryId>::new()
    );
}

/// A page is filled up to its limit even when the filter drops most entries.
pub async fn a_filtered_page_of_deliveries_is_filled(store: &dyn Store) {
    let t = unique_tenant();
    let ep = EndpointId::generate();
    let base = OffsetDateTime::now_utc();
    let attempts: Vec<DeliveryAttempt> = (0..40)
        .map(|i| {
            let a = attempt(&t, ep, "booking.created", ms_after(base, i * 3));
            if i % 7 == 0 { a } else { failed(a, false) }
        })
        .collect();
    store.record_attempts(&attempts).await.unwrap();
    let q = DeliveryQuery {
        status: Some(StatusFilter::Succeeded),
        ..query(4)
    };
    let first = store.recent_deliveries(&t, ep, &q).await.unwrap();
    assert_eq!(first.items.len(), 4);
    let expected = newest_first(
        &attempts
            .iter()
            .filter(|a| a.status == AttemptStatus::Succeeded)
            .collect::<Vec<_>>(),
    );
    assert_eq!(expected.len(), 6);
    assert_eq!(all_pages(store, &t, ep, q).await, expected);
}

/// Entries past their expiry are never returned, whether or not the store
/// has removed them yet.
pub async fn expired_deliveries_are_never_returned(store: &dyn Store) {
    let t = unique_tenant();
    let ep = EndpointId::generate();
    let base = OffsetDateTime::now_utc() - Duration::minutes(10);
    let attempts: Vec<DeliveryAttempt> = (0..6)
        .map(|i| {
            let mut a = attempt(&t, ep, "booking.created", ms_after(base, i * 10));
            if i % 2 == 1 {
                a.expires_at = OffsetDateTime::now_utc() - Duration::minutes(1);
            }
            a
        })
        .collect();
    store.record_attempts(&attempts).await.unwrap();
    let live: Vec<&DeliveryAttempt> = attempts.iter().step_by(2).collect();
    assert_eq!(
        all_pages(store, &t, ep, query(2)).await,
        newest_first(&live)
    );
    assert_eq!(store.delivery(&t, ep, attempts[1].id).await.unwrap(), None);
    assert!(
        store
            .delivery(&t, ep, attempts[0].id)
            .await
            .unwrap()
            .is_some()
    );
}

/// An entry expiring in two seconds is readable now and gone right after.
pub async fn deliveries_vanish_once_their_time_is_up(store: &dyn Store) {
    let t = unique_tenant();
    let ep = EndpointId::generate();
    let now = OffsetDateTime::now_utc();
    let mut short = attempt(&t, ep, "booking.created", now);
    short.expires_at = now + Duration::seconds(2);
    let long = attempt(&t, ep, "booking.created", ms_after(now, -10));
    store
        .record_attempts(&[short.clone(), long.clone()])
        .await
        .unwrap();
    assert_eq!(
        all_pages(store, &t, ep, query(10)).await,
        [short.id, long.id]
    );
    assert!(store.delivery(&t, ep, short.id).await.unwrap().is_some());
    let wait = short.expires_at - OffsetDateTime::now_utc() + Duration::milliseconds(1100);
    tokio::time::sleep(StdDuration::try_from(wait).unwrap_or_default()).await;
    assert_eq!(all_pages(store, &t, ep, query(10)).await, [long.id]);
    assert_eq!(store.delivery(&t, ep, short.id).await.unwrap(), None);
}
