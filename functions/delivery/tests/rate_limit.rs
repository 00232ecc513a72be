//! Per-endpoint rate limits (issue #16) on both backends: a burst to an
//! endpoint limited to 5 per second arrives at that rate, every delivery
//! on its first attempt, none counted as a failure.

mod harness;

use std::time::Duration;

use courier::attempt::AttemptStatus;
use courier::message::{DeliveryMessage, Trigger};
use courier_testkit::TestBackend;
use harness::{Harness, fast_settings};

const LIMIT: u32 = 5;
const BURST: usize = 50;
const TIMEOUT: Duration = Duration::from_secs(60);
/// How much shorter than a second six arrivals may be apart. Sends leave
/// at slots exactly 1/5 s apart by the clock, but each one wakes from a
/// timer (millisecond granularity, later on a busy test machine) and
/// crosses a loopback connection the receiver stamps on arrival, so a
/// slot's request can land some milliseconds late and the next ones on
/// time.
const TOLERANCE: Duration = Duration::from_millis(50);

pub async fn a_burst_to_a_limited_endpoint_arrives_at_its_rate_without_failures(
    b: &dyn TestBackend,
) {
    let h = Harness::new(b, fast_settings()).await;
    let mut ep = courier_testkit::endpoint_at(&h.tenant, &h.receiver.url(), &["*"]);
    ep.rate_limit_per_second = Some(LIMIT);
    h.store.create_endpoint(&ep).await.unwrap();
    let burst: Vec<DeliveryMessage> = (0..BURST)
        .map(|_| DeliveryMessage::new(ep.id, Trigger::Event, h.event()))
        .collect();
    h.queue.enqueue(&burst).await.unwrap();

    let log = h.pump_until(&ep, BURST, Duration::ZERO, TIMEOUT).await;

    let requests = h.receiver.requests();
    assert_eq!(requests.len(), BURST, "each delivery received once");
    let mut ids: Vec<&str> = requests
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), BURST);
    let mut arrived: Vec<tokio::time::Instant> = requests.iter().map(|r| r.arrived).collect();
    arrived.sort_unstable();
    let span = arrived[BURST - 1] - arrived[0];
    // Any LIMIT + 1 arrivals in a row span about a second: no sliding
    // second holds more than LIMIT.
    let tightest = arrived
        .windows(LIMIT as usize + 1)
        .map(|w| w[LIMIT as usize] - w[0])
        .min()
        .unwrap();
    eprintln!(
        "{BURST} deliveries over {span:?}; {} in a row within {tightest:?} at the tightest",
        LIMIT + 1
    );
    assert!(span >= Duration::from_secs(9), "{span:?}");
    assert!(
        tightest >= Duration::from_secs(1) - TOLERANCE,
        "{} arrivals within {tightest:?}",
        LIMIT + 1
    );

    assert_eq!(log.len(), BURST);
    for entry in &log {
        assert_eq!(
            (entry.status, entry.attempt),
            (AttemptStatus::Succeeded, 1),
            "waiting spent no attempt: {entry:?}"
        );
    }
    h.count().await;
    assert_eq!(h.reload(&ep).await.consecutive_failures, 0);
    let today = time::OffsetDateTime::now_utc().date();
    let stats = h
        .store
        .daily_stats(&h.tenant, ep.id, today, today)
        .await
        .unwrap();
    let counts = &stats[0].counts;
    assert_eq!(
        (counts.attempts, counts.succeeded, counts.failed),
        (BURST as u64, BURST as u64, 0),
        "no wait is counted as an attempt or a failure"
    );
}

courier_testkit::backend_tests!(a_burst_to_a_limited_endpoint_arrives_at_its_rate_without_failures);
