//! Every sample in `events/` on the real binaries: the API Gateway events
//! for `api` and `intake` and the direct invocations of `intake` through
//! `cargo lambda invoke --data-file`, the SQS event for `delivery`.

use std::path::PathBuf;
use std::time::Duration;

use courier::attempt::{AttemptStatus, DeliveryAttempt, ErrorClass};
use courier::endpoint::Endpoint;
use courier::event::{Event, to_millis};
use courier::event_type::EventTypeFilter;
use courier::ids::{EventId, MessageId};
use courier::message::Trigger;
use courier::ports::{DeliveryLog, EndpointStore, EventStore};
use courier_e2e::{Stack, workspace_root};
use courier_testkit::Receiver;
use courier_testkit::samples::{API_SAMPLES, SAMPLE_DELIVERY, SAMPLE_ENDPOINT, SAMPLE_TENANT};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::common::assert_signed;

/// `cargo lambda invoke {function} --data-file events/{name}`.
async fn run_sample(stack: &Stack, function: &str, name: &str) -> Value {
    let path: PathBuf = workspace_root().join("events").join(name);
    stack
        .watch
        .invoke_file(function, &path)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_intake_samples_run_on_the_real_functions() {
    let stack = Stack::start().await;
    // Endpoint ids are issued by the server, so the one the samples name is seeded.
    let mut seeded = Endpoint::new(
        SAMPLE_TENANT.parse().unwrap(),
        "https://example.com/webhooks".into(),
        vec![EventTypeFilter::All],
        OffsetDateTime::now_utc(),
    );
    seeded.id = SAMPLE_ENDPOINT.parse().unwrap();
    stack.store.create_endpoint(&seeded).await.unwrap();
    seed_sample_delivery(&stack).await;

    for (name, expected) in API_SAMPLES {
        let answer = run_sample(&stack, "api", name).await;
        assert_eq!(answer["statusCode"], *expected, "{name}: {answer}");
    }
    // Left: the endpoint api-create.json made, subscribed to booking.created,
    // and the messages of the resend and the test event.
    let mapping = stack.mapping().await;
    assert_eq!(mapping.messages_left().await, 2);

    let answer = run_sample(&stack, "intake", "intake-http-publish.json").await;
    assert_eq!(answer["statusCode"], 202, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"id": "evt_booking_bk_1042", "endpoints": 1, "duplicate": false})
    );

    let one = run_sample(&stack, "intake", "intake-direct-one.json").await;
    assert_eq!(
        one,
        json!({"id": "evt_booking_bk_1043", "endpoints": 1, "duplicate": false})
    );
    let list = run_sample(&stack, "intake", "intake-direct-list.json").await;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    assert!(list[0]["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(list[1]["id"], "evt_booking_bk_1045");
    assert!(list.as_array().unwrap().iter().all(|p| p["endpoints"] == 1));

    // The same id again is acknowledged but not fanned out twice.
    let again = run_sample(&stack, "intake", "intake-direct-one.json").await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(mapping.messages_left().await, 2 + 4);
}

/// The failed attempt the samples name (`SAMPLE_DELIVERY`), of a stored
/// event so that it can be resent. Delivery ids are issued by the server.
async fn seed_sample_delivery(stack: &Stack) {
    let now = OffsetDateTime::now_utc();
    let event = Event {
        id: EventId::generate(),
        tenant_id: SAMPLE_TENANT.parse().unwrap(),
        event_type: "booking.created".parse().unwrap(),
        created_at: to_millis(now),
        data: RawValue::from_string(r#"{"bookingId":"bk_1"}"#.into()).unwrap(),
    };
    let expires_at = now + time::Duration::days(7);
    stack.store.store_event(&event, expires_at).await.unwrap();
    let attempt = DeliveryAttempt {
        id: SAMPLE_DELIVERY.parse().unwrap(),
        tenant_id: event.tenant_id.clone(),
        endpoint_id: SAMPLE_ENDPOINT.parse().unwrap(),
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        message_id: MessageId::generate(),
        attempt: 1,
        trigger: Trigger::Event,
        status: AttemptStatus::Failed,
        url: "https://example.com/webhooks".into(),
        http_status: Some(503),
        response_time_ms: Some(120),
        error_class: Some(ErrorClass::ServerError),
        error: Some("HTTP 503".into()),
        response_body: Some("busy".into()),
        request_headers: vec![],
        created_at: now,
        next_attempt_at: None,
        expires_at,
    };
    stack.store.record_attempts(&[attempt]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqs_sample_is_delivered_and_its_unparseable_record_reported() {
    let stack = Stack::start().await;
    let receiver = Receiver::start().await;
    let mut endpoint = Endpoint::new(
        SAMPLE_TENANT.parse().unwrap(),
        receiver.url(),
        vec![EventTypeFilter::All],
        OffsetDateTime::now_utc(),
    );
    endpoint.id = SAMPLE_ENDPOINT.parse().unwrap();
    stack.store.create_endpoint(&endpoint).await.unwrap();

    let answer = run_sample(&stack, "delivery", "delivery-sqs-batch.json").await;
    let unparseable = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": unparseable}]}),
        "the unparseable record stays in the queue (and ends in the DLQ); the other is done"
    );
    let requests = receiver.wait_for(1, Duration::from_secs(1)).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("webhook-id"),
        Some("evt_booking_bk_1042")
    );
    assert_eq!(requests[0].header("webhook-attempt"), Some("1"));
    assert_signed(&requests[0], endpoint.secrets[0].secret.expose());
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["type"], "booking.created");
    assert_eq!(body["data"]["bookingId"], "bk_1042");
}
