//! The router served over real HTTP on a loopback port, driven by an HTTP
//! client, as the local server and API Gateway's callers use it.

use std::sync::Arc;

use courier::ports::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{ADMIN_TOKEN, state, unique_tenant, unique_type};

api_tests!(endpoint_lifecycle_over_http);

async fn endpoint_lifecycle_over_http(store: Arc<dyn Store>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, courier_api::router(state(store)))
            .await
            .unwrap();
    });
    let client = reqwest::Client::new();
    let tenant = unique_tenant();
    let endpoints = format!("{base}/v1/tenants/{tenant}/endpoints");

    let reply = client.get(&endpoints).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reply.headers()["www-authenticate"], "Bearer");
    assert_eq!(reply.headers()["content-type"], "application/problem+json");

    let event_type = unique_type("created");
    let reply = client
        .post(format!("{base}/v1/event-types"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "name": event_type }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);

    let reply = client
        .post(&endpoints)
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "url": "https://example.com/hook", "eventTypes": [event_type] }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let location = reply.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = reply.json().await.unwrap();
    let endpoint = format!("{base}{location}");

    let read: Value = client
        .get(&endpoint)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["id"], created["id"]);
    assert!(read.get("secret").is_none());

    let reply = client
        .patch(&endpoint)
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "enabled": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(
        reply.json::<Value>().await.unwrap()["disabledReason"],
        "manual"
    );

    let rotated: Value = client
        .post(format!("{endpoint}/secret/rotate"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let revealed: Value = client
        .get(format!("{endpoint}/secret"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rotated, revealed);
    assert_ne!(revealed["secret"], created["secret"]);

    let reply = client
        .post(&endpoints)
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{\"url\":")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    assert_eq!(reply.headers()["content-type"], "application/problem+json");

    let listed: Value = client
        .get(&endpoints)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    let reply = client
        .delete(&endpoint)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::NO_CONTENT);
    let reply = client
        .get(&endpoint)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
    server.abort();
}
