//! `MAX_ENDPOINTS_PER_TENANT`: a tenant at its limit gets a 409 naming the
//! limit; other tenants and a tenant that deleted one are not held back.

use std::sync::Arc;

use axum::http::StatusCode;
use courier::config::Settings;
use courier::embedded::{EmbeddedQueue, QueueSettings};
use courier::ports::Store;
use serde_json::json;

use crate::common::{Api, endpoint_path, endpoints_path, unique_tenant};

courier_testkit::backend_tests!(store:
    creating_past_the_tenant_limit_is_a_409_naming_it,
);

async fn creating_past_the_tenant_limit_is_a_409_naming_it(store: Arc<dyn Store>) {
    let settings = Settings {
        max_endpoints_per_tenant: 3,
        ..Settings::default()
    };
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings::default()));
    let api = Api::with(store, queue, settings);
    let (tenant, other) = (unique_tenant(), unique_tenant());
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(api.create_endpoint_id(&tenant).await);
    }
    // A disabled endpoint still counts: it can be re-enabled at any time.
    let disabled = api
        .patch(&endpoint_path(&tenant, &ids[0]), json!({"enabled": false}))
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{disabled:?}");

    let body = json!({"url": "https://example.com/hook", "eventTypes": ["*"]});
    let refused = api.post(&endpoints_path(&tenant), body.clone()).await;
    // The tenant's state refuses it: deleting an endpoint lets it through.
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("already has 3 endpoints") && detail.contains("MAX_ENDPOINTS_PER_TENANT"),
        "{detail}"
    );
    let listed = api.get(&endpoints_path(&tenant)).await;
    assert_eq!(
        listed.body["data"].as_array().unwrap().len(),
        3,
        "nothing was created"
    );

    // Another tenant has its own allowance.
    api.create_endpoint_id(&other).await;
    // Deleting one makes room for one.
    let deleted = api.delete(&endpoint_path(&tenant, &ids[1])).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let created = api.post(&endpoints_path(&tenant), body.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let refused = api.post(&endpoints_path(&tenant), body).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
}
