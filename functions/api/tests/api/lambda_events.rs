//! The API Gateway samples in `events/` go through lambda_http's event
//! conversion and the router, exactly as in the Lambda, so none of them can
//! go stale; each answer's key fields are checked, not only its status
//! (`courier_testkit::samples::SampleRun`).

use std::path::PathBuf;
use std::sync::Arc;

use courier::ports::Store;
use courier_testkit::samples::{API_SAMPLES, SampleRun, seed};
use serde_json::Value;
use tower::ServiceExt;

use crate::common::state;

courier_testkit::backend_tests!(store: every_api_sample_event_gets_its_expected_answer);

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

async fn every_api_sample_event_gets_its_expected_answer(store: Arc<dyn Store>) {
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

    let mut run = SampleRun::new(seed(store.as_ref(), "https://example.com/webhooks").await);
    let router = courier_api::router(state(store));
    for (name, _) in API_SAMPLES {
        let text = std::fs::read_to_string(events_dir().join(name)).unwrap();
        let request = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("{name} is not an API Gateway v2 event: {e}"));
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{name}: {e}: {}", String::from_utf8_lossy(&bytes)))
        };
        run.assert_answer(name, status, &body);
    }
}
