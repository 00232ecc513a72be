//! Tenant API keys and portal sessions: what is shown once, what is stored
//! and listed, revocation and expiry, the bounds of a session, and what a
//! credential says about itself.

use std::sync::Arc;

use axum::http::Method;
use courier::credentials::CredentialHash;
use courier::ports::Store;
use courier_testkit::portal_token;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::common::{Api, endpoints_path, unique_tenant};

courier_testkit::backend_tests!(
    store: an_api_key_is_shown_once_listed_without_it_and_revoked_at_once,
    a_portal_session_is_bounded_scoped_and_expires,
    a_credential_describes_itself,
);

fn keys_path(tenant: &str) -> String {
    format!("/v1/tenants/{tenant}/api-keys")
}

fn time_of(v: &serde_json::Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().expect("a time"), &Rfc3339).expect("RFC 3339")
}

async fn an_api_key_is_shown_once_listed_without_it_and_revoked_at_once(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let (tenant, other) = (unique_tenant(), unique_tenant());
    let before = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let created = api
        .post(&keys_path(&tenant), json!({"name": "  ERP sync "}))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let key = created.body["key"].as_str().expect("key").to_owned();
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert!(key.starts_with("ck_") && key.len() == 3 + 43, "{key}");
    assert!(id.starts_with("key_"), "{id}");
    assert_eq!(created.body["name"], "ERP sync");
    assert!(created.body["lastUsedAt"].is_null());
    assert!(time_of(&created.body["createdAt"]) >= before);
    assert_eq!(
        created.headers["location"],
        format!("/v1/tenants/{tenant}/api-keys/{id}").as_str()
    );

    // Stored only as its hash: the store finds it by the hash, and the
    // listing never carries the key.
    let stored = store
        .api_key_by_hash(&CredentialHash::of(&key))
        .await
        .unwrap()
        .expect("found by its hash");
    assert_eq!(stored.id.to_string(), id);
    let listed = api.get(&keys_path(&tenant)).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert!(!listed.body.to_string().contains(&key));
    assert!(listed.body["data"][0].get("key").is_none());
    assert!(
        api.get(&keys_path(&other)).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A use is recorded; the key works on its tenant's routes.
    let used = api
        .call_as(&key, Method::GET, &endpoints_path(&tenant), None)
        .await;
    assert_eq!(used.status, 200, "{used:?}");
    let listed = api.get(&keys_path(&tenant)).await;
    assert!(
        time_of(&listed.body["data"][0]["lastUsedAt"]) >= before,
        "{listed:?}"
    );

    // Another tenant cannot revoke it; a malformed id is a 404 too.
    let path = format!("{}/{id}", keys_path(&tenant));
    api.delete(&format!("{}/{id}", keys_path(&other)))
        .await
        .assert_problem(404, None);
    api.delete(&format!("{}/key_nope", keys_path(&tenant)))
        .await
        .assert_problem(404, None);
    assert_eq!(api.delete(&path).await.status, 204);
    let refused = api
        .call_as(&key, Method::GET, &endpoints_path(&tenant), None)
        .await;
    refused.assert_problem(401, None);
    assert!(refused.detail().contains("revoked"), "{refused:?}");
    assert!(
        api.get(&keys_path(&tenant)).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    api.delete(&path).await.assert_problem(404, None);

    for bad in [
        json!({"name": ""}),
        json!({"name": "x".repeat(101)}),
        json!({}),
    ] {
        let reply = api.post(&keys_path(&tenant), bad.clone()).await;
        reply.assert_problem(422, Some("name"));
    }
    api.post(&keys_path(&tenant), json!({"name": "a", "scope": "all"}))
        .await
        .assert_problem(422, Some("scope"));
}

async fn a_portal_session_is_bounded_scoped_and_expires(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let sessions = format!("/v1/tenants/{tenant}/portal-sessions");
    let start = OffsetDateTime::now_utc();
    let created = api.call(Method::POST, &sessions, None).await;
    assert_eq!(created.status, 201, "{created:?}");
    let token = created.body["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("cpt_"), "{token}");
    assert_eq!(created.body["readOnly"], false);
    // The token rides in the fragment, never in the path or query.
    assert_eq!(
        created.body["url"].as_str().unwrap(),
        format!("http://localhost/portal#token={token}")
    );
    let lifetime = time_of(&created.body["expiresAt"]) - start;
    assert!(
        (3599..=3601).contains(&lifetime.whole_seconds()),
        "{lifetime}"
    );

    let week = api
        .post(
            &sessions,
            json!({"expiresInSeconds": 604800, "readOnly": true}),
        )
        .await;
    assert_eq!(week.status, 201, "{week:?}");
    assert_eq!(week.body["readOnly"], true);
    let lifetime = time_of(&week.body["expiresAt"]) - start;
    assert!((604799..=604801).contains(&lifetime.whole_seconds()));
    for seconds in [json!(0), json!(59), json!(604801), json!(60.5)] {
        api.post(&sessions, json!({"expiresInSeconds": seconds}))
            .await
            .assert_problem(422, Some("expiresInSeconds"));
    }
    // JSON Schema's integer is any number without a fraction, so is ours.
    let integral = api
        .post(&sessions, json!({"expiresInSeconds": 5760.0}))
        .await;
    assert_eq!(integral.status, 201, "{integral:?}");

    // The session lives in storage under the token's hash alone.
    let stored = store
        .portal_session(&CredentialHash::of(&token))
        .await
        .unwrap()
        .expect("stored under the hash");
    assert_eq!(stored.tenant_id.as_str(), tenant);

    let ended = OffsetDateTime::now_utc() - Duration::seconds(1);
    let expired = portal_token(store.as_ref(), &tenant.parse().unwrap(), false, ended).await;
    let reply = api
        .call_as(&expired, Method::GET, &endpoints_path(&tenant), None)
        .await;
    reply.assert_problem(401, None);
    assert!(reply.detail().contains("expired"), "{reply:?}");
    let unknown = api
        .call_as("cpt_unknown", Method::GET, &endpoints_path(&tenant), None)
        .await;
    unknown.assert_problem(401, None);
    assert_eq!(unknown.headers["www-authenticate"], "Bearer");
}

async fn a_credential_describes_itself(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let tenant = unique_tenant();
    let admin = api.get("/v1/credential").await;
    assert_eq!(admin.status, 200);
    assert_eq!(
        admin.body,
        json!({"kind": "admin", "tenantId": null, "readOnly": false, "expiresAt": null, "apiKeyId": null})
    );
    let key = api.post(&keys_path(&tenant), json!({"name": "zap"})).await;
    let as_key = api
        .call_as(
            key.body["key"].as_str().unwrap(),
            Method::GET,
            "/v1/credential",
            None,
        )
        .await;
    assert_eq!(as_key.body["kind"], "apiKey");
    assert_eq!(as_key.body["tenantId"], tenant.as_str());
    assert_eq!(as_key.body["apiKeyId"], key.body["id"]);
    let session = api
        .post(
            &format!("/v1/tenants/{tenant}/portal-sessions"),
            json!({"readOnly": true}),
        )
        .await;
    let as_portal = api
        .call_as(
            session.body["token"].as_str().unwrap(),
            Method::GET,
            "/v1/credential",
            None,
        )
        .await;
    assert_eq!(as_portal.body["kind"], "portalSession");
    assert_eq!(as_portal.body["tenantId"], tenant.as_str());
    assert_eq!(as_portal.body["readOnly"], true);
    assert_eq!(as_portal.body["expiresAt"], session.body["expiresAt"]);
}
