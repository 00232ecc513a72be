//! Events: idempotent storage and expiry.

use std::time::Duration as StdDuration;

use courier::endpoint::PayloadFormat;
use courier::ports::{Store, StoredEvent};
use time::{Duration, OffsetDateTime};

use super::{event, unique_tenant};

fn in_a_week() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::days(7)
}

/// New the first time; stored again before fan-out finished it is
/// unfinished; after `mark_fanned_out` it is a duplicate.
pub async fn events_are_new_then_unfinished_then_duplicate(store: &dyn Store) {
    let t = unique_tenant();
    let e = event(&t, "booking.created", r#"{"id":1}"#);
    assert_eq!(
        store.store_event(&e, in_a_week()).await.unwrap(),
        StoredEvent::New
    );
    assert_eq!(store.event(&t, &e.id).await.unwrap(), Some(e.clone()));
    // The stored copy wins over a retried request's new body.
    let mut retried = e.clone();
    retried.data = serde_json::value::RawValue::from_string("{}".into()).unwrap();
    assert_eq!(
        store.store_event(&retried, in_a_week()).await.unwrap(),
        StoredEvent::Unfinished(e.clone())
    );
    store.mark_fanned_out(&e, in_a_week()).await.unwrap();
    assert_eq!(
        store.store_event(&e, in_a_week()).await.unwrap(),
        StoredEvent::Duplicate(e.clone())
    );
    assert_eq!(
        store.store_event(&retried, in_a_week()).await.unwrap(),
        StoredEvent::Duplicate(e.clone()),
        "a finished event stays finished"
    );
    // The same id under another tenant is another event.
    let mut other = e.clone();
    other.tenant_id = unique_tenant();
    assert_eq!(
        store.store_event(&other, in_a_week()).await.unwrap(),
        StoredEvent::New
    );
}

/// An event past its expiry reads as absent and its id can be used again.
pub async fn an_expired_event_is_absent_and_can_be_stored_again(store: &dyn Store) {
    let t = unique_tenant();
    let e = event(&t, "booking.created", "{}");
    let past = OffsetDateTime::now_utc() - Duration::minutes(1);
    assert_eq!(store.store_event(&e, past).await.unwrap(), StoredEvent::New);
    assert_eq!(store.event(&t, &e.id).await.unwrap(), None);
    store.mark_fanned_out(&e, past).await.unwrap();
    assert_eq!(
        store.store_event(&e, in_a_week()).await.unwrap(),
        StoredEvent::New
    );
    assert_eq!(
        store.store_event(&e, in_a_week()).await.unwrap(),
        StoredEvent::Unfinished(e.clone())
    );
}

/// The mark of a finished fan-out can outlive its event (a resumed fan-out
/// marks with its own, later, expiry), yet never finishes an event stored
/// later under the same id.
pub async fn a_finished_mark_never_finishes_a_later_event_of_the_same_id(store: &dyn Store) {
    let t = unique_tenant();
    let old = event(&t, "booking.created", "{}");
    let past = OffsetDateTime::now_utc() - Duration::minutes(1);
    assert_eq!(
        store.store_event(&old, past).await.unwrap(),
        StoredEvent::New
    );
    store.mark_fanned_out(&old, in_a_week()).await.unwrap();
    let mut new = old.clone();
    new.created_at = old.created_at + Duration::seconds(1);
    new.data = serde_json::value::RawValue::from_string(r#"{"v":2}"#.into()).unwrap();
    assert_eq!(
        store.store_event(&new, in_a_week()).await.unwrap(),
        StoredEvent::New
    );
    assert_eq!(
        store.store_event(&new, in_a_week()).await.unwrap(),
        StoredEvent::Unfinished(new.clone()),
        "the old event's mark did not finish the new one"
    );
    store.mark_fanned_out(&new, in_a_week()).await.unwrap();
    assert_eq!(
        store.store_event(&old, in_a_week()).await.unwrap(),
        StoredEvent::Duplicate(new.clone())
    );
}

/// The producer's JSON keeps its exact bytes, so every attempt's body and
/// signature are the same.
pub async fn event_data_bytes_survive_unchanged(store: &dyn Store) {
    let t = unique_tenant();
    let data = "{\"b\": 1,  \"a\": [2.50, 1e3, \"\\u00e9\", \"é\"],\n \"n\": null}";
    let e = event(&t, "booking.created", data);
    store.store_event(&e, in_a_week()).await.unwrap();
    let read = store.event(&t, &e.id).await.unwrap().unwrap();
    assert_eq!(read.data.get(), data);
    assert_eq!(
        read.body(PayloadFormat::Default),
        e.body(PayloadFormat::Default)
    );
}

/// An event expiring in two seconds is there now and gone right after.
pub async fn events_vanish_once_their_time_is_up(store: &dyn Store) {
    let t = unique_tenant();
    let e = event(&t, "booking.created", "{}");
    let expires = OffsetDateTime::now_utc() + Duration::seconds(2);
    assert_eq!(
        store.store_event(&e, expires).await.unwrap(),
        StoredEvent::New
    );
    assert!(store.event(&t, &e.id).await.unwrap().is_some());
    let wait = expires - OffsetDateTime::now_utc() + Duration::milliseconds(1100);
    tokio::time::sleep(StdDuration::try_from(wait).unwrap_or_default()).await;
    assert_eq!(store.event(&t, &e.id).await.unwrap(), None);
    assert_eq!(
        store.store_event(&e, in_a_week()).await.unwrap(),
        StoredEvent::New
    );
}
