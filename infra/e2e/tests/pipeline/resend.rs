//! Resending a logged delivery: a new chain of attempts (trigger `manual`)
//! of the same event to the same endpoint, with its own retries.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use courier::attempt::AttemptStatus;
use courier::message::Trigger;
use courier::ports::Store;
use courier_testkit::{Reply, TestBackend};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::common::{
    Api, deliveries_path, endpoint_path, logged_attempt, seed_event, unique_tenant,
};
use crate::pipeline::Pipeline;

courier_testkit::backend_tests!(store:
    resend_queues_the_event_again_whatever_the_status,
    resend_refuses_a_disabled_endpoint_and_an_expired_event,
);
courier_testkit::backend_tests!(a_resend_is_a_new_manual_chain_with_its_own_retries);

/// The one retry delay of `fast_settings`.
const RETRY_DELAY: Duration = Duration::seconds(1);
/// How far `nextAttemptAt` may be from `createdAt` + the delay: only a
/// second reading of the clock, never a whole second of schedule.
const DUE_TOLERANCE: Duration = Duration::milliseconds(250);

fn resend_path(tenant: &str, endpoint: &str, delivery: &str) -> String {
    format!("{}/{delivery}/resend", deliveries_path(tenant, endpoint))
}

async fn a_resend_is_a_new_manual_chain_with_its_own_retries(backend: &dyn TestBackend) {
    let p = Pipeline::new(backend).await;
    let ep = p.endpoint().await;
    let event = p.publish(&ep).await;
    p.pump_until(&p.deliverer, &ep, 1).await;
    let original = p.log(&ep).await.remove(0);
    assert_eq!(original.trigger, Trigger::Event);
    assert_eq!(original.status, AttemptStatus::Succeeded);

    // The resend's first attempt fails, its own retry succeeds.
    p.receiver.respond_with(vec![Reply::status(500)]);
    let reply = p
        .api
        .call(
            Method::POST,
            &resend_path(&p.tenant, &ep, &original.id.to_string()),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    let message_id = reply.body["messageId"].as_str().unwrap().to_owned();
    assert!(message_id.starts_with("msg_"));
    assert_ne!(message_id, original.message_id.to_string());
    assert_eq!(reply.body["eventId"], event.id.as_str());

    let handled = p.pump_until(&p.deliverer, &ep, 3).await;
    let queued = &handled[0];
    assert_eq!(queued.trigger, Trigger::Manual);
    assert_eq!(queued.message_id.to_string(), message_id);
    assert_eq!(queued.endpoint_id.to_string(), ep);
    assert_eq!(queued.event, event);

    let log = p.log(&ep).await;
    let chain: Vec<_> = log
        .iter()
        .skip(1)
        .map(|a| (a.message_id.to_string(), a.attempt, a.trigger, a.status))
        .collect();
    assert_eq!(
        chain,
        [
            (
                message_id.clone(),
                1,
                Trigger::Manual,
                AttemptStatus::Failed
            ),
            (
                message_id.clone(),
                2,
                Trigger::Retry,
                AttemptStatus::Succeeded
            ),
        ]
    );
    // fast_settings: RETRY_SCHEDULE=1. The failed attempt is due again 1 s
    // after it was made (both read from one clock reading of the attempt),
    // and its retry was not made before that.
    let due = log[1]
        .next_attempt_at
        .expect("a failed attempt with a retry left")
        - log[1].created_at;
    assert!(
        (due - RETRY_DELAY).abs() <= DUE_TOLERANCE,
        "due {due} after the attempt, expected {RETRY_DELAY}"
    );
    assert!(log[2].created_at >= log[1].next_attempt_at.unwrap());
    assert_eq!(
        log[2].next_attempt_at, None,
        "a success has no next attempt"
    );

    // The receiver saw the same event, byte for byte, three times.
    let requests = p
        .receiver
        .wait_for(3, std::time::Duration::from_secs(5))
        .await;
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(r.header("webhook-id"), Some(event.id.as_str()));
        assert_eq!(r.body, requests[0].body);
    }
    let attempts: Vec<_> = requests
        .iter()
        .map(|r| r.header("webhook-attempt").unwrap().to_owned())
        .collect();
    assert_eq!(attempts, ["1", "1", "2"]);

    // As the API lists it.
    let listed = p
        .api
        .get(&format!(
            "{}?status=retrying",
            deliveries_path(&p.tenant, &ep)
        ))
        .await;
    assert_eq!(
        listed.body["data"].as_array().unwrap().len(),
        1,
        "{listed:?}"
    );
    let retrying = &listed.body["data"][0];
    assert_eq!(retrying["id"], log[1].id.to_string());
    assert_eq!(retrying["trigger"], "manual");
    assert_eq!(retrying["httpStatus"], 500);
    let time_of =
        |field: &str| OffsetDateTime::parse(retrying[field].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(time_of("nextAttemptAt"), log[1].next_attempt_at.unwrap());
    assert_eq!(time_of("createdAt"), log[1].created_at);
    p.assert_quiet().await;
}

async fn resend_queues_the_event_again_whatever_the_status(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let ep = api.create_endpoint_id(&tenant).await;
    let now = OffsetDateTime::now_utc();
    let event = seed_event(store.as_ref(), &tenant, now + Duration::days(7)).await;
    let mut attempts = Vec::new();
    for status in [
        AttemptStatus::Succeeded,
        AttemptStatus::Failed,
        AttemptStatus::Skipped,
    ] {
        let mut a = logged_attempt(&tenant, &ep, event.id.as_str(), now);
        a.status = status;
        attempts.push(a);
    }
    store.record_attempts(&attempts).await.unwrap();
    for a in &attempts {
        let path = resend_path(&tenant, &ep, &a.id.to_string());
        let reply = api.call(Method::POST, &path, None).await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "{:?}: {reply:?}",
            a.status
        );
        let queued = api.take_queued().await;
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].trigger, Trigger::Manual);
        assert_eq!(queued[0].message_id.to_string(), reply.body["messageId"]);
        assert_eq!(queued[0].event, event);
        assert_eq!(queued[0].endpoint_id.to_string(), ep);
        assert_eq!(queued[0].tenant_id.as_str(), tenant);
    }
}

async fn resend_refuses_a_disabled_endpoint_and_an_expired_event(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let ep = api.create_endpoint_id(&tenant).await;
    let now = OffsetDateTime::now_utc();

    // The log entry outlives its event (a retry a while after publication).
    let gone = seed_event(store.as_ref(), &tenant, now - Duration::seconds(1)).await;
    let orphan = logged_attempt(&tenant, &ep, gone.id.as_str(), now);
    let event = seed_event(store.as_ref(), &tenant, now + Duration::days(7)).await;
    let live = logged_attempt(&tenant, &ep, event.id.as_str(), now);
    store
        .record_attempts(&[orphan.clone(), live.clone()])
        .await
        .unwrap();

    let reply = api
        .post(
            &resend_path(&tenant, &ep, &orphan.id.to_string()),
            json!({}),
        )
        .await;
    reply.assert_problem(404, None);
    assert!(
        reply.detail().contains("expired") && reply.detail().contains(gone.id.as_str()),
        "{reply:?}"
    );

    let disabled = api
        .patch(&endpoint_path(&tenant, &ep), json!({ "enabled": false }))
        .await;
    assert_eq!(disabled.status, StatusCode::OK);
    let path = resend_path(&tenant, &ep, &live.id.to_string());
    let reply = api.post(&path, json!({})).await;
    reply.assert_problem(409, None);
    assert!(reply.detail().contains("disabled"), "{reply:?}");
    assert!(api.take_queued().await.is_empty());

    api.patch(&endpoint_path(&tenant, &ep), json!({ "enabled": true }))
        .await;
    let reply = api.post(&path, json!({})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(api.take_queued().await.len(), 1);
}
