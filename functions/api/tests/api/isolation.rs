//! Tenant isolation: every endpoint route, called with one tenant's endpoint
//! id under another tenant's path, answers exactly as for an id that does
//! not exist (404), and changes nothing.

use std::sync::Arc;

use axum::http::Method;
use courier::ports::Store;
use serde_json::{Value, json};

use crate::common::{Api, endpoint_path, seed_delivery, unique_tenant};

courier_testkit::backend_tests!(store: another_tenants_endpoint_is_not_found_on_every_route);

/// Every route that names an endpoint: method, path after the endpoint id
/// (naming `delivery`, an attempt logged for the endpoint), and body. New
/// per-endpoint routes belong here.
fn routes(delivery: &str) -> Vec<(Method, String, Option<Value>)> {
    let an_hour_ago = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let routes: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "", None),
        (
            Method::PATCH,
            "",
            Some(json!({ "description": "taken over", "enabled": false })),
        ),
        (
            Method::PATCH,
            "",
            Some(json!({ "url": "https://attacker.example/" })),
        ),
        (Method::DELETE, "", None),
        (Method::GET, "/secret", None),
        (Method::POST, "/secret/rotate", None),
        (
            Method::POST,
            "/secret/rotate",
            Some(
                json!({ "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "gracePeriodSeconds": 0 }),
            ),
        ),
        (Method::GET, "/deliveries", None),
        (Method::GET, "/deliveries?status=failed&limit=1", None),
        (Method::GET, "/deliveries/{delivery}", None),
        (Method::POST, "/deliveries/{delivery}/resend", None),
        (
            Method::POST,
            "/recover",
            Some(json!({ "since": an_hour_ago })),
        ),
        (Method::POST, "/test", None),
        (
            Method::POST,
            "/test",
            Some(json!({ "eventType": "booking.created" })),
        ),
        (Method::GET, "/stats", None),
        (Method::GET, "/stats?days=31", None),
    ];
    routes
        .into_iter()
        .map(|(method, suffix, body)| (method, suffix.replace("{delivery}", delivery), body))
        .collect()
}

/// What an outsider could change: the endpoint as read, its secret, the
/// stored record (revision and every secret), and its delivery log.
async fn snapshot(api: &Api, tenant: &str, id: &str) -> (Value, Value, Value, Value) {
    let path = endpoint_path(tenant, id);
    let stored = api
        .store
        .endpoint(&tenant.parse().unwrap(), id.parse().unwrap())
        .await
        .unwrap()
        .expect("the victim's endpoint still exists");
    (
        api.get(&path).await.body,
        api.get(&format!("{path}/secret")).await.body,
        json!({
            "revision": stored.revision,
            "secrets": stored.secrets.iter().map(|s| s.secret.expose().to_owned()).collect::<Vec<_>>(),
        }),
        api.get(&format!("{path}/deliveries?limit=100")).await.body,
    )
}

async fn another_tenants_endpoint_is_not_found_on_every_route(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let victim = unique_tenant();
    let attacker = unique_tenant();
    let victims_id = api.create_endpoint_id(&victim).await;
    let attackers_id = api.create_endpoint_id(&attacker).await;
    let missing_id = "ep_01J9Z3W5Q8R7T6Y5X4V3B2N1M0";
    let delivery = seed_delivery(api.store.as_ref(), &victim, &victims_id).await;
    let before = snapshot(&api, &victim, &victims_id).await;

    for (method, suffix, body) in routes(&delivery) {
        let foreign = format!("{}{suffix}", endpoint_path(&attacker, &victims_id));
        let reply = api.call(method.clone(), &foreign, body.clone()).await;
        reply.assert_problem(404, None);
        // Indistinguishable from an id that exists nowhere.
        let nowhere = format!("{}{suffix}", endpoint_path(&attacker, missing_id));
        let baseline = api.call(method.clone(), &nowhere, body).await;
        assert_eq!(
            reply.detail().replace(&victims_id, missing_id),
            baseline.detail(),
            "{method} {suffix}"
        );
        assert_eq!(
            snapshot(&api, &victim, &victims_id).await,
            before,
            "{method} {suffix} changed the other tenant's endpoint"
        );
    }
    assert_eq!(api.endpoint_ids(&victim).await, [victims_id.as_str()]);
    assert_eq!(api.endpoint_ids(&attacker).await, [attackers_id.as_str()]);
    // The victim's delivery id under the attacker's own endpoint.
    let borrowed = format!(
        "{}/deliveries/{delivery}",
        endpoint_path(&attacker, &attackers_id)
    );
    api.get(&borrowed).await.assert_problem(404, None);
    api.call(Method::POST, &format!("{borrowed}/resend"), None)
        .await
        .assert_problem(404, None);
    assert!(
        api.take_queued().await.is_empty(),
        "nothing was sent to the other tenant's endpoint"
    );
    // The victim's own path still resends.
    let own = format!(
        "{}/deliveries/{delivery}/resend",
        endpoint_path(&victim, &victims_id)
    );
    assert_eq!(api.call(Method::POST, &own, None).await.status, 202);
}
