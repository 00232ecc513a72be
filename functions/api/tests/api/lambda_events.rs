//! The API Gateway samples in `events/` go through lambda_http's event
//! conversion and the router, exactly as in the Lambda, so none of them can
//! go stale.

use std::path::PathBuf;
use std::sync::Arc;

use courier::endpoint::Endpoint;
use courier::event_type::EventTypeFilter;
use courier::ports::Store;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

use crate::common::{logged_attempt, seed_event, state};

api_tests!(every_api_sample_event_gets_its_expected_status);

/// The samples in the order they make sense, with the status each expects.
const SAMPLES: &[(&str, u16)] = &[
    ("api-create-event-type.json", 201),
    ("api-create.json", 201),
    ("api-list.json", 200),
    ("api-read.json", 200),
    ("api-update.json", 200),
    ("api-reveal-secret.json", 200),
    ("api-rotate.json", 200),
    ("api-deliveries-list.json", 200),
    ("api-delivery-read.json", 200),
    ("api-resend.json", 202),
    ("api-test-event.json", 202),
    ("api-stats.json", 200),
    ("api-delete.json", 204),
];

/// The tenant, endpoint and delivery the samples name (see events/README.md).
const SAMPLE_TENANT: &str = "store_66f1";
const SAMPLE_ENDPOINT: &str = "ep_01J9Z3W5Q8R7T6Y5X4V3B2N1M0";
const SAMPLE_DELIVERY: &str = "del_01J9Z4A7K2M3N4P5Q6R7S8T9V0";

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

async fn every_api_sample_event_gets_its_expected_status(store: Arc<dyn Store>) {
    let mut on_disk: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("api-") && name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SAMPLES.iter().map(|(name, _)| name.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every events/api-*.json needs an entry in SAMPLES"
    );

    // Endpoint ids are issued by the server, so the samples' one is seeded.
    let mut endpoint = Endpoint::new(
        SAMPLE_TENANT.parse().unwrap(),
        "https://example.com/webhooks".into(),
        vec![EventTypeFilter::All],
        OffsetDateTime::now_utc(),
    );
    endpoint.id = SAMPLE_ENDPOINT.parse().unwrap();
    store.create_endpoint(&endpoint).await.unwrap();
    // So are delivery ids; the sample delivery is a failed attempt of a
    // stored event, so that it can be resent.
    let now = OffsetDateTime::now_utc();
    let event = seed_event(store.as_ref(), SAMPLE_TENANT, now + Duration::days(7)).await;
    let mut attempt = logged_attempt(SAMPLE_TENANT, SAMPLE_ENDPOINT, event.id.as_str(), now);
    attempt.id = SAMPLE_DELIVERY.parse().unwrap();
    store.record_attempts(&[attempt]).await.unwrap();

    let router = courier_api::router(state(store));
    for (name, expected) in SAMPLES {
        let text = std::fs::read_to_string(events_dir().join(name)).unwrap();
        let request = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("{name} is not an API Gateway v2 event: {e}"));
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            status,
            *expected,
            "{name}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}
