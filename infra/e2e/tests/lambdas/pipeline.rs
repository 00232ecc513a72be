//! Resends and test events from the api binary travel the same queue to
//! the delivery binary as published events do.

use std::time::Duration;

use courier_e2e::Stack;
use courier_testkit::Receiver;
use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resends_and_test_events_reach_the_receiver_through_the_queue() {
    let stack = Stack::start().await;
    let receiver = Receiver::start().await;
    let tenant = tenant();
    create_event_type(&stack, "booking.created").await;
    let (endpoint, secret) = create_endpoint(&stack, &tenant, &receiver.url()).await;
    let base = format!("/v1/tenants/{tenant}/endpoints/{endpoint}");
    let mapping = stack.mapping().await;

    let event = json!({"id": "evt_resend_me", "type": "booking.created", "data": {"n": 1}});
    publish(&stack, &tenant, event).await;
    let published = assert_all_acknowledged(&mapping.next_batch(RETRY_WITHIN).await);
    assert_eq!(published.len(), 1);
    let delivered = delivery_log(&stack, &tenant, &endpoint).await;

    let resend = format!(
        "{base}/deliveries/{}/resend",
        delivered[0]["id"].as_str().unwrap()
    );
    let resent = call(&stack, Method::POST, "api", &resend, None, 202).await;
    assert_eq!(resent["eventId"], "evt_resend_me");
    assert_eq!(
        assert_all_acknowledged(&mapping.next_batch(RETRY_WITHIN).await),
        [resent["messageId"].as_str().unwrap()],
        "the resend is a delivery of its own"
    );
    assert_ne!(resent["messageId"], published[0].as_str());

    let test = json!({"eventType": "booking.created"});
    let tested = call(
        &stack,
        Method::POST,
        "api",
        &format!("{base}/test"),
        Some(test),
        202,
    )
    .await;
    assert_eq!(
        assert_all_acknowledged(&mapping.next_batch(RETRY_WITHIN).await),
        [tested["messageId"].as_str().unwrap()]
    );

    let requests = receiver.wait_for(3, Duration::from_secs(1)).await;
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].header("webhook-id"), Some("evt_resend_me"));
    assert_eq!(requests[1].header("webhook-id"), Some("evt_resend_me"));
    assert_eq!(requests[2].header("webhook-id"), tested["eventId"].as_str());
    assert_eq!(
        requests[0].body, requests[1].body,
        "a resend sends the same event"
    );
    for request in &requests {
        assert_signed(request, &secret);
    }
    let log = delivery_log(&stack, &tenant, &endpoint).await;
    assert_eq!(
        summary(&log),
        [
            (1, "test".into(), "succeeded".into(), json!(200)),
            (1, "manual".into(), "succeeded".into(), json!(200)),
            (1, "event".into(), "succeeded".into(), json!(200)),
        ]
    );
    assert_eq!(mapping.messages_left().await, 0);
}
