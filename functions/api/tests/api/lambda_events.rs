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

use courier_testkit::samples::{API_SAMPLES, SAMPLE_DELIVERY, SAMPLE_ENDPOINT, SAMPLE_TENANT};

use crate::common::{logged_attempt, seed_event, state};

courier_testkit::backend_tests!(store: every_api_sample_event_gets_its_expected_status);

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
    let mut listed: Vec<String> = API_SAMPLES
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every events/api-*.json needs an entry in API_SAMPLES"
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
    for (name, expected) in API_SAMPLES {
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
