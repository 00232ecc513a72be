//! Custom headers per endpoint (issue #16) on both backends: every attempt
//! (the first, its retry, a test event) carries them with their real
//! values after the service's own, and the delivery log shows them masked.

mod harness;

use std::time::Duration;

use courier::headers::{CustomHeader, MASK};
use courier::message::{DeliveryMessage, Trigger};
use courier_testkit::{Reply, TestBackend};
use harness::{Harness, fast_settings};

const TIMEOUT: Duration = Duration::from_secs(40);
const CREDENTIAL: &str = "Bearer delivery-credential-7b2e";

fn header(name: &str, value: &str) -> CustomHeader {
    CustomHeader {
        name: name.into(),
        value: value.into(),
    }
}

pub async fn custom_headers_reach_every_attempt_and_are_masked_in_the_log(b: &dyn TestBackend) {
    let h = Harness::new(b, fast_settings()).await;
    let created = h.endpoint().await;
    let mut ep = created.clone();
    ep.headers = vec![
        header("Authorization", CREDENTIAL),
        header("X-Routing-Key", "eu-1"),
    ];
    ep.revision += 1;
    h.store.update_endpoint(&created, &ep).await.unwrap();
    // The first attempt fails, so its retry is a second attempt.
    h.receiver.respond_with(vec![Reply::status(503)]);
    h.enqueue(&ep).await;
    h.pump_until(&ep, 2, Duration::ZERO, TIMEOUT).await;
    let test = DeliveryMessage::new(ep.id, Trigger::Test, h.event());
    h.queue.enqueue(std::slice::from_ref(&test)).await.unwrap();
    let log = h.pump_until(&ep, 3, Duration::ZERO, TIMEOUT).await;

    let requests = h.receiver.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(request.header("authorization"), Some(CREDENTIAL));
        assert_eq!(request.header("x-routing-key"), Some("eu-1"));
        // The service's own headers are still there, unchanged.
        assert!(request.header("webhook-signature").is_some());
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
    assert_eq!(
        log.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2, 1],
        "the event's two attempts, then the test event"
    );
    for entry in &log {
        let logged = &entry.request_headers;
        assert!(
            logged.contains(&("authorization".into(), MASK.into())),
            "{logged:?}"
        );
        assert!(
            logged.contains(&("x-routing-key".into(), MASK.into())),
            "{logged:?}"
        );
        assert!(
            logged
                .iter()
                .all(|(_, v)| !v.contains("delivery-credential")),
            "no value in the log: {logged:?}"
        );
        assert!(logged.iter().any(|(n, _)| n == "webhook-id"), "{logged:?}");
    }
}

courier_testkit::backend_tests!(custom_headers_reach_every_attempt_and_are_masked_in_the_log);
