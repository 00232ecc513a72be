//! `record_outcome` and `claim_probe`: the failure counter, the circuit,
//! auto-disable and the probe's lease.

use std::time::Duration as StdDuration;

use courier::circuit::{CircuitState, HealthRules, Observed};
use courier::endpoint::DisabledReason;
use courier::ports::{OutcomeRecorded, Store};
use futures::future::join_all;
use time::{Duration, OffsetDateTime};

use super::{endpoint, unique_tenant};

/// A failed attempt that started at `start` and was logged a second later.
pub fn failure(start: OffsetDateTime) -> Observed {
    Observed {
        started_at: start,
        logged_at: start + Duration::seconds(1),
        failed: true,
        gone: false,
        probe: false,
    }
}

fn success(start: OffsetDateTime) -> Observed {
    Observed {
        failed: false,
        ..failure(start)
    }
}

/// Rules for the tests: open after 4 of 8, disable after `disable_after`,
/// probes 10 s then 60 s apart.
pub fn rules(disable_after: u32) -> HealthRules {
    HealthRules::new(
        8,
        4,
        disable_after,
        &courier::schedule::RetrySchedule::new(vec![
            StdDuration::from_secs(10),
            StdDuration::from_secs(60),
        ]),
    )
}

/// Failures one after another add up; a success resets the counter; a
/// burst of attempts in flight together counts once.
pub async fn record_outcome_counts_failures_and_resets_on_success(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    // In the future: the failures start after they are counted.
    let at = OffsetDateTime::now_utc() + Duration::minutes(10);
    let (t, rules) = (&t, &rules(100));
    let record = |o: Vec<Observed>| async move {
        store
            .record_outcome(t, ep.id, &o, rules)
            .await
            .unwrap()
            .unwrap()
    };
    // The test rules' first delay is 10 s: failures 10 s apart each count.
    let one_after_another = vec![failure(at), failure(at + Duration::seconds(10))];
    assert_eq!(record(one_after_another).await.consecutive_failures, 2);
    // Three in flight with the last counted failure.
    let burst: Vec<_> = (0..3)
        .map(|i| failure(at + Duration::seconds(10) + Duration::milliseconds(i)))
        .collect();
    assert_eq!(record(burst).await.consecutive_failures, 2);
    assert_eq!(
        record(vec![failure(at + Duration::seconds(20))]).await,
        OutcomeRecorded {
            consecutive_failures: 3,
            disabled: None
        }
    );
    let later = at + Duration::seconds(30);
    assert_eq!(record(vec![success(later)]).await.consecutive_failures, 0);
    let read = store.endpoint(t, ep.id).await.unwrap().unwrap();
    assert_eq!(read.consecutive_failures, 0);
    assert_eq!(read.last_attempt_at, Some(later + Duration::seconds(1)));
    assert!(read.enabled);
    assert_eq!(read.circuit.recent_len, 7, "every attempt is in the window");
    assert_eq!(
        read.revision, ep.revision,
        "counting is not a settings change"
    );
}

/// An outcome that arrives late (an older attempt) does not move
/// `lastAttemptAt` back.
pub async fn last_attempt_time_only_moves_forward(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let late = OffsetDateTime::now_utc();
    let early = late - Duration::minutes(5);
    let rules = rules(10);
    store
        .record_outcome(&t, ep.id, &[success(late)], &rules)
        .await
        .unwrap();
    store
        .record_outcome(&t, ep.id, &[success(early)], &rules)
        .await
        .unwrap();
    let read = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert_eq!(read.last_attempt_at, Some(late + Duration::seconds(1)));
}

/// The failure that brings the counter to the threshold disables the
/// endpoint (and reports it); the counter stays at the threshold.
pub async fn reaching_the_threshold_disables_the_endpoint_once(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["booking.*"]);
    store.create_endpoint(&ep).await.unwrap();
    let at = OffsetDateTime::now_utc() + Duration::minutes(10);
    let rules = rules(3);
    let step = |i: i64| failure(at + Duration::seconds(10 * i));
    let r = store
        .record_outcome(&t, ep.id, &[step(0), step(1)], &rules)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.disabled, None);
    let r = store
        .record_outcome(&t, ep.id, &[step(2), step(3)], &rules)
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
    assert_eq!(read.consecutive_failures, 3, "exactly at the threshold");
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
        .record_outcome(&t, ep.id, &[step(4)], &rules)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r,
        OutcomeRecorded {
            consecutive_failures: 3,
            disabled: None
        }
    );
}

/// Many workers counting at once: none is lost, and exactly one disables.
pub async fn concurrent_outcomes_disable_the_endpoint_only_once(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let at = OffsetDateTime::now_utc();
    let rules = HealthRules {
        window: 32,
        open_after: 32,
        ..rules(100)
    };
    let gone = Observed {
        gone: true,
        ..failure(at)
    };
    let calls =
        (0..10).map(|_| store.record_outcome(&t, ep.id, std::slice::from_ref(&gone), &rules));
    let results: Vec<OutcomeRecorded> = join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let disabling: Vec<_> = results.iter().filter(|r| r.disabled.is_some()).collect();
    assert_eq!(disabling.len(), 1, "{results:?}");
    let read = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert!(!read.enabled);
    assert_eq!(read.disabled_reason, Some(DisabledReason::Gone));
    assert_eq!(read.circuit.recent_len, 10, "each outcome counted once");
    assert_eq!(read.revision, ep.revision + 1);
}

/// A deleted (or never created) endpoint has no outcome to record.
pub async fn record_outcome_of_a_missing_endpoint_is_none(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    let rules = rules(10);
    let outcome = [failure(OffsetDateTime::now_utc())];
    assert_eq!(
        store
            .record_outcome(&t, ep.id, &outcome, &rules)
            .await
            .unwrap(),
        None
    );
    store.create_endpoint(&ep).await.unwrap();
    store.delete_endpoint(&t, ep.id).await.unwrap();
    assert_eq!(
        store
            .record_outcome(&t, ep.id, &outcome, &rules)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.endpoint(&t, ep.id).await.unwrap(),
        None,
        "no stub item left behind"
    );
    let now = OffsetDateTime::now_utc();
    assert!(!store.claim_probe(&t, ep.id, None, now, now).await.unwrap());
}

/// The circuit opens at the threshold; one probe at a time is claimed for
/// the next probe as read; its failure moves the next probe and frees the
/// lease; a success closes the circuit.
pub async fn the_circuit_opens_and_one_probe_at_a_time_is_claimed(store: &dyn Store) {
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let at = OffsetDateTime::now_utc() + Duration::minutes(10);
    let rules = rules(100);
    let now = OffsetDateTime::now_utc();
    let lease = now + Duration::seconds(30);
    assert!(
        !store
            .claim_probe(&t, ep.id, None, now, lease)
            .await
            .unwrap(),
        "no probe while closed"
    );
    let four: Vec<_> = (0..4).map(|i| failure(at + Duration::seconds(i))).collect();
    // (a burst: only the first counts)
    store
        .record_outcome(&t, ep.id, &four, &rules)
        .await
        .unwrap();
    let open = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert_eq!(open.circuit.state, CircuitState::Open);
    let opened_at = at + Duration::seconds(4);
    assert_eq!(open.circuit.failing_since, Some(opened_at));
    let next = open.circuit.next_attempt_at;
    assert_eq!(next, Some(opened_at + Duration::seconds(10)));
    assert!(
        store
            .claim_probe(&t, ep.id, next, now, lease)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_probe(&t, ep.id, next, now, lease)
            .await
            .unwrap(),
        "taken"
    );
    let held = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert_eq!(
        held.probe_lease_until.map(|l| l.unix_timestamp()),
        Some(lease.unix_timestamp())
    );
    let probe = Observed {
        probe: true,
        ..failure(at + Duration::seconds(20))
    };
    // (the probe counts: it started 10 s after the circuit opened)
    let r = store
        .record_outcome(&t, ep.id, &[probe], &rules)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.disabled, None);
    let after = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert_eq!(after.probe_lease_until, None, "the lease is freed");
    assert_eq!(after.circuit.failed_probes, 1);
    let moved = after.circuit.next_attempt_at;
    assert_eq!(
        moved,
        Some(at + Duration::seconds(21) + Duration::seconds(60))
    );
    assert!(
        !store
            .claim_probe(&t, ep.id, next, now, lease)
            .await
            .unwrap(),
        "a stale read of the next probe claims nothing"
    );
    assert!(
        store
            .claim_probe(&t, ep.id, moved, now, lease)
            .await
            .unwrap()
    );
    // A lease that ran out can be taken over.
    let later = lease + Duration::seconds(1);
    assert!(
        store
            .claim_probe(&t, ep.id, moved, later, later + Duration::seconds(30))
            .await
            .unwrap()
    );
    let closing = Observed {
        probe: true,
        ..success(at + Duration::seconds(90))
    };
    store
        .record_outcome(&t, ep.id, &[closing], &rules)
        .await
        .unwrap();
    let closed = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert_eq!(closed.circuit.state, CircuitState::Closed);
    assert_eq!(closed.circuit.next_attempt_at, None);
    assert_eq!(closed.consecutive_failures, 0);
    assert_eq!(closed.probe_lease_until, None);
}
