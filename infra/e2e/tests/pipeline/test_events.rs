//! Test events: through the normal pipeline to one endpoint, signed, even
//! when it is disabled, whatever its subscriptions.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use courier::attempt::AttemptStatus;
use courier::message::Trigger;
use courier::ports::Store;
use courier::signing::{Secret, verify};
use courier_api::test_events::{TEST_EVENT_MESSAGE, TEST_EVENT_TYPE};
use courier_testkit::TestBackend;
use serde_json::{Value, json};

use crate::common::{
    Api, deliveries_path, endpoint_path, endpoints_path, unique_tenant, unique_type,
};
use crate::pipeline::Pipeline;

courier_testkit::backend_tests!(store: a_test_event_ignores_subscriptions_and_may_have_any_valid_type);
courier_testkit::backend_tests!(a_test_event_reaches_a_disabled_endpoint_with_a_valid_signature);

fn test_path(tenant: &str, endpoint: &str) -> String {
    format!("{}/test", endpoint_path(tenant, endpoint))
}

async fn a_test_event_reaches_a_disabled_endpoint_with_a_valid_signature(
    backend: &dyn TestBackend,
) {
    let p = Pipeline::new(backend).await;
    let ep = p.endpoint().await;
    let path = endpoint_path(&p.tenant, &ep);
    let disabled = p.api.patch(&path, json!({ "enabled": false })).await;
    assert_eq!(disabled.body["disabledReason"], "manual");
    let secret = p.api.get(&format!("{path}/secret")).await.body["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // No body at all: the default test event.
    let reply = p
        .api
        .call(Method::POST, &test_path(&p.tenant, &ep), None)
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    let event_id = reply.body["eventId"].as_str().unwrap().to_owned();
    let message_id = reply.body["messageId"].as_str().unwrap().to_owned();
    assert!(event_id.starts_with("evt_"));

    let handled = p.pump_until(&p.deliverer, &ep, 1).await;
    assert_eq!(handled[0].trigger, Trigger::Test);
    assert_eq!(handled[0].message_id.to_string(), message_id);

    let request = p
        .receiver
        .wait_for(1, std::time::Duration::from_secs(5))
        .await
        .remove(0);
    assert_eq!(request.header("webhook-id"), Some(event_id.as_str()));
    assert_eq!(request.header("webhook-attempt"), Some("1"));
    let timestamp = request.header("webhook-timestamp").unwrap();
    let signature = request.header("webhook-signature").unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    verify(
        &Secret::parse(&secret).unwrap(),
        &event_id,
        timestamp,
        signature,
        &request.body,
        now,
        300,
    )
    .expect("the test event is signed with the endpoint's secret");
    courier_testkit::standardwebhooks::verify_all(&[json!({
        "secret": secret,
        "headers": {
            "webhook-id": event_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": signature,
        },
        "body": request.body_text(),
    })]);
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["id"], event_id);
    assert_eq!(body["type"], TEST_EVENT_TYPE);
    assert_eq!(body["tenantId"], p.tenant);
    assert_eq!(
        body["data"],
        json!({ "message": TEST_EVENT_MESSAGE, "endpointId": ep })
    );

    // Logged with trigger `test`, in full.
    let log = p.log(&ep).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].trigger, Trigger::Test);
    assert_eq!(log[0].status, AttemptStatus::Succeeded);
    let deliveries = deliveries_path(&p.tenant, &ep);
    let detail = p.api.get(&format!("{deliveries}/{}", log[0].id)).await;
    assert_eq!(detail.status, StatusCode::OK, "{detail:?}");
    assert_eq!(detail.body["trigger"], "test");
    assert_eq!(detail.body["eventType"], TEST_EVENT_TYPE);
    assert_eq!(detail.body["messageId"], message_id);
    assert_eq!(detail.body["url"], p.receiver.url());
    assert_eq!(detail.body["httpStatus"], 200);
    let headers = &detail.body["requestHeaders"];
    assert_eq!(headers["webhook-id"], event_id);
    assert_eq!(headers["webhook-signature"], "v1,<redacted>");
    assert!(!detail.body.to_string().contains(&secret[6..]));

    // A resend waits for the endpoint to be enabled; then it goes out,
    // with the very same body.
    let resend = format!("{deliveries}/{}/resend", log[0].id);
    p.api
        .call(Method::POST, &resend, None)
        .await
        .assert_problem(409, None);
    p.api.patch(&path, json!({ "enabled": true })).await;
    let reply = p.api.call(Method::POST, &resend, None).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(reply.body["eventId"], event_id);
    p.pump_until(&p.deliverer, &ep, 2).await;
    let requests = p
        .receiver
        .wait_for(2, std::time::Duration::from_secs(5))
        .await;
    assert_eq!(requests[1].body, request.body);
    assert_eq!(p.log(&ep).await[1].trigger, Trigger::Manual);
    p.assert_quiet().await;
}

async fn a_test_event_ignores_subscriptions_and_may_have_any_valid_type(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let subscribed = unique_type("created");
    api.add_event_type(&subscribed).await;
    let created = api
        .post(
            &endpoints_path(&tenant),
            json!({ "url": "https://example.com/hook", "eventTypes": [subscribed] }),
        )
        .await;
    let ep = created.body["id"].as_str().unwrap().to_owned();

    // Neither subscribed to nor in the catalogue.
    let cases = [
        (json!({}), TEST_EVENT_TYPE),
        (json!({ "eventType": null }), TEST_EVENT_TYPE),
        (json!({ "eventType": "order.shipped" }), "order.shipped"),
    ];
    for (body, event_type) in cases {
        let reply = api.post(&test_path(&tenant, &ep), body.clone()).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{body}: {reply:?}");
        let queued = api.take_queued().await;
        assert_eq!(queued.len(), 1, "{body}");
        let message = &queued[0];
        assert_eq!(message.trigger, Trigger::Test);
        assert_eq!(message.endpoint_id.to_string(), ep);
        assert_eq!(message.event.event_type.as_str(), event_type);
        assert_eq!(message.event.id.to_string(), reply.body["eventId"]);
        // Stored, so that it can be resent.
        let stored = store
            .event(&tenant.parse().unwrap(), &message.event.id)
            .await
            .unwrap();
        assert_eq!(stored.as_ref(), Some(&message.event), "{body}");
    }
}
