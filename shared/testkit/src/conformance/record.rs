//! `record_attempt` and `find_attempt`: an attempt's entry is its claim,
//! and each new entry is counted once into statistics and the endpoint's
//! failure counter.

use std::sync::Arc;

use courier::attempt::{AttemptStatus, DeliveryAttempt, ErrorClass};
use courier::endpoint::DisabledReason;
use courier::ids::{DeliveryId, EndpointId, MessageId, TenantId};
use courier::ports::{OutcomeRecorded, Recorded, Store};
use futures::future::join_all;
use time::OffsetDateTime;

use super::{attempt, endpoint, unique_tenant};
use crate::TestBackend;
use courier::circuit::HealthRules;

/// Attempt `n` of `message` as the delivery function logs it.
fn numbered(
    tenant: &TenantId,
    ep: EndpointId,
    message: MessageId,
    n: u32,
    status: AttemptStatus,
) -> DeliveryAttempt {
    let now = OffsetDateTime::now_utc();
    let mut a = attempt(tenant, ep, "booking.created", now);
    a.message_id = message;
    a.attempt = n;
    a.id = DeliveryId::for_attempt(message, n, now);
    a.status = status;
    if status == AttemptStatus::Failed {
        a.http_status = Some(503);
        a.error_class = Some(ErrorClass::ServerError);
    }
    a
}

/// The first write of an attempt's entry wins; a second one (another copy
/// of the message) changes nothing.
pub async fn an_attempt_is_logged_once_under_its_id(store: &dyn Store) {
    let t = unique_tenant();
    let ep = EndpointId::generate();
    let first = numbered(&t, ep, MessageId::generate(), 1, AttemptStatus::Failed);
    assert_eq!(store.find_attempt(&t, ep, first.id).await.unwrap(), None);
    assert!(
        store
            .record_attempt(&first, &HealthRules::default())
            .await
            .unwrap()
            .is_new()
    );
    let mut second = first.clone();
    second.status = AttemptStatus::Succeeded;
    second.http_status = Some(200);
    assert_eq!(
        store
            .record_attempt(&second, &HealthRules::default())
            .await
            .unwrap(),
        Recorded::Duplicate
    );
    let found = store.find_attempt(&t, ep, first.id).await.unwrap();
    assert_eq!(found.as_ref(), Some(&first));
    assert_eq!(
        store.delivery(&t, ep, first.id).await.unwrap(),
        Some(first.clone())
    );
    // Another tenant or endpoint never finds it.
    let other = unique_tenant();
    assert_eq!(
        store.find_attempt(&other, ep, first.id).await.unwrap(),
        None
    );
    let other_ep = EndpointId::generate();
    assert_eq!(
        store.find_attempt(&t, other_ep, first.id).await.unwrap(),
        None
    );
}

/// Of many copies claiming one attempt at once, exactly one logs it.
pub async fn concurrent_claims_of_one_attempt_log_it_once(store: &dyn Store) {
    let t = unique_tenant();
    let ep = EndpointId::generate();
    let entry = numbered(&t, ep, MessageId::generate(), 2, AttemptStatus::Succeeded);
    let rules = HealthRules::default();
    let wins = join_all((0..8).map(|_| store.record_attempt(&entry, &rules))).await;
    let logged = wins
        .into_iter()
        .filter(|w| w.as_ref().unwrap().is_new())
        .count();
    assert_eq!(logged, 1);
}

/// Logged entries are counted once each into the day's statistics and the
/// endpoint's counter: failures add up, a success resets, skipped entries
/// count nothing, and counting again changes nothing.
pub async fn logged_attempts_are_counted_once(backend: &dyn TestBackend) {
    let store: Arc<dyn Store> = backend.store().await;
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let log = |status| numbered(&t, ep.id, MessageId::generate(), 1, status);
    let rules = HealthRules::default();
    for status in [
        AttemptStatus::Failed,
        AttemptStatus::Failed,
        AttemptStatus::Skipped,
        AttemptStatus::Succeeded,
        AttemptStatus::Failed,
    ] {
        let entry = log(status);
        assert!(store.record_attempt(&entry, &rules).await.unwrap().is_new());
        assert_eq!(
            store.record_attempt(&entry, &rules).await.unwrap(),
            Recorded::Duplicate
        );
    }
    backend.count_logged(&t, &rules).await;
    backend.count_logged(&t, &rules).await;
    let today = OffsetDateTime::now_utc().date();
    let stats = store.daily_stats(&t, ep.id, today, today).await.unwrap();
    assert_eq!(stats.len(), 1);
    let counts = &stats[0].counts;
    assert_eq!(
        (counts.attempts, counts.succeeded, counts.failed),
        (4, 1, 3)
    );
    assert_eq!(counts.failures.get(&ErrorClass::ServerError), Some(&3));
    let stored = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert_eq!(
        stored.consecutive_failures, 1,
        "the failure after the success"
    );
    assert!(stored.enabled);
    assert!(stored.last_attempt_at.is_some());
}

/// The counter reaching the threshold disables the endpoint, exactly at it.
pub async fn counted_failures_disable_at_the_threshold(backend: &dyn TestBackend) {
    let store: Arc<dyn Store> = backend.store().await;
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let rules = HealthRules {
        disable_after: 3,
        ..HealthRules::default()
    };
    // Failures one after another: each started after the last was logged.
    // In the future: each failure starts after the one before is counted.
    let base = OffsetDateTime::now_utc() + time::Duration::minutes(1);
    let failure = |i: i64| {
        let mut entry = numbered(&t, ep.id, MessageId::generate(), 1, AttemptStatus::Failed);
        entry.created_at = base + time::Duration::seconds(60 * i);
        entry.response_time_ms = Some(100);
        entry
    };
    for i in 0..2 {
        store.record_attempt(&failure(i), &rules).await.unwrap();
    }
    backend.count_logged(&t, &rules).await;
    assert!(store.endpoint(&t, ep.id).await.unwrap().unwrap().enabled);
    store.record_attempt(&failure(2), &rules).await.unwrap();
    // In flight with the one before: not counted (and after disabling, none is).
    let mut burst = failure(2);
    burst.id = DeliveryId::generate();
    burst.created_at += time::Duration::milliseconds(10);
    store.record_attempt(&burst, &rules).await.unwrap();
    backend.count_logged(&t, &rules).await;
    let stored = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert!(!stored.enabled);
    assert_eq!(
        stored.disabled_reason,
        Some(DisabledReason::ConsecutiveFailures)
    );
    assert_eq!(stored.consecutive_failures, 3);
    // 410 Gone disables another endpoint at once.
    let gone_ep = endpoint(&t, &["*"]);
    store.create_endpoint(&gone_ep).await.unwrap();
    let mut gone = numbered(
        &t,
        gone_ep.id,
        MessageId::generate(),
        1,
        AttemptStatus::Failed,
    );
    gone.http_status = Some(410);
    gone.error_class = Some(ErrorClass::ClientError);
    let recorded = store.record_attempt(&gone, &rules).await.unwrap();
    // The embedded store says what its counting did; DynamoDB counts later.
    assert!(
        matches!(
            recorded,
            Recorded::Deferred
                | Recorded::Counted(Some(OutcomeRecorded {
                    disabled: Some(DisabledReason::Gone),
                    ..
                }))
        ),
        "{recorded:?}"
    );
    backend.count_logged(&t, &rules).await;
    let stored = store.endpoint(&t, gone_ep.id).await.unwrap().unwrap();
    assert_eq!(stored.disabled_reason, Some(DisabledReason::Gone));
}
