//! SQS calls of a large fan-out on moto: ceil(n/10) SendMessageBatch calls.

use std::time::Duration;

use courier::config::Settings;
use courier::ports::EndpointStore;
use courier_aws::CallCounter;
use courier_intake::{Intake, PublishRequest};
use serde_json::value::RawValue;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_endpoint_fan_out_takes_a_hundred_batch_calls() {
    let counter = CallCounter::new();
    let (backend, _) = courier_testkit::aws::backend(Duration::from_secs(30), Some(&counter)).await;
    let tenant = courier_testkit::unique_tenant();
    courier_testkit::ensure_event_type(&*backend.store, "order.created").await;
    let creates = (0..1000).map(|_| {
        let store = backend.store.clone();
        let ep = courier_testkit::endpoint(&tenant, &["order.*"]);
        async move { store.create_endpoint(&ep).await.unwrap() }
    });
    futures::future::join_all(creates).await;

    counter.reset();
    let intake = Intake::new(
        backend.store.clone(),
        backend.queue.clone(),
        Settings::default(),
    );
    let request = PublishRequest {
        id: None,
        event_type: "order.created".into(),
        data: RawValue::from_string("{}".into()).unwrap(),
    };
    let published = intake.publish(&tenant, request).await.unwrap();
    assert_eq!(published.endpoints, 1000);
    assert_eq!(
        counter.count("SendMessageBatch"),
        100,
        "calls: {:?}",
        counter.counts()
    );
    assert_eq!(
        counter.count("Scan"),
        0,
        "the endpoint lookup must not scan"
    );
}
