//! The router served over real HTTP on a loopback port, driven by an HTTP
//! client, as the local server and API Gateway's callers use it.

use std::sync::Arc;

use courier::ports::Store;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::common::{ADMIN_TOKEN, state, unique_tenant, unique_type};

courier_testkit::backend_tests!(store: endpoint_lifecycle_over_http);

/// Sends with the admin token; the status, headers and JSON body (`Null`
/// when empty).
async fn send(request: RequestBuilder) -> (StatusCode, HeaderMap, Value) {
    let response = request.bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, body)
}

async fn endpoint_lifecycle_over_http(store: Arc<dyn Store>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, courier_api::router(state(store)))
            .await
            .unwrap();
    });
    let client = reqwest::Client::new();
    let endpoints = format!("{base}/v1/tenants/{}/endpoints", unique_tenant());

    let reply = client.get(&endpoints).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reply.headers()["www-authenticate"], "Bearer");
    assert_eq!(reply.headers()["content-type"], "application/problem+json");

    let event_type = unique_type("created");
    let (status, _, _) = send(
        client
            .post(format!("{base}/v1/event-types"))
            .json(&json!({ "name": event_type })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let body = json!({ "url": "https://example.com/hook", "eventTypes": [event_type] });
    let (status, headers, created) = send(client.post(&endpoints).json(&body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let endpoint = format!("{base}{}", headers["location"].to_str().unwrap());

    let (_, headers, read) = send(client.get(&endpoint)).await;
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(read["id"], created["id"]);
    assert!(read.get("secret").is_none());

    let (status, _, patched) =
        send(client.patch(&endpoint).json(&json!({ "enabled": false }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["disabledReason"], "manual");

    let (status, _, rotated) = send(client.post(format!("{endpoint}/secret/rotate"))).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, revealed) = send(client.get(format!("{endpoint}/secret"))).await;
    assert_eq!(rotated, revealed);
    assert_ne!(revealed["secret"], created["secret"]);

    let malformed = client
        .post(&endpoints)
        .header("content-type", "application/json")
        .body("{\"url\":");
    let (status, headers, problem) = send(malformed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(problem["status"], 400);

    let (_, _, listed) = send(client.get(&endpoints)).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    let (status, _, _) = send(client.delete(&endpoint)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = send(client.get(&endpoint)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.abort();
}
