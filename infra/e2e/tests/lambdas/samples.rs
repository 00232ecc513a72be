//! Every sample in `events/` on the real binaries: the API Gateway events
//! for `api` and `intake` and the direct invocations of `intake` through
//! `cargo lambda invoke --data-file`, the SQS event for `delivery`.

use std::path::PathBuf;
use std::time::Duration;

use courier::ports::EndpointStore;
use courier_e2e::{Stack, workspace_root};
use courier_testkit::Receiver;
use courier_testkit::samples::{API_SAMPLES, SAMPLE_ENDPOINT, SAMPLE_TENANT, SampleRun, seed};
use serde_json::{Value, json};

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

/// The JSON body of an API Gateway answer (`Null` when there is none).
fn answer_body(name: &str, answer: &Value) -> Value {
    assert_ne!(answer["isBase64Encoded"], true, "{name}: {answer}");
    match answer["body"].as_str() {
        None | Some("") => Value::Null,
        Some(text) => {
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}: {answer}"))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_intake_samples_run_on_the_real_functions() {
    let stack = Stack::start().await;
    let mut run = SampleRun::new(seed(&stack.store, "https://example.com/webhooks").await);

    for (name, _) in API_SAMPLES {
        let answer = run_sample(&stack, "api", name).await;
        let status = answer["statusCode"]
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: no statusCode: {answer}"));
        run.assert_answer(name, status as u16, &answer_body(name, &answer));
    }
    // Left: the endpoint api-create.json made, subscribed to booking.created,
    // and the messages of the resend and the test event.
    let mapping = stack.mapping().await;
    assert_eq!(mapping.messages_left().await, 2);

    let answer = run_sample(&stack, "intake", "intake-http-publish.json").await;
    assert_eq!(answer["statusCode"], 202, "{answer}");
    assert_eq!(
        answer_body("intake-http-publish.json", &answer),
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
    assert_eq!(
        again,
        json!({"id": "evt_booking_bk_1043", "endpoints": 0, "duplicate": true})
    );
    assert_eq!(mapping.messages_left().await, 2 + 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqs_sample_is_delivered_and_its_unparseable_record_reported() {
    let stack = Stack::start().await;
    let receiver = Receiver::start().await;
    let mut endpoint =
        courier_testkit::endpoint_at(&SAMPLE_TENANT.parse().unwrap(), &receiver.url(), &["*"]);
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
