//! The scope matrix: every route of the API called with each kind of
//! credential — the admin token, a tenant API key, a portal token, a
//! read-only portal token, an expired portal token and a revoked API key —
//! on the credential's own tenant and on another tenant, each answering
//! exactly the status the scope table of `courier::access::scope` says.

use std::sync::Arc;

use axum::http::Method;
use courier::ports::Store;
use courier_testkit::portal_token;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::common::{Api, endpoint_path, seed_delivery, unique_tenant, unique_type};

courier_testkit::backend_tests!(store: every_credential_gets_its_status_on_every_route);

/// The kinds of credential, in the columns' order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Admin,
    Key,
    Portal,
    ReadOnly,
    Expired,
    Revoked,
}

const KINDS: [Kind; 6] = [
    Kind::Admin,
    Kind::Key,
    Kind::Portal,
    Kind::ReadOnly,
    Kind::Expired,
    Kind::Revoked,
];

/// Who may call a route, by the scope table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Admin only (catalogue writes, keys, sessions).
    Admin,
    /// The admin and tenant credentials, read-only sessions too.
    Readers,
    /// The admin and tenant credentials that may write.
    Writers,
}

/// One route as called: method, path, body, the status of a success and
/// who may call it (on the credential's own tenant).
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    success: u16,
    who: Who,
}

fn call(method: Method, path: String, body: Option<Value>, success: u16, who: Who) -> Call {
    Call {
        method,
        path,
        body,
        success,
        who,
    }
}

/// Every route of the API under `tenant`'s paths, on resources made fresh
/// for this one call (so a DELETE that succeeds leaves the next call its
/// own target). New routes belong here.
async fn tenant_routes(api: &Api, tenant: &str) -> Vec<Call> {
    let ep = api.create_endpoint_id(tenant).await;
    let doomed = api.create_endpoint_id(tenant).await;
    let delivery = seed_delivery(api.store.as_ref(), tenant, &ep).await;
    let key = api
        .post(
            &format!("/v1/tenants/{tenant}/api-keys"),
            json!({"name": "doomed"}),
        )
        .await;
    let key_id = key.body["id"].as_str().expect("key id").to_owned();
    let e = endpoint_path(tenant, &ep);
    let t = format!("/v1/tenants/{tenant}");
    use Method as M;
    use Who::*;
    vec![
        call(
            M::POST,
            format!("{t}/endpoints"),
            Some(json!({"url": "https://example.com/hook", "eventTypes": ["*"]})),
            201,
            Writers,
        ),
        call(M::GET, format!("{t}/endpoints"), None, 200, Readers),
        call(M::GET, e.clone(), None, 200, Readers),
        call(
            M::PATCH,
            e.clone(),
            Some(json!({"description": "changed"})),
            200,
            Writers,
        ),
        call(
            M::DELETE,
            endpoint_path(tenant, &doomed),
            None,
            204,
            Writers,
        ),
        call(M::GET, format!("{e}/secret"), None, 200, Readers),
        call(M::POST, format!("{e}/secret/rotate"), None, 200, Writers),
        call(M::POST, format!("{e}/test"), None, 202, Writers),
        call(M::GET, format!("{e}/deliveries"), None, 200, Readers),
        call(
            M::GET,
            format!("{e}/deliveries/{delivery}"),
            None,
            200,
            Readers,
        ),
        call(
            M::POST,
            format!("{e}/deliveries/{delivery}/resend"),
            None,
            202,
            Writers,
        ),
        call(
            M::POST,
            format!("{e}/recover"),
            Some(
                json!({"since": (OffsetDateTime::now_utc() - Duration::hours(1))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()}),
            ),
            202,
            Writers,
        ),
        call(M::GET, format!("{e}/stats"), None, 200, Readers),
        call(
            M::POST,
            format!("{t}/api-keys"),
            Some(json!({"name": "ci"})),
            201,
            Admin,
        ),
        call(M::GET, format!("{t}/api-keys"), None, 200, Admin),
        call(
            M::DELETE,
            format!("{t}/api-keys/{key_id}"),
            None,
            204,
            Admin,
        ),
        call(M::POST, format!("{t}/portal-sessions"), None, 201, Admin),
    ]
}

/// The routes outside any tenant.
async fn shared_routes(api: &Api) -> Vec<Call> {
    let doomed = unique_type("doomed");
    api.add_event_type(&doomed).await;
    vec![
        call(
            Method::GET,
            "/v1/credential".into(),
            None,
            200,
            Who::Readers,
        ),
        call(
            Method::GET,
            "/v1/event-types".into(),
            None,
            200,
            Who::Readers,
        ),
        call(
            Method::POST,
            "/v1/event-types".into(),
            Some(json!({"name": unique_type("new")})),
            201,
            Who::Admin,
        ),
        call(
            Method::DELETE,
            format!("/v1/event-types/{doomed}"),
            None,
            204,
            Who::Admin,
        ),
    ]
}

/// The status `kind` must get for `call`, on its own tenant or not.
fn expected(kind: Kind, call: &Call, own_tenant: bool) -> u16 {
    let allowed = match kind {
        Kind::Admin => true,
        Kind::Expired | Kind::Revoked => return 401,
        Kind::Key | Kind::Portal => own_tenant && call.who != Who::Admin,
        Kind::ReadOnly => own_tenant && call.who == Who::Readers,
    };
    if allowed { call.success } else { 403 }
}

/// One credential of each kind for `tenant`.
async fn credentials(api: &Api, tenant: &str) -> Vec<(Kind, String)> {
    let key = api
        .post(
            &format!("/v1/tenants/{tenant}/api-keys"),
            json!({"name": "matrix"}),
        )
        .await;
    let portal = api
        .post(&format!("/v1/tenants/{tenant}/portal-sessions"), json!({}))
        .await;
    let read_only = api
        .post(
            &format!("/v1/tenants/{tenant}/portal-sessions"),
            json!({"readOnly": true, "expiresInSeconds": 600}),
        )
        .await;
    let revoked = api
        .post(
            &format!("/v1/tenants/{tenant}/api-keys"),
            json!({"name": "revoked"}),
        )
        .await;
    let revoked_id = revoked.body["id"].as_str().expect("id");
    let gone = api
        .delete(&format!("/v1/tenants/{tenant}/api-keys/{revoked_id}"))
        .await;
    assert_eq!(gone.status, 204, "{gone:?}");
    let ended = OffsetDateTime::now_utc() - Duration::seconds(1);
    let expired = portal_token(api.store.as_ref(), &tenant.parse().unwrap(), false, ended).await;
    let text = |reply: &crate::common::Reply, field: &str| {
        reply.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {reply:?}"))
            .to_owned()
    };
    vec![
        (Kind::Admin, crate::common::ADMIN_TOKEN.to_owned()),
        (Kind::Key, text(&key, "key")),
        (Kind::Portal, text(&portal, "token")),
        (Kind::ReadOnly, text(&read_only, "token")),
        (Kind::Expired, expired),
        (Kind::Revoked, text(&revoked, "key")),
    ]
}

async fn every_credential_gets_its_status_on_every_route(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let (own, other) = (unique_tenant(), unique_tenant());
    let creds = credentials(&api, &own).await;
    assert_eq!(creds.iter().map(|(k, _)| *k).collect::<Vec<_>>(), KINDS);
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (kind, token) in &creds {
        let mut calls: Vec<(Call, bool)> = Vec::new();
        calls.extend(
            tenant_routes(&api, &own)
                .await
                .into_iter()
                .map(|c| (c, true)),
        );
        calls.extend(
            tenant_routes(&api, &other)
                .await
                .into_iter()
                .map(|c| (c, false)),
        );
        // Outside any tenant, "own" is whatever the credential is.
        calls.extend(shared_routes(&api).await.into_iter().map(|c| (c, true)));
        for (c, own_tenant) in calls {
            let want = expected(*kind, &c, own_tenant);
            let reply = api
                .call_as(token, c.method.clone(), &c.path, c.body.clone())
                .await;
            checked += 1;
            if reply.status.as_u16() != want {
                wrong.push(format!(
                    "{kind:?} {} {}: want {want}, got {} {}",
                    c.method, c.path, reply.status, reply.body
                ));
            } else if want >= 400 {
                reply.assert_problem(want, None);
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} calls:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(checked, KINDS.len() * 38, "six credentials × 38 calls");
}
