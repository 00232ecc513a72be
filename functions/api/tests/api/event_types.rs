//! The event-type catalogue. It is global, and tests may share DynamoDB
//! tables, so every test uses names of its own.

use std::sync::Arc;

use axum::http::StatusCode;
use courier::ports::Store;
use serde_json::json;

use crate::common::{Api, endpoints_path, unique_tenant, unique_type};

courier_testkit::backend_tests!(store:
    create_answers_201_and_a_second_create_409,
    names_must_be_dot_separated_words,
    list_pages_in_name_order,
    delete_answers_204_then_404,
    endpoints_may_subscribe_to_a_type_once_it_is_in_the_catalogue,
);

async fn create_answers_201_and_a_second_create_409(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let name = unique_type("created");
    let reply = api
        .post(
            "/v1/event-types",
            json!({ "name": name, "description": "A booking was made." }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["name"], name.as_str());
    assert_eq!(reply.body["description"], "A booking was made.");
    assert!(reply.body["createdAt"].is_string());
    assert_eq!(
        reply.headers["location"].to_str().unwrap(),
        format!("/v1/event-types/{name}")
    );
    let again = api.post("/v1/event-types", json!({ "name": name })).await;
    again.assert_problem(409, None);
    assert!(again.detail().contains(&name));
}

async fn names_must_be_dot_separated_words(store: Arc<dyn Store>) {
    let api = Api::new(store);
    for bad in ["", "booking..created", ".booking", "booking.*", "a b", "ü"] {
        api.post("/v1/event-types", json!({ "name": bad }))
            .await
            .assert_problem(422, Some("name"));
    }
    api.post("/v1/event-types", json!({ "name": "x".repeat(129) }))
        .await
        .assert_problem(422, Some("name"));
    api.post(
        "/v1/event-types",
        json!({ "name": unique_type("a"), "description": "d".repeat(1025) }),
    )
    .await
    .assert_problem(422, Some("description"));
}

async fn list_pages_in_name_order(store: Arc<dyn Store>) {
    let api = Api::new(store);
    // Names that sort together, created out of order.
    let prefix = unique_type("list");
    let names: Vec<String> = ["c", "a", "d", "b"]
        .iter()
        .map(|s| format!("{prefix}.{s}"))
        .collect();
    for name in &names {
        api.add_event_type(name).await;
    }
    let mut seen = Vec::new();
    let mut path = "/v1/event-types?limit=3".to_owned();
    loop {
        let reply = api.get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let data = reply.body["data"].as_array().unwrap();
        assert!(data.len() <= 3);
        seen.extend(data.iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        match reply.body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/v1/event-types?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "name order across pages");
    let ours: Vec<String> = seen
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    let expected: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|s| format!("{prefix}.{s}"))
        .collect();
    assert_eq!(ours, expected);
}

async fn delete_answers_204_then_404(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let name = unique_type("gone");
    api.add_event_type(&name).await;
    let path = format!("/v1/event-types/{name}");
    assert_eq!(api.delete(&path).await.status, StatusCode::NO_CONTENT);
    api.delete(&path).await.assert_problem(404, None);
    // A name that cannot exist is simply not found.
    api.delete("/v1/event-types/not%20a%20name")
        .await
        .assert_problem(404, None);
}

async fn endpoints_may_subscribe_to_a_type_once_it_is_in_the_catalogue(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let tenant = unique_tenant();
    let name = unique_type("created");
    let body = json!({ "url": "https://example.com/", "eventTypes": [name] });
    api.post(&endpoints_path(&tenant), body.clone())
        .await
        .assert_problem(409, None);
    api.add_event_type(&name).await;
    let reply = api.post(&endpoints_path(&tenant), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["eventTypes"], json!([name]));
}
