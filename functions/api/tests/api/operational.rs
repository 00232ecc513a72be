//! Operational webhooks at the API: the built-in `webhooks.*` types are in
//! the catalogue for good, and re-enabling a disabled endpoint queues
//! `webhooks.endpoint.enabled` for the operations tenant's endpoints.

use std::sync::Arc;

use axum::http::StatusCode;
use courier::config::Settings;
use courier::embedded::{EmbeddedQueue, QueueSettings};
use courier::event_type::BUILT_IN;
use courier::operational::{ENDPOINT_DISABLED, ENDPOINT_ENABLED};
use courier::ports::Store;
use serde_json::{Value, json};

use crate::common::{Api, endpoint_path, endpoints_path, unique_tenant};

courier_testkit::backend_tests!(store:
    built_in_types_are_listed_and_can_be_neither_created_nor_deleted,
    re_enabling_a_disabled_endpoint_queues_endpoint_enabled,
);

/// Every name of the catalogue, page by page.
async fn catalogue(api: &Api) -> Vec<String> {
    let mut names = Vec::new();
    let mut path = "/v1/event-types?limit=100".to_owned();
    loop {
        let reply = api.get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let data = reply.body["data"].as_array().unwrap();
        names.extend(data.iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        match reply.body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/v1/event-types?limit=100&cursor={cursor}"),
            None => return names,
        }
    }
}

async fn built_in_types_are_listed_and_can_be_neither_created_nor_deleted(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let names = catalogue(&api).await;
    for (name, _) in BUILT_IN {
        assert_eq!(names.iter().filter(|n| *n == name).count(), 1, "{name}");
        let created = api.post("/v1/event-types", json!({ "name": name })).await;
        created.assert_problem(409, None);
        assert!(created.detail().contains("built-in"), "{created:?}");
        let deleted = api.delete(&format!("/v1/event-types/{name}")).await;
        deleted.assert_problem(409, None);
        assert!(
            deleted.detail().contains("cannot be deleted"),
            "{deleted:?}"
        );
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "built-ins in name order among the rest");
    api.post("/v1/event-types", json!({ "name": "webhooks.mine" }))
        .await
        .assert_problem(422, Some("name"));
    // Any tenant's endpoint may subscribe; only the operations tenant's get any.
    let body = json!({ "url": "https://example.com/ops", "eventTypes": [ENDPOINT_DISABLED] });
    let reply = api.post(&endpoints_path(&unique_tenant()), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
}

async fn re_enabling_a_disabled_endpoint_queues_endpoint_enabled(store: Arc<dyn Store>) {
    let ops = unique_tenant();
    let settings = Settings {
        operations_tenant: ops.parse().unwrap(),
        ..Settings::default()
    };
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings::default()));
    let api = Api::with(store, queue, settings);
    let body = json!({ "url": "https://example.com/ops", "eventTypes": ["webhooks.*"] });
    let reply = api.post(&endpoints_path(&ops), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let ops_endpoint = reply.body["id"].as_str().unwrap().to_owned();

    let tenant = unique_tenant();
    let id = api.create_endpoint_id(&tenant).await;
    let path = endpoint_path(&tenant, &id);
    let patch = |enabled: bool| api.patch(&path, json!({ "enabled": enabled }));
    assert_eq!(patch(false).await.status, StatusCode::OK);
    assert!(
        api.take_queued().await.is_empty(),
        "disabling by hand is not reported"
    );
    assert_eq!(patch(true).await.status, StatusCode::OK);
    let queued = api.take_queued().await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    let event = &queued[0].event;
    assert_eq!(queued[0].endpoint_id.to_string(), ops_endpoint);
    assert_eq!(event.tenant_id.as_str(), ops);
    assert_eq!(event.event_type.as_str(), ENDPOINT_ENABLED);
    let data: Value = serde_json::from_str(event.data.get()).unwrap();
    assert_eq!(
        data,
        json!({ "tenantId": tenant, "endpointId": id, "url": "https://example.com/hook" })
    );
    // Enabling an enabled endpoint changes nothing, and says nothing.
    assert_eq!(patch(true).await.status, StatusCode::OK);
    assert!(api.take_queued().await.is_empty());

    // Nothing about the operations tenant's own endpoints.
    let own = endpoint_path(&ops, &ops_endpoint);
    for enabled in [false, true] {
        let reply = api.patch(&own, json!({ "enabled": enabled })).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    }
    assert!(api.take_queued().await.is_empty());
}
