//! The fan-out's deadline, batch sizing and held-lease policies.

use super::*;
use crate::embedded::{EmbeddedQueue, EmbeddedStore, QueueSettings};
use crate::ports::EventStore;
use serde_json::value::RawValue;

fn event() -> Event {
    Event {
        id: "evt_held".parse().unwrap(),
        tenant_id: "store_66f1".parse().unwrap(),
        event_type: "booking.created".parse().unwrap(),
        created_at: OffsetDateTime::now_utc(),
        data: RawValue::from_string("{}".into()).unwrap(),
    }
}

/// A fan-out another run holds (its lease is live) is waited for only
/// when asked, and then only until the deadline; a finished one is a
/// duplicate whatever the policy.
#[tokio::test]
async fn a_held_fan_out_is_waited_for_or_left_to_its_holder() {
    let store = EmbeddedStore::new();
    let queue = EmbeddedQueue::new(QueueSettings::default());
    let expires = OffsetDateTime::now_utc() + time::Duration::days(1);
    // The first run stores it and so holds its fan-out.
    store.store_event(&event(), expires).await.unwrap();
    let soon = Instant::now() + Duration::from_millis(300);

    let started = Instant::now();
    let given_up = store_and_fan_out(&store, &queue, event(), expires, soon, WhenHeld::GiveUp);
    let given_up = given_up.await.unwrap_err();
    assert!(matches!(
        given_up,
        AcceptError::Incomplete(FanOutStop::Busy)
    ));
    assert!(started.elapsed() < Duration::from_millis(250));

    let poll = Duration::from_millis(50);
    let waited = store_and_fan_out(
        &store,
        &queue,
        event(),
        expires,
        soon,
        WhenHeld::Wait { poll },
    );
    let waited = waited.await.unwrap_err();
    assert!(matches!(waited, AcceptError::Incomplete(FanOutStop::Busy)));
    assert!(started.elapsed() >= Duration::from_millis(200), "it waited");

    // Released by its holder, the next run takes it over and finishes it.
    let tenant = event().tenant_id;
    store
        .release_fan_out(&tenant, &event().id, None)
        .await
        .unwrap();
    let later = Instant::now() + Duration::from_secs(5);
    let done = store_and_fan_out(&store, &queue, event(), expires, later, WhenHeld::GiveUp);
    assert!(matches!(
        done.await.unwrap(),
        Accepted::Published {
            enqueued: 0,
            resumed: false,
            ..
        }
    ));
    let again = store_and_fan_out(&store, &queue, event(), expires, later, WhenHeld::GiveUp);
    assert!(matches!(again.await.unwrap(), Accepted::Duplicate(_)));
}

#[test]
fn the_deadline_is_the_budget_or_the_lambda_deadline_less_the_margin() {
    let start = Instant::now();
    let now_ms = 1_000_000;
    assert_eq!(fan_out_deadline(start, now_ms, 0), start + FAN_OUT_BUDGET);
    // 29 s left: the 20 s budget comes first.
    assert_eq!(
        fan_out_deadline(start, now_ms, now_ms + 29_000),
        start + FAN_OUT_BUDGET
    );
    // 10 s left: stop 3 s before Lambda would.
    assert_eq!(
        fan_out_deadline(start, now_ms, now_ms + 10_000),
        start + Duration::from_secs(7)
    );
    // 2 s left: less than the margin, so stop after the first page.
    assert_eq!(fan_out_deadline(start, now_ms, now_ms + 2_000), start);
    // Not a time at all (cargo lambda watch's timeout): the budget.
    assert_eq!(
        fan_out_deadline(start, now_ms, 600_000),
        start + FAN_OUT_BUDGET
    );
}

#[test]
fn large_events_have_fewer_batches_in_flight() {
    assert_eq!(batches_in_flight(0), MAX_IN_FLIGHT);
    assert_eq!(batches_in_flight(10 * 1024), MAX_IN_FLIGHT);
    // 256 KiB: three batches of ten, 7.7 MiB of messages.
    assert_eq!(batches_in_flight(256 * 1024), 3);
    assert_eq!(batches_in_flight(384 * 1024), 2);
    assert_eq!(batches_in_flight(usize::MAX / 100), 1);
}
