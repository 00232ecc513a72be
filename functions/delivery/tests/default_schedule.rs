//! At the real default schedule (`60,600`) the delivery function asks the
//! queue for a 60 s visibility after the first failure, 600 s after the
//! second, and acknowledges after the third — checked on the calls it makes,
//! without waiting for them.

use std::sync::Arc;
use std::time::Duration;

use courier::config::Settings;
use courier::embedded::EmbeddedStore;
use courier::message::{DeliveryMessage, ReceivedMessage, Trigger};
use courier::ports::{DeliveryLog, EndpointStore};
use courier_delivery::Deliverer;
use courier_testkit::{Receiver, RecordingQueue, Reply};
use time::OffsetDateTime;

/// A deliverer at the default settings, a queue recording its retry calls,
/// and one queued message for an endpoint that always answers 500.
async fn failing_delivery() -> (
    Deliverer,
    Arc<RecordingQueue>,
    Receiver,
    DeliveryMessage,
    Arc<EmbeddedStore>,
) {
    let settings = Settings {
        allow_private_targets: true,
        ..Settings::default()
    };
    assert_eq!(
        settings.retry_schedule.to_string(),
        "60,600",
        "the real default"
    );
    let store = Arc::new(EmbeddedStore::new());
    let queue = Arc::new(RecordingQueue::default());
    let deliverer = Deliverer::new(store.clone(), queue.clone(), settings).unwrap();
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::status(500));
    let tenant = courier_testkit::unique_tenant();
    let ep = courier_testkit::endpoint_at(&tenant, &receiver.url(), &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let event = courier_testkit::event(&tenant, "booking.created", "{}");
    (
        deliverer,
        queue,
        receiver,
        DeliveryMessage::new(ep.id, Trigger::Event, event),
        store,
    )
}

/// Plays the wait for a retry: makes the latest logged attempt's retry due
/// now, as it is when SQS hands the message out again after the visibility
/// timeout.
async fn retry_is_due(store: &EmbeddedStore, message: &DeliveryMessage, attempts: u32) {
    let log = log_of(store, message).await;
    let mut latest = log
        .into_iter()
        .max_by_key(|e| e.attempt)
        .expect("an attempt");
    assert_eq!(latest.attempt, attempts);
    // As if it had been made that much earlier: every time moves back.
    let early = latest.next_attempt_at.expect("a retry is scheduled") - OffsetDateTime::now_utc();
    latest.created_at -= early;
    latest.expires_at -= early;
    latest.next_attempt_at = latest.next_attempt_at.map(|t| t - early);
    store.record_attempts(&[latest]).await.unwrap();
}

#[tokio::test]
async fn default_schedule_sets_visibility_to_60_then_600_seconds_then_acknowledges() {
    let (deliverer, queue, receiver, message, store) = failing_delivery().await;
    // SQS redelivers the same message with a growing receive count and a
    // new receipt handle each time.
    let receive = |n: u32| ReceivedMessage {
        queue_message_id: "sqs-1".into(),
        receipt: format!("receipt-{n}"),
        body: message.to_json().into(),
        receive_count: n,
    };

    assert_eq!(deliverer.handle_batch(&[receive(1)]).await, ["sqs-1"]);
    retry_is_due(&store, &message, 1).await;
    assert_eq!(deliverer.handle_batch(&[receive(2)]).await, ["sqs-1"]);
    retry_is_due(&store, &message, 2).await;
    assert!(
        deliverer.handle_batch(&[receive(3)]).await.is_empty(),
        "the last attempt is acknowledged"
    );
    assert_eq!(
        queue.retries(),
        [
            ("receipt-1".to_string(), Duration::from_secs(60)),
            ("receipt-2".to_string(), Duration::from_secs(600))
        ]
    );
    assert_eq!(receiver.requests().len(), 3);
    // Log entries live for the default retention of 7 days, a failed one
    // also for the rest of its chain (it numbers the later attempts).
    let mut log = log_of(&store, &message).await;
    assert_eq!(log.len(), 3);
    // Newest first; the test makes retries due within the same millisecond.
    log.sort_by_key(|e| std::cmp::Reverse(e.attempt));
    let kept: Vec<time::Duration> = log.iter().map(|e| e.expires_at - e.created_at).collect();
    let week = time::Duration::days(7);
    assert_eq!(
        kept,
        [
            week,
            week + time::Duration::seconds(600),
            week + time::Duration::seconds(660)
        ]
    );
    // Newest first: the final attempt, then the retries due 600 s and 60 s
    // after their failures.
    let due: Vec<Option<time::Duration>> = log
        .iter()
        .map(|e| e.next_attempt_at.map(|at| at - e.created_at))
        .collect();
    assert_eq!(
        due,
        [
            None,
            Some(time::Duration::seconds(600)),
            Some(time::Duration::seconds(60))
        ]
    );
}

/// The endpoint's log, newest first.
async fn log_of(
    store: &EmbeddedStore,
    message: &DeliveryMessage,
) -> Vec<courier::attempt::DeliveryAttempt> {
    let query = courier::attempt::DeliveryQuery {
        limit: 10,
        ..Default::default()
    };
    store
        .recent_deliveries(&message.tenant_id, message.endpoint_id, &query)
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn an_inflated_receive_count_does_not_skip_attempts() {
    // Throttled redeliveries raise the receive count without any attempt.
    let (deliverer, queue, receiver, message, store) = failing_delivery().await;
    let received = ReceivedMessage {
        queue_message_id: "m".into(),
        receipt: "r".into(),
        body: message.to_json().into(),
        receive_count: 7,
    };
    deliverer.handle_batch(&[received]).await;
    let request = receiver.requests().remove(0);
    assert_eq!(request.header("webhook-attempt"), Some("1"));
    assert_eq!(queue.retries()[0].1, Duration::from_secs(60));
    let log = log_of(&store, &message).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].attempt, 1, "logged as the first attempt");
    assert_eq!(log[0].trigger, Trigger::Event, "not a retry");
}

#[tokio::test]
async fn a_copy_handed_out_before_its_retry_is_due_waits_instead_of_sending() {
    let (deliverer, queue, receiver, message, _) = failing_delivery().await;
    let copy = |receipt: &str| ReceivedMessage {
        queue_message_id: "sqs-1".into(),
        receipt: receipt.into(),
        body: message.to_json().into(),
        receive_count: 1,
    };
    assert_eq!(deliverer.handle_batch(&[copy("first")]).await, ["sqs-1"]);
    // An SQS duplicate arrives while attempt 2 is still 60 s away.
    assert_eq!(
        deliverer.handle_batch(&[copy("duplicate")]).await,
        ["sqs-1"]
    );
    assert_eq!(
        receiver.requests().len(),
        1,
        "the duplicate must not send attempt 2 early"
    );
    let retries = queue.retries();
    assert_eq!(retries[0], ("first".to_string(), Duration::from_secs(60)));
    assert_eq!(retries[1].0, "duplicate");
    assert!(
        retries[1].1 > Duration::from_secs(55) && retries[1].1 <= Duration::from_secs(60),
        "{:?}",
        retries[1].1
    );
}
