//! The delivery queue.

use std::collections::BTreeMap;
use std::time::Duration;

use courier::ids::{EndpointId, MessageId};
use courier::message::{DeliveryMessage, ReceivedMessage, Trigger};
use tokio::time::Instant;

use super::{event, unique_tenant};
use crate::queue::ReceivingQueue;

fn messages(n: usize) -> Vec<DeliveryMessage> {
    let t = unique_tenant();
    (0..n)
        .map(|i| {
            let e = event(&t, "booking.created", &format!("{{\"n\":{i}}}"));
            DeliveryMessage::new(EndpointId::generate(), Trigger::Event, e)
        })
        .collect()
}

/// Receives until `n` messages arrived or `within` passed.
async fn receive_n(queue: &dyn ReceivingQueue, n: usize, within: Duration) -> Vec<ReceivedMessage> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < deadline {
        got.extend(queue.receive(10, Duration::from_secs(1)).await.unwrap());
    }
    got
}

fn by_id(received: &[ReceivedMessage]) -> BTreeMap<MessageId, DeliveryMessage> {
    received
        .iter()
        .map(|r| {
            let m = DeliveryMessage::from_json(&r.body).unwrap();
            (m.message_id, m)
        })
        .collect()
}

/// What is enqueued is received as sent, once, with receive count 1.
pub async fn enqueued_messages_are_received_unchanged(queue: &dyn ReceivingQueue) {
    let sent = messages(3);
    queue.enqueue(&sent).await.unwrap();
    let received = receive_n(queue, 3, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.receive_count == 1));
    let expected: BTreeMap<_, _> = sent.into_iter().map(|m| (m.message_id, m)).collect();
    assert_eq!(by_id(&received), expected);
    for r in &received {
        queue.delete(&r.receipt).await.unwrap();
    }
    assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
}

/// A fan-out larger than one batch arrives whole.
pub async fn many_messages_are_all_enqueued(queue: &dyn ReceivingQueue) {
    let sent = messages(45);
    queue.enqueue(&sent).await.unwrap();
    let received = receive_n(queue, 45, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 45);
    let ids: Vec<MessageId> = sent.iter().map(|m| m.message_id).collect();
    let got: Vec<MessageId> = by_id(&received).into_keys().collect();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(got, expected, "each message exactly once");
}

/// `retry_after` hides a received message for the delay, then it comes
/// back with a higher receive count; not before.
pub async fn retry_after_brings_a_message_back_after_the_delay(queue: &dyn ReceivingQueue) {
    let sent = messages(1);
    queue.enqueue(&sent).await.unwrap();
    let first = receive_n(queue, 1, Duration::from_secs(10)).await;
    assert_eq!(first.len(), 1);
    queue
        .retry_after(&first[0].receipt, Duration::from_secs(1))
        .await
        .unwrap();
    let asked = Instant::now();
    assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        queue.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "came back before its delay"
    );
    let again = receive_n(queue, 1, Duration::from_secs(5)).await;
    assert_eq!(again.len(), 1, "did not come back after its delay");
    assert!(asked.elapsed() >= Duration::from_millis(900));
    assert_eq!(again[0].receive_count, 2);
    assert_eq!(again[0].body, first[0].body);
}
