//! The publish route in the scope matrix, on both backends: the admin
//! token, a tenant API key, a portal token, a read-only portal token, an
//! expired portal token, a revoked API key, a never-issued key and no
//! credential at all, each publishing to its own tenant and to another, get
//! exactly the status `courier::access::scope` says, as problems when
//! refused; what is accepted is stored and enqueued for the tenant's
//! endpoint, and nothing else is.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use courier::config::Settings;
use courier::credentials::{ApiKey, BearerSecret};
use courier::ids::TenantId;
use courier::ports::{DeliveryQueue, Store};
use courier_http::access::Credentials;
use courier_http::auth::AdminAuth;
use courier_intake::{Intake, router};
use courier_testkit::{
    TestBackend, api_key, drain_messages, endpoint, ensure_event_type, portal_token, unique_tenant,
};
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

const ADMIN: &str = "publish-scopes-admin-token";

courier_testkit::backend_tests!(every_credential_gets_its_status_on_publish);

/// The kinds of credential, in the matrix's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Admin,
    Key,
    Portal,
    ReadOnly,
    Expired,
    Revoked,
    NeverIssued,
    Missing,
}

/// The status `kind` must get publishing to its own tenant or another.
fn expected(kind: Kind, own_tenant: bool) -> u16 {
    match kind {
        Kind::Admin => 202,
        Kind::Key | Kind::Portal if own_tenant => 202,
        Kind::Key | Kind::Portal | Kind::ReadOnly => 403,
        Kind::Expired | Kind::Revoked | Kind::NeverIssued | Kind::Missing => 401,
    }
}

/// One credential of each kind for `tenant`; the key is returned too.
async fn credentials(
    store: &dyn Store,
    tenant: &TenantId,
) -> (ApiKey, Vec<(Kind, Option<String>)>) {
    let now = OffsetDateTime::now_utc();
    let (key, key_secret) = api_key(store, tenant, "matrix").await;
    let (revoked, revoked_secret) = api_key(store, tenant, "revoked").await;
    assert!(store.revoke_api_key(tenant, revoked.id).await.unwrap());
    let creds = vec![
        (Kind::Admin, Some(ADMIN.to_owned())),
        (Kind::Key, Some(key_secret)),
        (
            Kind::Portal,
            Some(portal_token(store, tenant, false, now + Duration::hours(1)).await),
        ),
        (
            Kind::ReadOnly,
            Some(portal_token(store, tenant, true, now + Duration::hours(1)).await),
        ),
        (
            Kind::Expired,
            Some(portal_token(store, tenant, false, now - Duration::seconds(1)).await),
        ),
        (Kind::Revoked, Some(revoked_secret)),
        (
            Kind::NeverIssued,
            Some(BearerSecret::api_key().expose().to_owned()),
        ),
        (Kind::Missing, None),
    ];
    (key, creds)
}

async fn every_credential_gets_its_status_on_publish(b: &dyn TestBackend) {
    let store = b.store().await;
    let queue = b.queue().await;
    ensure_event_type(&*store, "order.created").await;
    let (own, other) = (unique_tenant(), unique_tenant());
    let (own_ep, other_ep) = (endpoint(&own, &["*"]), endpoint(&other, &["*"]));
    store.create_endpoint(&own_ep).await.unwrap();
    store.create_endpoint(&other_ep).await.unwrap();
    let as_queue: Arc<dyn DeliveryQueue> = queue.clone();
    let intake = Arc::new(Intake::new(store.clone(), as_queue, Settings::default()));
    let app = router(
        intake,
        Credentials::new(AdminAuth::from_token(ADMIN), store.clone()),
        Settings::default().max_payload_bytes,
    );

    let (key, creds) = credentials(store.as_ref(), &own).await;
    let mut wrong = Vec::new();
    let mut accepted = BTreeSet::new();
    for (kind, token) in &creds {
        for (tenant, own_tenant) in [(&own, true), (&other, false)] {
            let id = format!("{kind:?}-{}", if own_tenant { "own" } else { "other" });
            let mut request = Request::post(format!("/v1/tenants/{tenant}/events"))
                .header("content-type", "application/json");
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let body = format!(r#"{{"id":"{id}","type":"order.created","data":{{"n":1}}}}"#);
            let response = app
                .clone()
                .oneshot(request.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let want = expected(*kind, own_tenant);
            if status != want {
                wrong.push(format!("{id}: want {want}, got {status} {json}"));
                continue;
            }
            if want == 202 {
                assert_eq!(json["endpoints"], 1, "{id}: {json}");
                accepted.insert((tenant.to_string(), id.clone()));
            } else {
                assert_eq!(headers["content-type"], "application/problem+json", "{id}");
                assert_eq!(json["status"], want, "{id}: {json}");
                assert!(
                    json["detail"].as_str().is_some_and(|d| !d.is_empty()),
                    "{id}"
                );
                if want == 401 {
                    assert_eq!(headers["www-authenticate"], "Bearer", "{id}");
                }
            }
            let stored = store.event(tenant, &id.parse().unwrap()).await.unwrap();
            assert_eq!(stored.is_some(), want == 202, "{id}: stored iff accepted");
        }
    }
    assert!(
        wrong.is_empty(),
        "{} calls:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Each accepted event is queued once, for its own tenant's endpoint.
    let queued: BTreeSet<(String, String)> = drain_messages(&*queue)
        .await
        .into_iter()
        .map(|m| {
            let ep = if m.event.tenant_id == own {
                &own_ep
            } else {
                &other_ep
            };
            assert_eq!(m.endpoint_id, ep.id, "{}", m.event.id);
            (m.event.tenant_id.to_string(), m.event.id.to_string())
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        (&own, "Admin-own"),
        (&other, "Admin-other"),
        (&own, "Key-own"),
        (&own, "Portal-own"),
    ]
    .into_iter()
    .map(|(t, id)| (t.to_string(), id.to_owned()))
    .collect();
    assert_eq!(accepted, want, "accepted");
    assert_eq!(queued, want, "queued");

    // A publish with a key is a use of it, as on the API.
    let keys = store.api_keys(&own, 10, None).await.unwrap();
    let listed = keys.items.iter().find(|k| k.id == key.id).expect("the key");
    assert!(listed.last_used_at.is_some(), "{listed:?}");
}
