//! Secret reveal and rotation: during the grace period deliveries carry a
//! signature for the new and the old secret, after it only the new one.

use std::sync::Arc;

use axum::http::StatusCode;
use courier::endpoint::{Endpoint, MAX_SIGNING_SECRETS};
use courier::ports::Store;
use courier::signing::{Secret, signature_header, verify};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::common::{Api, endpoint_path, unique_tenant};

courier_testkit::backend_tests!(store:
    rotation_signs_with_both_secrets_during_the_grace_period_only,
    a_one_second_grace_period_ends_after_one_second,
    rotation_to_a_given_secret_with_no_grace_replaces_it_at_once,
    rotating_again_within_the_grace_period_drops_the_oldest_secret,
);

const BODY: &[u8] = br#"{"id":"evt_1","type":"booking.created","data":{}}"#;

async fn stored(store: &dyn Store, tenant: &str, id: &str) -> Endpoint {
    store
        .endpoint(&tenant.parse().unwrap(), id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
}

/// The secrets that sign an attempt made at `at`, as shown to owners.
fn signing(endpoint: &Endpoint, at: OffsetDateTime) -> Vec<String> {
    endpoint
        .signing_secrets(at)
        .iter()
        .map(|s| s.expose().to_owned())
        .collect()
}

/// Signs as the delivery function does at `at`, then verifies as a receiver
/// holding `secret` would.
fn receiver_accepts(endpoint: &Endpoint, secret: &str, at: OffsetDateTime) -> bool {
    let ts = at.unix_timestamp();
    let header = signature_header(endpoint.signing_secrets(at), "evt_1", ts, BODY);
    let secret = Secret::parse(secret).unwrap();
    verify(&secret, "evt_1", &ts.to_string(), &header, BODY, ts, 300).is_ok()
}

async fn rotation_signs_with_both_secrets_during_the_grace_period_only(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let created = api.create_endpoint(&tenant).await;
    let id = created["id"].as_str().unwrap();
    let path = endpoint_path(&tenant, id);
    let old = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        api.get(&format!("{path}/secret")).await.body,
        json!({ "secret": old })
    );

    // Default grace: 24 hours. An empty body is allowed.
    let before = OffsetDateTime::now_utc();
    let reply = api
        .call(
            axum::http::Method::POST,
            &format!("{path}/secret/rotate"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let new = reply.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(
        api.get(&format!("{path}/secret")).await.body,
        json!({ "secret": new })
    );
    let endpoint = stored(store.as_ref(), &tenant, id).await;
    let now = OffsetDateTime::now_utc();
    // The old secret expires exactly 86400 s after the rotation, which
    // happened between `before` and `now`.
    let expires = endpoint.secrets[1]
        .expires_at
        .expect("the rotated-out secret has an end");
    assert_eq!(endpoint.secrets[1].secret.expose(), old);
    assert!(
        expires >= before + Duration::seconds(86400) && expires <= now + Duration::seconds(86400),
        "the old secret expires at {expires}, rotated between {before} and {now}"
    );
    assert_eq!(endpoint.secrets[0].expires_at, None);
    assert_eq!(signing(&endpoint, now), [new.as_str(), old.as_str()]);
    assert!(receiver_accepts(&endpoint, &new, now));
    assert!(receiver_accepts(&endpoint, &old, now));
    let before_end = before + Duration::hours(24) - Duration::seconds(5);
    assert!(receiver_accepts(&endpoint, &old, before_end));
    let after_grace = now + Duration::hours(24) + Duration::seconds(5);
    assert_eq!(signing(&endpoint, after_grace), [new.as_str()]);
    assert!(receiver_accepts(&endpoint, &new, after_grace));
    assert!(!receiver_accepts(&endpoint, &old, after_grace));
    let read = api.get(&path).await.body;
    assert_ne!(read["updatedAt"], created["updatedAt"]);
    assert!(!read.to_string().contains("whsec_"));
}

/// The grace period as given, checked at an instant past it rather than by
/// sleeping through it.
async fn a_one_second_grace_period_ends_after_one_second(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let created = api.create_endpoint(&tenant).await;
    let id = created["id"].as_str().unwrap();
    let old = created["secret"].as_str().unwrap().to_owned();
    let reply = api
        .post(
            &format!("{}/secret/rotate", endpoint_path(&tenant, id)),
            json!({ "gracePeriodSeconds": 1 }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let new = reply.body["secret"].as_str().unwrap().to_owned();
    let endpoint = stored(store.as_ref(), &tenant, id).await;
    let now = OffsetDateTime::now_utc();
    assert_eq!(signing(&endpoint, now), [new.as_str(), old.as_str()]);
    assert!(receiver_accepts(&endpoint, &old, now));
    let later = now + Duration::seconds(2);
    assert_eq!(signing(&endpoint, later), [new.as_str()]);
    assert!(receiver_accepts(&endpoint, &new, later));
    assert!(!receiver_accepts(&endpoint, &old, later));
}

async fn rotation_to_a_given_secret_with_no_grace_replaces_it_at_once(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let created = api.create_endpoint(&tenant).await;
    let id = created["id"].as_str().unwrap();
    let path = endpoint_path(&tenant, id);
    let old = created["secret"].as_str().unwrap().to_owned();
    let chosen = Secret::generate().expose().to_owned();
    let reply = api
        .post(
            &format!("{path}/secret/rotate"),
            json!({ "secret": chosen, "gracePeriodSeconds": 0 }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, json!({ "secret": chosen }));
    let endpoint = stored(store.as_ref(), &tenant, id).await;
    let now = OffsetDateTime::now_utc();
    assert_eq!(signing(&endpoint, now), [chosen.as_str()]);
    assert!(receiver_accepts(&endpoint, &chosen, now));
    assert!(!receiver_accepts(&endpoint, &old, now));
}

/// An endpoint keeps at most three secrets: a third rotation inside the
/// grace period drops the original, the newest three keep signing.
async fn rotating_again_within_the_grace_period_drops_the_oldest_secret(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let created = api.create_endpoint(&tenant).await;
    let id = created["id"].as_str().unwrap();
    let rotate = format!("{}/secret/rotate", endpoint_path(&tenant, id));
    let original = created["secret"].as_str().unwrap().to_owned();
    let mut newest_first = vec![original.clone()];
    for _ in 0..MAX_SIGNING_SECRETS {
        let reply = api.post(&rotate, json!({})).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        newest_first.insert(0, reply.body["secret"].as_str().unwrap().to_owned());
    }
    let endpoint = stored(store.as_ref(), &tenant, id).await;
    let now = OffsetDateTime::now_utc();
    assert_eq!(endpoint.secrets.len(), MAX_SIGNING_SECRETS);
    assert_eq!(signing(&endpoint, now), newest_first[..MAX_SIGNING_SECRETS]);
    assert!(!receiver_accepts(&endpoint, &original, now));
    assert!(receiver_accepts(&endpoint, &newest_first[2], now));
}
