//! Custom headers per endpoint (issue #16): set on create and PATCH, shown
//! masked in every read, and refused with a 422 naming the header when the
//! service or HTTP owns the name, or when a value or the count is wrong.

use std::sync::Arc;

use axum::http::StatusCode;
use courier::config::Settings;
use courier::embedded::{EmbeddedQueue, QueueSettings};
use courier::headers::CustomHeader;
use courier::ports::Store;
use serde_json::{Value, json};

use crate::common::{Api, Reply, endpoint_path, endpoints_path, unique_tenant};

courier_testkit::backend_tests!(store:
    custom_headers_are_shown_masked_in_every_read,
    patch_replaces_the_headers_clears_them_with_an_empty_object_or_leaves_them,
    every_reserved_header_name_is_refused_naming_it,
    too_many_headers_bad_values_and_repeated_names_are_refused,
);

const CREDENTIAL: &str = "Bearer tok-5f1c9a-must-not-show";

fn create_body(headers: Value) -> Value {
    json!({ "url": "https://example.com/hook", "eventTypes": ["*"], "headers": headers })
}

/// The headers as stored, with their real values.
async fn stored_headers(store: &dyn Store, tenant: &str, id: &str) -> Vec<CustomHeader> {
    store
        .endpoint(&tenant.parse().unwrap(), id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .headers
}

fn assert_refused(reply: &Reply, field: &str, named: &str) {
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    assert_eq!(reply.body["field"], field, "{reply:?}");
    assert!(
        reply.detail().contains(&format!("'{named}'")),
        "the detail names the header: {reply:?}"
    );
}

async fn custom_headers_are_shown_masked_in_every_read(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let headers = json!({ "X-Routing-Key": "eu-1", "Authorization": CREDENTIAL });
    let created = api
        .post(&endpoints_path(&tenant), create_body(headers))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let masked = json!({ "X-Routing-Key": "********", "Authorization": "********" });
    assert_eq!(created.body["headers"], masked);
    let id = created.body["id"].as_str().unwrap().to_owned();

    let read = api.get(&endpoint_path(&tenant, &id)).await;
    assert_eq!(read.body["headers"], masked);
    let listed = api.get(&endpoints_path(&tenant)).await;
    assert_eq!(listed.body["data"][0]["headers"], masked);
    for reply in [&created, &read, &listed] {
        assert!(!reply.body.to_string().contains("tok-5f1c9a"), "{reply:?}");
    }
    // Names in the order given (`json!` sorts them), with their real
    // values, as deliveries use them.
    let kept = stored_headers(store.as_ref(), &tenant, &id).await;
    let kept: Vec<(&str, &str)> = kept
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str()))
        .collect();
    assert_eq!(
        kept,
        [("Authorization", CREDENTIAL), ("X-Routing-Key", "eu-1")]
    );

    // No headers: an empty object.
    let plain = api.create_endpoint(&tenant).await;
    assert_eq!(plain["headers"], json!({}));
}

async fn patch_replaces_the_headers_clears_them_with_an_empty_object_or_leaves_them(
    store: Arc<dyn Store>,
) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let created = api
        .post(
            &endpoints_path(&tenant),
            create_body(json!({ "X-A": "1", "X-B": "2" })),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = endpoint_path(&tenant, &id);

    let replaced = api
        .patch(&path, json!({ "headers": { "X-New": CREDENTIAL } }))
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{replaced:?}");
    assert_eq!(replaced.body["headers"], json!({ "X-New": "********" }));
    assert!(!replaced.body.to_string().contains("tok-5f1c9a"));
    let kept = stored_headers(store.as_ref(), &tenant, &id).await;
    assert_eq!(
        (kept.len(), kept[0].value.as_str()),
        (1, CREDENTIAL),
        "the whole set is replaced"
    );

    // Absent or null: unchanged.
    for body in [
        json!({ "description": "renamed" }),
        json!({ "headers": null }),
    ] {
        let reply = api.patch(&path, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(reply.body["headers"], json!({ "X-New": "********" }));
    }
    assert_eq!(stored_headers(store.as_ref(), &tenant, &id).await, kept);

    let cleared = api.patch(&path, json!({ "headers": {} })).await;
    assert_eq!(cleared.status, StatusCode::OK, "{cleared:?}");
    assert_eq!(cleared.body["headers"], json!({}));
    assert!(
        stored_headers(store.as_ref(), &tenant, &id)
            .await
            .is_empty()
    );
}

async fn every_reserved_header_name_is_refused_naming_it(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let id = api.create_endpoint_id(&tenant).await;
    let path = endpoint_path(&tenant, &id);
    for name in [
        "host",
        "Content-Length",
        "content-type",
        "User-Agent",
        "webhook-id",
        "webhook-timestamp",
        "Webhook-Signature",
        "webhook-attempt",
        "Webhook-Foo",
        "X-Webhook-Signature",
        "connection",
        "Keep-Alive",
        "proxy-authenticate",
        "Proxy-Authorization",
        "te",
        "Trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        let field = format!("headers.{name}");
        let headers = json!({ "X-Fine": "ok", name: "v" });
        let created = api
            .post(&endpoints_path(&tenant), create_body(headers.clone()))
            .await;
        assert_refused(&created, &field, name);
        let patched = api.patch(&path, json!({ "headers": headers })).await;
        assert_refused(&patched, &field, name);
    }
    assert_eq!(
        api.endpoint_ids(&tenant).await,
        [id.as_str()],
        "none created"
    );
    assert!(
        stored_headers(store.as_ref(), &tenant, &id)
            .await
            .is_empty()
    );

    // The deployment's simple-signature name is refused, whatever it is.
    let settings = Settings {
        simple_signature_header_name: "x-bookora-signature".into(),
        ..Settings::default()
    };
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings::default()));
    let bookora = Api::with(store, queue, settings);
    let reply = bookora
        .post(
            &endpoints_path(&tenant),
            create_body(json!({ "X-Bookora-Signature": "v" })),
        )
        .await;
    assert_refused(&reply, "headers.X-Bookora-Signature", "X-Bookora-Signature");
    let freed = bookora
        .patch(&path, json!({ "headers": { "X-Webhook-Signature": "v" } }))
        .await;
    assert_eq!(
        freed.status,
        StatusCode::OK,
        "another name is free: {freed:?}"
    );
}

async fn too_many_headers_bad_values_and_repeated_names_are_refused(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let many = |n: usize| -> Value {
        (0..n)
            .map(|i| (format!("X-H{i}"), json!("v")))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let reply = api
        .post(&endpoints_path(&tenant), create_body(many(21)))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    assert_eq!(reply.body["field"], "headers");
    assert!(reply.detail().contains("20"), "{reply:?}");
    let twenty = api
        .post(&endpoints_path(&tenant), create_body(many(20)))
        .await;
    assert_eq!(twenty.status, StatusCode::CREATED, "{twenty:?}");
    let id = twenty.body["id"].as_str().unwrap().to_owned();
    let path = endpoint_path(&tenant, &id);

    for value in [
        "tok\r\nX-Injected: 1",
        "tok\nmore",
        "tok\rmore",
        "tok\tmore",
        "",
        " padded",
    ] {
        let headers = json!({ "Authorization": value });
        let created = api
            .post(&endpoints_path(&tenant), create_body(headers.clone()))
            .await;
        assert_refused(&created, "headers.Authorization", "Authorization");
        if !value.is_empty() {
            assert!(!created.detail().contains(value), "never echoes the value");
        }
        let patched = api.patch(&path, json!({ "headers": headers })).await;
        assert_refused(&patched, "headers.Authorization", "Authorization");
    }
    let long = "v".repeat(4097);
    let reply = api
        .patch(&path, json!({ "headers": { "X-Long": long } }))
        .await;
    assert_refused(&reply, "headers.X-Long", "X-Long");
    let reply = api
        .patch(&path, json!({ "headers": { "X-A": "1", "x-a": "2" } }))
        .await;
    assert_refused(&reply, "headers.x-a", "x-a");
    let reply = api
        .patch(&path, json!({ "headers": { "X Bad": "1" } }))
        .await;
    assert_refused(&reply, "headers.X Bad", "X Bad");
    let reply = api.patch(&path, json!({ "headers": { "X-A": 1 } })).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    assert_eq!(reply.body["field"], "headers.X-A");
    let reply = api.patch(&path, json!({ "headers": ["X-A"] })).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    // Every refusal left the 20 headers as they were.
    assert_eq!(stored_headers(store.as_ref(), &tenant, &id).await.len(), 20);
}
