//! Endpoint CRUD as DESIGN §4 describes it.

use std::sync::Arc;

use axum::http::StatusCode;
use courier::circuit::{HealthRules, Observed};
use courier::endpoint::{DisabledReason, MAX_SIGNING_SECRETS};
use courier::ports::Store;
use serde_json::json;
use time::OffsetDateTime;

use crate::common::{Api, endpoint_path, endpoints_path, unique_tenant, unique_type};

courier_testkit::backend_tests!(store:
    create_answers_201_with_the_secret_and_a_location,
    read_shows_the_settings_but_never_the_secret,
    list_pages_through_endpoints_oldest_first,
    list_refuses_bad_limits_and_cursors,
    patch_changes_only_the_given_fields,
    re_enabling_resets_the_failure_counter_and_reason,
    disabling_by_hand_records_the_reason,
    delete_answers_204_then_the_endpoint_is_gone,
    filters_accept_wildcards_and_catalogue_names_and_drop_duplicates,
    concurrent_rotations_lose_no_update,
);

async fn create_answers_201_with_the_secret_and_a_location(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let tenant = unique_tenant();
    let reply = api
        .post(
            &endpoints_path(&tenant),
            json!({
                "url": "https://example.com/webhooks",
                "eventTypes": ["booking.*"],
                "description": "bookings",
                "payloadFormat": "cloudevents"
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let body = &reply.body;
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with("ep_"));
    assert_eq!(
        reply.headers["location"].to_str().unwrap(),
        endpoint_path(&tenant, id)
    );
    assert!(body["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(body["tenantId"], tenant.as_str());
    assert_eq!(body["url"], "https://example.com/webhooks");
    assert_eq!(body["eventTypes"], json!(["booking.*"]));
    assert_eq!(body["description"], "bookings");
    assert_eq!(body["enabled"], true);
    assert_eq!(body["disabledReason"], json!(null));
    assert_eq!(body["consecutiveFailures"], 0);
    assert_eq!(body["lastAttemptAt"], json!(null));
    assert_eq!(body["payloadFormat"], "cloudevents");
    assert_eq!(body["createdAt"], body["updatedAt"]);
}

async fn read_shows_the_settings_but_never_the_secret(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let tenant = unique_tenant();
    let created = api.create_endpoint(&tenant).await;
    let id = created["id"].as_str().unwrap();
    let read = api.get(&endpoint_path(&tenant, id)).await;
    assert_eq!(read.status, StatusCode::OK);
    let mut expected = created.clone();
    expected.as_object_mut().unwrap().remove("secret");
    assert_eq!(read.body, expected);
    let secret = created["secret"].as_str().unwrap();
    assert!(!read.body.to_string().contains(secret));
    let listed = api.get(&endpoints_path(&tenant)).await;
    assert!(!listed.body.to_string().contains(secret));
    assert!(!listed.body.to_string().contains("whsec_"));
}

async fn list_pages_through_endpoints_oldest_first(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let tenant = unique_tenant();
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(api.create_endpoint(&tenant).await["id"].clone());
        // Ids order by their millisecond; within one the order is random.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut seen = Vec::new();
    let mut path = format!("{}?limit=2", endpoints_path(&tenant));
    let mut pages = 0;
    loop {
        let reply = api.get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let data = reply.body["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(data.iter().map(|ep| ep["id"].clone()));
        pages += 1;
        match reply.body["nextCursor"].as_str() {
            Some(cursor) => path = format!("{}?limit=2&cursor={cursor}", endpoints_path(&tenant)),
            None => {
                assert!(reply.body.as_object().unwrap().contains_key("nextCursor"));
                break;
            }
        }
    }
    assert_eq!(seen, created);
    assert_eq!(pages, 3);
    let default_page = api.get(&endpoints_path(&tenant)).await;
    assert_eq!(default_page.body["data"].as_array().unwrap().len(), 5);
    assert_eq!(default_page.body["nextCursor"], json!(null));
}

async fn list_refuses_bad_limits_and_cursors(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let base = endpoints_path(&unique_tenant());
    for limit in ["0", "101", "-1", "ten"] {
        api.get(&format!("{base}?limit={limit}"))
            .await
            .assert_problem(422, Some("limit"));
    }
    api.get(&format!("{base}?limt=5"))
        .await
        .assert_problem(422, Some("limt"));
    let reply = api.get(&format!("{base}?cursor=not-a-cursor")).await;
    reply.assert_problem(400, None);
    assert!(reply.detail().contains("cursor"), "{reply:?}");
}

async fn patch_changes_only_the_given_fields(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let tenant = unique_tenant();
    let created = api.create_endpoint(&tenant).await;
    let path = endpoint_path(&tenant, created["id"].as_str().unwrap());
    let reply = api
        .patch(
            &path,
            json!({ "url": "https://example.org/new", "description": "moved" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let read = api.get(&path).await.body;
    assert_eq!(read, reply.body);
    assert_eq!(read["url"], "https://example.org/new");
    assert_eq!(read["description"], "moved");
    assert_eq!(read["eventTypes"], created["eventTypes"]);
    assert_eq!(read["payloadFormat"], created["payloadFormat"]);
    assert_eq!(read["enabled"], true);
    assert_eq!(read["createdAt"], created["createdAt"]);
    assert_ne!(read["updatedAt"], created["updatedAt"]);

    // An empty patch changes nothing, not even updatedAt.
    let unchanged = api.patch(&path, json!({})).await;
    assert_eq!(unchanged.status, StatusCode::OK);
    assert_eq!(unchanged.body, read);

    // A refused patch writes nothing, even the fields that were valid.
    api.patch(
        &path,
        json!({ "description": "x", "url": "http://example.org" }),
    )
    .await
    .assert_problem(422, Some("url"));
    assert_eq!(api.get(&path).await.body, read);
}

async fn re_enabling_resets_the_failure_counter_and_reason(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let created = api.create_endpoint(&tenant).await;
    let id = created["id"].as_str().unwrap();
    let path = endpoint_path(&tenant, id);
    // Three failures one after another: the circuit (3 of 4) opens and
    // the endpoint is disabled.
    let at = OffsetDateTime::now_utc() + time::Duration::minutes(1);
    let failures: Vec<Observed> = (0..3)
        .map(|i| Observed {
            started_at: at + time::Duration::seconds(10 * i),
            logged_at: at + time::Duration::seconds(10 * i + 1),
            failed: true,
            gone: false,
            probe: false,
        })
        .collect();
    let rules = HealthRules::new(4, 3, 3, &"1,2".parse().unwrap());
    let recorded = store
        .record_outcome(
            &tenant.parse().unwrap(),
            id.parse().unwrap(),
            &failures,
            &rules,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.disabled, Some(DisabledReason::ConsecutiveFailures));
    let disabled = api.get(&path).await.body;
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["disabledReason"], "consecutive_failures");
    assert_eq!(disabled["consecutiveFailures"], 3);
    assert!(disabled["lastAttemptAt"].is_string());
    assert_eq!(disabled["circuit"], "open");
    assert!(disabled["failingSince"].is_string(), "{disabled}");
    assert!(disabled["nextAttemptAt"].is_string());

    let reply = api.patch(&path, json!({ "enabled": true })).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let read = api.get(&path).await.body;
    assert_eq!(read["enabled"], true);
    assert_eq!(read["disabledReason"], json!(null));
    assert_eq!(read["consecutiveFailures"], 0);
    assert_eq!(read["lastAttemptAt"], disabled["lastAttemptAt"]);
    assert_eq!(read["circuit"], "closed");
    assert_eq!(read["failingSince"], json!(null));
    assert_eq!(read["nextAttemptAt"], json!(null));
}

async fn disabling_by_hand_records_the_reason(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let tenant = unique_tenant();
    let created = api.create_endpoint(&tenant).await;
    let path = endpoint_path(&tenant, created["id"].as_str().unwrap());
    let reply = api.patch(&path, json!({ "enabled": false })).await;
    assert_eq!(reply.body["enabled"], false);
    assert_eq!(reply.body["disabledReason"], "manual");
    assert_eq!(api.get(&path).await.body, reply.body);
}

async fn delete_answers_204_then_the_endpoint_is_gone(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let tenant = unique_tenant();
    let created = api.create_endpoint(&tenant).await;
    let path = endpoint_path(&tenant, created["id"].as_str().unwrap());
    let reply = api.delete(&path).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.body, json!(null));
    api.get(&path).await.assert_problem(404, None);
    api.delete(&path).await.assert_problem(404, None);
    api.get(&format!("{path}/secret"))
        .await
        .assert_problem(404, None);
    assert!(api.endpoint_ids(&tenant).await.is_empty());
}

async fn filters_accept_wildcards_and_catalogue_names_and_drop_duplicates(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let tenant = unique_tenant();
    let known = unique_type("created");
    let unknown = unique_type("cancelled");
    api.add_event_type(&known).await;
    let create = |types: serde_json::Value| {
        let api = api.clone();
        let path = endpoints_path(&tenant);
        async move {
            api.post(
                &path,
                json!({ "url": "https://example.com/", "eventTypes": types }),
            )
            .await
        }
    };
    let reply = create(json!(["*", "booking.*", known, known])).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["eventTypes"], json!(["*", "booking.*", known]));

    // Well formed, refused by the catalogue's state: 409.
    let reply = create(json!([unknown])).await;
    reply.assert_problem(409, None);
    assert!(reply.detail().contains(&unknown), "{reply:?}");
    for bad in [
        json!([]),
        json!(["*.created"]),
        json!(["booking."]),
        json!(["a b"]),
    ] {
        create(bad).await.assert_problem(422, Some("eventTypes"));
    }
    let too_many: Vec<String> = (0..33).map(|i| format!("group{i}.*")).collect();
    create(json!(too_many))
        .await
        .assert_problem(422, Some("eventTypes"));
    let max: Vec<String> = (0..32).map(|i| format!("group{i}.*")).collect();
    assert_eq!(create(json!(max)).await.status, StatusCode::CREATED);
    assert_eq!(api.endpoint_ids(&tenant).await.len(), 2);
}

/// Rotations read, change and write the endpoint; concurrent ones must
/// retry on the revision conflict rather than overwrite each other. With as
/// many writers as write attempts, each one is bound to succeed. Four
/// rotations exceed the bound of secrets kept, so the revision shows that
/// every one was applied, and the kept secrets that they were applied in turn.
async fn concurrent_rotations_lose_no_update(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let created = api.create_endpoint(&tenant).await;
    let id = created["id"].as_str().unwrap();
    let rotate = format!("{}/secret/rotate", endpoint_path(&tenant, id));
    let endpoint = || async {
        store
            .endpoint(&tenant.parse().unwrap(), id.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
    };
    let revision = endpoint().await.revision;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let api = api.clone();
            let rotate = rotate.clone();
            tokio::spawn(async move { api.post(&rotate, json!({})).await })
        })
        .collect();
    let mut new_secrets = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        new_secrets.push(reply.body["secret"].as_str().unwrap().to_owned());
    }
    let stored = endpoint().await;
    let signing: Vec<&str> = stored
        .signing_secrets(OffsetDateTime::now_utc())
        .into_iter()
        .map(|s| s.expose())
        .collect();
    assert_eq!(stored.revision, revision + 4, "one write per rotation");
    assert_eq!(
        signing.len(),
        MAX_SIGNING_SECRETS,
        "the newest rotated-in secrets"
    );
    assert!(!signing.contains(&created["secret"].as_str().unwrap()));
    for secret in &signing {
        assert!(new_secrets.iter().any(|s| s == secret), "{secret} kept");
    }
}
