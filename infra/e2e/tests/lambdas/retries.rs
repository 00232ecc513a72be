//! Retries through the queue: the delivery binary's batch item failures
//! and visibility changes, with the harness playing the event source
//! mapping. A binary that acknowledged a retry (no batch item failure) would
//! lose attempt 2; one that did not set the visibility would bring it back
//! only after the queue's 30 s, past `RETRY_WITHIN`.

use std::time::Duration;

use courier_e2e::{QUEUE_VISIBILITY, Stack};
use courier_testkit::{Receiver, Reply};
use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_comes_back_after_the_retry_delay_and_succeeds() {
    let stack = Stack::start().await;
    let receiver = Receiver::start().await;
    receiver.respond_with(vec![Reply::status(503).with_body("busy")]);
    let tenant = tenant();

    create_event_type(&stack, "booking.created").await;
    let (endpoint, secret) = create_endpoint(&stack, &tenant, &receiver.url()).await;
    let event = json!({"type": "booking.created", "data": {"bookingId": "bk_1", "guests": 2}});
    let published = publish(&stack, &tenant, event).await;
    assert_eq!(published["endpoints"], 1);
    let event_id = published["id"].as_str().unwrap().to_owned();

    let mapping = stack.mapping().await;
    let first = mapping.next_batch(RETRY_WITHIN).await;
    assert_eq!(first.records.len(), 1);
    let message_id = first.records[0].message_id.clone();
    assert_eq!(first.records[0].receive_count, 1);
    assert_eq!(
        first.failures(),
        std::slice::from_ref(&message_id),
        "a failed attempt with retries left must be a batch item failure, or SQS deletes it; answer: {:?}",
        first.response
    );
    assert!(first.deleted.is_empty());

    let second = mapping.next_batch(RETRY_WITHIN).await;
    assert_eq!(second.records.len(), 1);
    assert_eq!(second.records[0].message_id, message_id);
    assert_eq!(second.records[0].receive_count, 2);
    let gap = second.records[0].received_at - first.records[0].received_at;
    assert!(
        gap >= Duration::from_secs(1) && gap < QUEUE_VISIBILITY,
        "the retry came back after {gap:?}: RETRY_SCHEDULE=1,2 asks for 1 s"
    );
    assert_eq!(second.response, Ok(json!({"batchItemFailures": []})));
    assert_eq!(second.deleted, [message_id]);
    assert_eq!(mapping.messages_left().await, 0);

    let requests = receiver.wait_for(2, Duration::from_secs(1)).await;
    assert_eq!(requests.len(), 2);
    for (request, attempt) in requests.iter().zip(["1", "2"]) {
        assert_eq!(request.header("webhook-attempt"), Some(attempt));
        assert_eq!(request.header("webhook-id"), Some(event_id.as_str()));
        assert_signed(request, &secret);
    }
    assert_eq!(requests[0].body, requests[1].body, "same bytes on a retry");
    assert!(requests[1].arrived - requests[0].arrived >= Duration::from_secs(1));

    let log = delivery_log(&stack, &tenant, &endpoint).await;
    assert_eq!(
        summary(&log),
        [
            (2, "retry".into(), "succeeded".into(), json!(200)),
            (1, "event".into(), "failed".into(), json!(503)),
        ]
    );
    // RETRY_SCHEDULE=1,2: attempt 1 is due again 1 s after it was made, and
    // attempt 2 was made no earlier than that.
    assert_due_after(&log[1], Duration::from_secs(1));
    assert!(time_of(&log[0], "createdAt") >= time_of(&log[1], "nextAttemptAt"));
    assert!(
        log[0]["nextAttemptAt"].is_null(),
        "a success has no next attempt"
    );
    let path = format!(
        "/v1/tenants/{tenant}/endpoints/{endpoint}/deliveries/{}",
        log[1]["id"].as_str().unwrap()
    );
    let first_attempt = call(&stack, Method::GET, "api", &path, None, 200).await;
    assert_eq!(first_attempt["responseBody"], "busy");

    let lines = attempt_log_lines(&stack);
    let attempts: Vec<_> = lines
        .iter()
        .map(|l| (l["attempt"].clone(), l["http_status"].clone()))
        .collect();
    // At the default level a failed attempt has its line; a success does
    // not (its log entry and the metrics carry it).
    assert_eq!(attempts, [(json!(1), json!(503))]);
    for function in ["api", "intake", "delivery"] {
        assert!(
            !stack.watch.output(function).join("\n").contains(&secret),
            "{function} logged the endpoint's secret"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_always_fails_gets_three_attempts_then_the_message_is_deleted() {
    let stack = Stack::start().await;
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::status(500));
    let tenant = tenant();
    create_event_type(&stack, "booking.cancelled").await;
    let (endpoint, _) = create_endpoint(&stack, &tenant, &receiver.url()).await;

    // Producers on AWS may invoke intake directly with the SDK.
    let published = stack
        .watch
        .invoke(
            "intake",
            &json!({"tenantId": tenant, "type": "booking.cancelled", "data": {"bookingId": "bk_9"}}),
        )
        .await
        .unwrap();
    assert_eq!(published["endpoints"], 1);

    let mapping = stack.mapping().await;
    let mut batches = Vec::new();
    for _ in 0..3 {
        batches.push(mapping.next_batch(RETRY_WITHIN).await);
    }
    let id = batches[0].records[0].message_id.clone();
    assert_eq!(batches[0].failures(), std::slice::from_ref(&id));
    assert_eq!(batches[1].failures(), std::slice::from_ref(&id));
    assert_eq!(
        batches[2].failures(),
        Vec::<String>::new(),
        "the last attempt is final: no batch item failure"
    );
    assert_eq!(batches[2].deleted, [id]);
    let gaps: Vec<Duration> = batches
        .windows(2)
        .map(|w| w[1].records[0].received_at - w[0].records[0].received_at)
        .collect();
    assert!(
        gaps[0] >= Duration::from_secs(1) && gaps[1] >= Duration::from_secs(2),
        "RETRY_SCHEDULE=1,2, got {gaps:?}"
    );
    assert_eq!(mapping.messages_left().await, 0);
    assert_eq!(receiver.requests().len(), 3);

    let log = delivery_log(&stack, &tenant, &endpoint).await;
    assert_eq!(
        summary(&log),
        [
            (3, "retry".into(), "failed".into(), json!(500)),
            (2, "retry".into(), "failed".into(), json!(500)),
            (1, "event".into(), "failed".into(), json!(500)),
        ]
    );
    // RETRY_SCHEDULE=1,2, one delay per failed attempt, none after the last.
    assert_due_after(&log[2], Duration::from_secs(1));
    assert_due_after(&log[1], Duration::from_secs(2));
    assert!(
        log[0]["nextAttemptAt"].is_null(),
        "no attempt follows the last"
    );
    assert!(
        stack.count_logged().await >= 3,
        "the three entries reach the stream"
    );
    let path = format!("/v1/tenants/{tenant}/endpoints/{endpoint}");
    let read = call(&stack, Method::GET, "api", &path, None, 200).await;
    assert_eq!(read["consecutiveFailures"], 3);
}

/// Lambda receives a message without handing it over when it is throttled,
/// or when a batch times out before the attempt: the receive count grows
/// with no attempt made. The attempt number (header and log) and the
/// schedule follow the attempts made, not the receive count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inflated_receive_count_neither_skips_attempts_nor_retries() {
    let stack = Stack::start().await;
    let receiver = Receiver::start().await;
    receiver.respond_with(vec![Reply::status(503)]);
    let tenant = tenant();
    create_event_type(&stack, "booking.created").await;
    let (endpoint, _) = create_endpoint(&stack, &tenant, &receiver.url()).await;
    let event = json!({"type": "booking.created", "data": {"bookingId": "bk_7"}});
    publish(&stack, &tenant, event).await;

    // Two receives that never reach the function (visible again at once).
    for _ in 0..2 {
        let received = stack
            .sqs
            .receive_message()
            .queue_url(&stack.queues.queue_url)
            .visibility_timeout(0)
            .wait_time_seconds(5)
            .send()
            .await
            .expect("ReceiveMessage on moto");
        assert_eq!(received.messages().len(), 1);
    }

    let mapping = stack.mapping().await;
    let first = mapping.next_batch(RETRY_WITHIN).await;
    assert_eq!(first.records[0].receive_count, 3);
    let message_id = first.records[0].message_id.clone();
    assert_eq!(
        first.failures(),
        std::slice::from_ref(&message_id),
        "attempt 1 of 3 failed: it is retried, whatever the receive count; answer: {:?}",
        first.response
    );
    let second = mapping.next_batch(RETRY_WITHIN).await;
    assert_eq!(second.records[0].receive_count, 4);
    assert_eq!(second.deleted, [message_id]);

    let requests = receiver.wait_for(2, Duration::from_secs(1)).await;
    let headers: Vec<_> = requests
        .iter()
        .map(|r| r.header("webhook-attempt"))
        .collect();
    assert_eq!(headers, [Some("1"), Some("2")]);
    let log = delivery_log(&stack, &tenant, &endpoint).await;
    assert_eq!(
        summary(&log),
        [
            (2, "retry".into(), "succeeded".into(), json!(200)),
            (1, "event".into(), "failed".into(), json!(503)),
        ]
    );
    assert_due_after(&log[1], Duration::from_secs(1));
    let lines = attempt_log_lines(&stack);
    let logged: Vec<_> = lines.iter().map(|l| l["attempt"].clone()).collect();
    assert_eq!(logged, [json!(1)], "only the failed attempt has a line");
    assert_eq!(mapping.messages_left().await, 0);
}
