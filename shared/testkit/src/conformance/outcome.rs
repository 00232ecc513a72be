//! `record_outcome`: the failure counter and auto-disable.

use courier::endpoint::DisabledReason;
use courier::ports::{EndpointOutcome, OutcomeRecorded, Store};
use futures::future::join_all;
use time::{Duration, OffsetDateTime};

use super::{endpoint, unique_tenant};

fn failed(failures: u32, at: OffsetDateTime) -> EndpointOutcome {
    EndpointOutcome {
        succeeded: false,
        failures,
        gone: false,
        attempted_at: at,
    }
}

/// Failures add up; a success restarts the count from the failures after it.
pub async fn record_outcome_counts_failures_and_resets_on_success(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let at = OffsetDateTime::now_utc();
    let t = &t;
    let record = |o: EndpointOutcome| async move {
        store
            .record_outcome(t, ep.id, &o, 10)
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(record(failed(2, at)).await.consecutive_failures, 2);
    assert_eq!(record(failed(1, at)).await.consecutive_failures, 3);
    let success_then_failure = EndpointOutcome {
        succeeded: true,
        failures: 1,
        gone: false,
        attempted_at: at + Duration::seconds(1),
    };
    assert_eq!(
        record(success_then_failure).await,
        OutcomeRecorded {
            consecutive_failures: 1,
            disabled: None
        }
    );
    let success = EndpointOutcome {
        succeeded: true,
        failures: 0,
        gone: false,
        attempted_at: at + Duration::seconds(2),
    };
    assert_eq!(record(success).await.consecutive_failures, 0);
    let read = store.endpoint(t, ep.id).await.unwrap().unwrap();
    assert_eq!(read.consecutive_failures, 0);
    assert_eq!(read.last_attempt_at, Some(at + Duration::seconds(2)));
    assert!(read.enabled);
    assert_eq!(
        read.revision, ep.revision,
        "counting is not a settings change"
    );
}

/// An outcome that arrives late (an older attempt) still counts, but does
/// not move `lastAttemptAt` back.
pub async fn last_attempt_time_only_moves_forward(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let late = OffsetDateTime::now_utc();
    let early = late - Duration::minutes(5);
    store
        .record_outcome(&t, ep.id, &failed(1, late), 10)
        .await
        .unwrap();
    let r = store
        .record_outcome(&t, ep.id, &failed(1, early), 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.consecutive_failures, 2);
    let read = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert_eq!(read.last_attempt_at, Some(late));
}

/// The call that brings the counter to the threshold disables the endpoint
/// (and reports it); later calls count on but report nothing.
pub async fn reaching_the_threshold_disables_the_endpoint_once(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["booking.*"]);
    store.create_endpoint(&ep).await.unwrap();
    let at = OffsetDateTime::now_utc();
    let r = store
        .record_outcome(&t, ep.id, &failed(2, at), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.disabled, None);
    let r = store
        .record_outcome(&t, ep.id, &failed(1, at), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r,
        OutcomeRecorded {
            consecutive_failures: 3,
            disabled: Some(DisabledReason::ConsecutiveFailures)
        }
    );
    let read = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert!(!read.enabled);
    assert_eq!(
        read.disabled_reason,
        Some(DisabledReason::ConsecutiveFailures)
    );
    assert_eq!(
        read.revision,
        ep.revision + 1,
        "disabling is a change of settings"
    );
    let subscribed = store
        .subscribed_endpoints(&t, &"booking.created".parse().unwrap())
        .await
        .unwrap();
    assert!(subscribed.is_empty());
    let r = store
        .record_outcome(&t, ep.id, &failed(1, at), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r,
        OutcomeRecorded {
            consecutive_failures: 4,
            disabled: None
        }
    );
}

/// Many workers failing at once: exactly one of them disables the endpoint.
pub async fn concurrent_outcomes_disable_the_endpoint_only_once(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let at = OffsetDateTime::now_utc();
    let outcome = failed(1, at);
    let calls = (0..10).map(|_| store.record_outcome(&t, ep.id, &outcome, 5));
    let results: Vec<OutcomeRecorded> = join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let disabling: Vec<_> = results.iter().filter(|r| r.disabled.is_some()).collect();
    assert_eq!(disabling.len(), 1, "{results:?}");
    assert!(disabling[0].consecutive_failures >= 5);
    let mut counts: Vec<u32> = results.iter().map(|r| r.consecutive_failures).collect();
    counts.sort();
    assert_eq!(
        counts,
        (1..=10).collect::<Vec<u32>>(),
        "each failure counted once"
    );
    let read = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert!(!read.enabled);
    assert_eq!(read.consecutive_failures, 10);
    assert_eq!(read.revision, ep.revision + 1);
}

/// `410 Gone` disables at once, whatever the counter.
pub async fn gone_disables_the_endpoint_at_once(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let gone = EndpointOutcome {
        gone: true,
        ..failed(1, OffsetDateTime::now_utc())
    };
    let r = store
        .record_outcome(&t, ep.id, &gone, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.disabled, Some(DisabledReason::Gone));
    let read = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert_eq!(read.disabled_reason, Some(DisabledReason::Gone));
    assert!(!read.enabled);
    let r = store
        .record_outcome(&t, ep.id, &gone, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.disabled, None, "already disabled");
}

/// A deleted (or never created) endpoint has no outcome to record.
pub async fn record_outcome_of_a_missing_endpoint_is_none(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    let outcome = failed(1, OffsetDateTime::now_utc());
    assert_eq!(
        store.record_outcome(&t, ep.id, &outcome, 10).await.unwrap(),
        None
    );
    store.create_endpoint(&ep).await.unwrap();
    store.delete_endpoint(&t, ep.id).await.unwrap();
    assert_eq!(
        store.record_outcome(&t, ep.id, &outcome, 10).await.unwrap(),
        None
    );
    assert_eq!(
        store.endpoint(&t, ep.id).await.unwrap(),
        None,
        "no stub item left behind"
    );
}
