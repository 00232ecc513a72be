//! Per-endpoint rate limits (issue #16): `rateLimitPerSecond` set on
//! create and PATCH, shown in reads, 1 to 1000 or refused with a 422
//! naming the field; on PATCH absent leaves it, null removes it.

use std::sync::Arc;

use axum::http::StatusCode;
use courier::ports::Store;
use serde_json::{Value, json};

use crate::common::{Api, endpoint_path, endpoints_path, unique_tenant};

courier_testkit::backend_tests!(store:
    a_rate_limit_is_set_on_create_and_shown_in_reads,
    patch_changes_the_rate_limit_null_removes_it_absent_leaves_it,
    rate_limits_outside_1_to_1000_are_refused_naming_the_field,
);

fn create_body(limit: Value) -> Value {
    json!({ "url": "https://example.com/hook", "eventTypes": ["*"], "rateLimitPerSecond": limit })
}

/// The limit as stored.
async fn stored_limit(store: &dyn Store, tenant: &str, id: &str) -> Option<u32> {
    store
        .endpoint(&tenant.parse().unwrap(), id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .rate_limit_per_second
}

async fn a_rate_limit_is_set_on_create_and_shown_in_reads(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let created = api
        .post(&endpoints_path(&tenant), create_body(json!(5)))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["rateLimitPerSecond"], 5);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(stored_limit(&*store, &tenant, &id).await, Some(5));
    let read = api.get(&endpoint_path(&tenant, &id)).await;
    assert_eq!(read.body["rateLimitPerSecond"], 5);
    let listed = api.get(&endpoints_path(&tenant)).await;
    assert_eq!(listed.body["data"][0]["rateLimitPerSecond"], 5);

    // Both bounds, an integral float (JSON Schema's integer), and no limit
    // when null.
    let accepted = [
        (json!(1), json!(1)),
        (json!(1000), json!(1000)),
        (json!(7.0), json!(7)),
        (json!(null), json!(null)),
    ];
    for (given, shown) in accepted {
        let reply = api.post(&endpoints_path(&tenant), create_body(given)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        assert_eq!(reply.body["rateLimitPerSecond"], shown);
    }
    let plain = api.create_endpoint(&tenant).await;
    assert_eq!(plain["rateLimitPerSecond"], json!(null));
}

async fn patch_changes_the_rate_limit_null_removes_it_absent_leaves_it(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let id = api.create_endpoint_id(&tenant).await;
    let path = endpoint_path(&tenant, &id);

    let set = api.patch(&path, json!({ "rateLimitPerSecond": 20 })).await;
    assert_eq!(set.status, StatusCode::OK, "{set:?}");
    assert_eq!(set.body["rateLimitPerSecond"], 20);
    let other = api.patch(&path, json!({ "description": "paced" })).await;
    assert_eq!(other.body["rateLimitPerSecond"], 20, "absent leaves it");
    assert_eq!(stored_limit(&*store, &tenant, &id).await, Some(20));

    let removed = api
        .patch(&path, json!({ "rateLimitPerSecond": null }))
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{removed:?}");
    assert_eq!(removed.body["rateLimitPerSecond"], json!(null));
    assert_eq!(stored_limit(&*store, &tenant, &id).await, None);
    let read = api.get(&path).await;
    assert_eq!(read.body["rateLimitPerSecond"], json!(null));
}

async fn rate_limits_outside_1_to_1000_are_refused_naming_the_field(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let id = api.create_endpoint_id(&tenant).await;
    let path = endpoint_path(&tenant, &id);
    for bad in [json!(0), json!(1001), json!(-1), json!(2.5), json!("5")] {
        let created = api
            .post(&endpoints_path(&tenant), create_body(bad.clone()))
            .await;
        created.assert_problem(422, Some("rateLimitPerSecond"));
        let patched = api.patch(&path, json!({ "rateLimitPerSecond": bad })).await;
        patched.assert_problem(422, Some("rateLimitPerSecond"));
    }
    let refused = api
        .post(&endpoints_path(&tenant), create_body(json!(1001)))
        .await;
    assert!(
        refused.detail().contains("between 1 and 1000"),
        "{refused:?}"
    );
    // Nothing was created or changed.
    assert_eq!(api.endpoint_ids(&tenant).await, vec![id.clone()]);
    assert_eq!(stored_limit(&*store, &tenant, &id).await, None);
}
