//! A message queued by an older release is delivered by this one: the
//! format-1 sample in `events/` (written before messages carried a format)
//! goes through `handle_sqs_event` as the event source mapping hands it over.

mod harness;

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use courier::attempt::AttemptStatus;
use courier::message::{DeliveryMessage, Trigger};
use courier_testkit::TestBackend;
use harness::{Harness, fast_settings};

const FORMAT_1: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/delivery-sqs-batch-format-1.json"
);

pub async fn a_format_1_message_is_delivered_by_this_release(b: &dyn TestBackend) {
    let text = std::fs::read_to_string(FORMAT_1).expect("the format-1 sample");
    let event: SqsEvent = serde_json::from_str(&text).expect("an SQS event");
    let body = event.records[0].body.clone().expect("a body");
    assert!(
        !body.contains("\"format\""),
        "the sample predates the format field"
    );
    let queued = DeliveryMessage::from_json(&body).expect("format 1 parses");
    assert_eq!(queued.format, 1);

    let h = Harness::new(b, fast_settings()).await;
    // The sample names its tenant and endpoint: create that endpoint here
    // (under a fresh id on each backend's shared tables it would not match).
    let mut ep = courier_testkit::endpoint_at(&queued.tenant_id, &h.receiver.url(), &["*"]);
    ep.id = queued.endpoint_id;
    let _ = h.store.delete_endpoint(&ep.tenant_id, ep.id).await;
    h.store.create_endpoint(&ep).await.unwrap();

    let response = courier_delivery::handle_sqs_event(&h.deliverer, event, None).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "delivered and acknowledged: {:?}",
        response.batch_item_failures
    );
    let request = h
        .receiver
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(request.header("webhook-id"), Some(queued.event.id.as_str()));
    let sent: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let want: serde_json::Value = serde_json::from_str(queued.event.data.get()).unwrap();
    assert_eq!(sent["data"], want);
    assert_eq!(sent["type"], "booking.created");

    let query = courier::attempt::DeliveryQuery {
        limit: 10,
        ..Default::default()
    };
    let log = h
        .store
        .recent_deliveries(&ep.tenant_id, ep.id, &query)
        .await
        .unwrap()
        .items;
    let entry = log
        .iter()
        .find(|e| e.message_id == queued.message_id)
        .expect("the attempt is logged");
    assert_eq!(entry.status, AttemptStatus::Succeeded);
    assert_eq!((entry.attempt, entry.trigger), (1, Trigger::Event));
    h.store.delete_endpoint(&ep.tenant_id, ep.id).await.unwrap();
}

courier_testkit::backend_tests!(a_format_1_message_is_delivered_by_this_release);
