use std::time::Duration as StdDuration;

use super::*;
use crate::attempt::testing::logged;
use crate::embedded::{EmbeddedQueue, EmbeddedStore, QueueSettings};
use crate::event_type::EventTypeFilter;
use crate::message::DeliveryMessage;
use crate::ports::EndpointStore;

fn ops() -> TenantId {
    "platform".parse().unwrap()
}

fn endpoint(tenant: &str) -> Endpoint {
    Endpoint::new(
        tenant.parse().unwrap(),
        "https://hooks.example.com/in".into(),
        vec![EventTypeFilter::All],
        OffsetDateTime::now_utc(),
    )
}

fn disabled(tenant: &str, reason: DisabledReason) -> Endpoint {
    let mut ep = endpoint(tenant);
    ep.enabled = false;
    ep.disabled_reason = Some(reason);
    ep.consecutive_failures = 10;
    ep.revision = 3;
    ep
}

fn data(event: &Event) -> serde_json::Value {
    serde_json::from_str(event.data.get()).unwrap()
}

#[test]
fn an_endpoint_disabled_by_counting_is_reported_with_its_failures() {
    for reason in [DisabledReason::ConsecutiveFailures, DisabledReason::Gone] {
        let ep = disabled("store_1", reason);
        let event = disabled_event(&ops(), &ep, OffsetDateTime::now_utc()).unwrap();
        assert_eq!(event.tenant_id, ops());
        assert_eq!(event.event_type.as_str(), ENDPOINT_DISABLED);
        let d = data(&event);
        assert_eq!(d["tenantId"], "store_1");
        assert_eq!(d["endpointId"], ep.id.to_string());
        assert_eq!(d["url"], ep.url);
        assert_eq!(d["consecutiveFailures"], 10);
        assert_eq!(d["reason"], serde_json::to_value(reason).unwrap());
    }
}

#[test]
fn manual_disabling_enabled_endpoints_and_the_operations_tenant_report_nothing() {
    let now = OffsetDateTime::now_utc();
    let manual = disabled("store_1", DisabledReason::Manual);
    assert!(disabled_event(&ops(), &manual, now).is_none());
    assert!(disabled_event(&ops(), &endpoint("store_1"), now).is_none());
    let own = disabled("platform", DisabledReason::Gone);
    assert!(disabled_event(&ops(), &own, now).is_none(), "no loops");
    assert!(enabled_event(&ops(), &endpoint("platform"), now).is_none());
    assert!(enabled_event(&ops(), &manual, now).is_none());
    let mut entry = logged(3, AttemptStatus::Failed, None);
    entry.tenant_id = ops();
    assert!(exhausted_event(&ops(), &entry).is_none());
}

#[test]
fn ids_follow_the_fact_not_the_moment() {
    let ep = disabled("store_1", DisabledReason::Gone);
    let now = OffsetDateTime::now_utc();
    let first = disabled_event(&ops(), &ep, now).unwrap();
    let again = disabled_event(&ops(), &ep, now + time::Duration::minutes(5)).unwrap();
    assert_eq!(first.id, again.id, "a repeat is a duplicate");
    let mut later = ep.clone();
    later.revision += 2; // re-enabled, then disabled again
    assert_ne!(disabled_event(&ops(), &later, now).unwrap().id, first.id);
    let mut enabled = ep.clone();
    enabled.set_enabled(true);
    enabled.revision += 1;
    let e = enabled_event(&ops(), &enabled, now).unwrap();
    assert_ne!(e.id, first.id);
    assert_eq!(data(&e)["endpointId"], ep.id.to_string());
}

#[test]
fn only_a_failed_last_attempt_is_exhausted() {
    let later = OffsetDateTime::now_utc();
    assert!(!is_exhausted(&logged(
        1,
        AttemptStatus::Failed,
        Some(later)
    )));
    assert!(!is_exhausted(&logged(3, AttemptStatus::Succeeded, None)));
    assert!(!is_exhausted(&logged(1, AttemptStatus::Skipped, None)));
    let mut last = logged(3, AttemptStatus::Failed, None);
    last.http_status = Some(503);
    last.error = Some("HTTP 503".into());
    assert!(is_exhausted(&last));
    let event = exhausted_event(&ops(), &last).unwrap();
    assert_eq!(event.event_type.as_str(), DELIVERY_EXHAUSTED);
    let d = data(&event);
    assert_eq!(
        (
            d["attempts"].clone(),
            d["httpStatus"].clone(),
            d["error"].clone()
        ),
        (3.into(), 503.into(), "HTTP 503".into())
    );
    assert_eq!(d["eventId"], "evt_1");
    assert_eq!(d["eventType"], "a.b");
    assert_eq!(exhausted_event(&ops(), &last).unwrap().id, event.id);
}

#[tokio::test]
async fn a_repeated_publish_reaches_the_operations_endpoints_once() {
    let store = Arc::new(EmbeddedStore::new());
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings::default()));
    let ops_endpoint = endpoint("platform");
    store.create_endpoint(&ops_endpoint).await.unwrap();
    let operations = Operations::new(store.clone(), queue.clone(), &Settings::default());
    let ep = disabled("store_1", DisabledReason::ConsecutiveFailures);
    store.create_endpoint(&ep).await.unwrap();
    operations
        .endpoint_disabled(&ep.tenant_id, ep.id)
        .await
        .unwrap();
    operations
        .endpoint_disabled(&ep.tenant_id, ep.id)
        .await
        .unwrap();
    let received = queue.receive(10, StdDuration::from_millis(50)).await;
    assert_eq!(received.len(), 1);
    let message = DeliveryMessage::from_json(&received[0].body).unwrap();
    assert_eq!(message.endpoint_id, ops_endpoint.id);
    assert_eq!(message.event.event_type.as_str(), ENDPOINT_DISABLED);
    // Nothing about the operations tenant's own endpoint.
    let mut own = ops_endpoint.clone();
    own.enabled = false;
    own.disabled_reason = Some(DisabledReason::Gone);
    operations.endpoint_enabled(&own).await.unwrap();
    operations
        .endpoint_disabled(&own.tenant_id, own.id)
        .await
        .unwrap();
    assert!(
        queue
            .receive(10, StdDuration::from_millis(50))
            .await
            .is_empty()
    );
}
