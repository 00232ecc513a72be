//! SQS adapter behaviour beyond the conformance suite, on moto: batching
//! and its call count, and partial failures.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use courier::event::Event;
use courier::ids::EndpointId;
use courier::message::{DeliveryMessage, Trigger};
use courier::ports::{DeliveryQueue, QueueError};
use courier_aws::{CallCounter, SqsQueue, schema};
use courier_testkit::aws;
use courier_testkit::conformance::{event, unique_tenant};
use serde_json::value::RawValue;

fn messages(n: usize) -> Vec<DeliveryMessage> {
    let t = unique_tenant();
    (0..n)
        .map(|_| {
            DeliveryMessage::new(
                EndpointId::generate(),
                Trigger::Event,
                event(&t, "booking.created", "{}"),
            )
        })
        .collect()
}

async fn queued(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    attrs.attributes().unwrap()[&QueueAttributeName::ApproximateNumberOfMessages]
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_to_1000_endpoints_takes_100_batch_calls() {
    let counter = CallCounter::new();
    let (_, sqs) = aws::clients(Some(&counter));
    let urls = aws::new_queue(&sqs, Duration::from_secs(30)).await;
    let queue = SqsQueue::new(sqs.clone(), &urls.queue_url);
    counter.reset();
    queue.enqueue(&messages(1000)).await.unwrap();
    assert_eq!(counter.count("SendMessageBatch"), 100);
    assert_eq!(counter.total(), 100, "{:?}", counter.counts());
    assert_eq!(queued(&sqs, &urls.queue_url).await, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sqs_refuses_are_reported_and_the_rest_enqueued() {
    let (_, sqs) = aws::clients(None);
    let urls = aws::new_queue(&sqs, Duration::from_secs(30)).await;
    let queue = SqsQueue::new(sqs.clone(), &urls.queue_url);
    let mut batch = messages(5);
    // Over SQS's message size limit (1 MiB since 2025): refused however often it is sent.
    let mut big: Event = batch[2].event.clone();
    big.data = RawValue::from_string(format!("\"{}\"", "x".repeat(1100 * 1024))).unwrap();
    batch[2].event = big;
    match queue.enqueue(&batch).await {
        Err(QueueError::NotEnqueued { failed }) => assert_eq!(failed, [batch[2].message_id]),
        other => panic!("expected NotEnqueued, got {other:?}"),
    }
    assert_eq!(queued(&sqs, &urls.queue_url).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_received_too_often_moves_to_the_dead_letter_queue() {
    let (_, sqs) = aws::clients(None);
    let urls = aws::new_queue(&sqs, Duration::from_secs(30)).await;
    let queue = SqsQueue::new(sqs.clone(), &urls.queue_url);
    let sent = messages(1);
    queue.enqueue(&sent).await.unwrap();
    for round in 1..=schema::MAX_RECEIVE_COUNT {
        let got = queue
            .receive(10, Duration::from_secs(1), None)
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "receive {round}");
        assert_eq!(got[0].receive_count, round);
        // Visible again at once, as after a failed delivery.
        queue
            .retry_after(&got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    assert!(
        queue
            .receive(10, Duration::from_secs(1), None)
            .await
            .unwrap()
            .is_empty()
    );
    let dlq = SqsQueue::new(sqs, &urls.dead_letter_queue_url);
    let dead = dlq.receive(10, Duration::from_secs(1), None).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(DeliveryMessage::from_json(&dead[0].body).unwrap(), sent[0]);
}
