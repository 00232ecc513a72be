//! Operational webhooks (issue #16) on both backends: what counting does to
//! a tenant's endpoint reaches the operations tenant's endpoints as signed
//! `webhooks.*` events, once each, and nothing is said about the operations
//! tenant's own endpoints. On DynamoDB the harness runs the delivery
//! function's stream handler over the table's stream, as Lambda would.

mod harness;

use std::time::Duration;

use courier::config::Settings;
use courier::endpoint::{DisabledReason, Endpoint};
use courier::ids::TenantId;
use courier::message::{DeliveryMessage, Trigger};
use courier::operational::{DELIVERY_EXHAUSTED, ENDPOINT_DISABLED};
use courier_testkit::{Receiver, RecordedRequest, Reply, TestBackend};
use harness::{Harness, fast_settings};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

/// A harness whose operations tenant (its own, so tests do not share one)
/// has a healthy endpoint subscribed to the built-in types.
struct Scene {
    h: Harness,
    ops: TenantId,
    ops_receiver: Receiver,
    ops_endpoint: Endpoint,
}

async fn scene(b: &dyn TestBackend, disable_after_failures: u32) -> Scene {
    let ops = courier_testkit::unique_tenant();
    let settings = Settings {
        disable_after_failures,
        operations_tenant: ops.clone(),
        ..fast_settings()
    };
    let h = Harness::new(b, settings).await;
    let ops_receiver = Receiver::start().await;
    let ops_endpoint = courier_testkit::endpoint_at(&ops, &ops_receiver.url(), &["webhooks.*"]);
    h.store.create_endpoint(&ops_endpoint).await.unwrap();
    Scene {
        h,
        ops,
        ops_receiver,
        ops_endpoint,
    }
}

impl Scene {
    /// Pumps (counting both tenants' deliveries) until `done` holds for the
    /// operations receiver's requests and the queue has been quiet a while.
    async fn run_until(&self, done: impl Fn(&[RecordedRequest]) -> bool) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        let mut quiet = 0;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out; the operations endpoint got {:?}",
                types(&self.ops_receiver.requests())
            );
            let handled = self.h.pump_once(Duration::from_millis(500)).await;
            self.h.count_tenant(&self.ops).await;
            quiet = if handled == 0 { quiet + 1 } else { 0 };
            // Three quiet rounds: 1.5 s, past any retry of the `1,2` schedule
            // still to come, so a second event would have arrived.
            if quiet >= 3 && done(&self.ops_receiver.requests()) {
                return;
            }
        }
    }

    /// The operations receiver's requests of `event_type`, each verified
    /// with both official `standardwebhooks` packages, as parsed bodies.
    fn received(&self, event_type: &str) -> Vec<Value> {
        let requests: Vec<RecordedRequest> = self
            .ops_receiver
            .requests()
            .into_iter()
            .filter(|r| body(r)["type"] == event_type)
            .collect();
        let secret = self.ops_endpoint.current_secret().expose();
        let cases: Vec<Value> = requests
            .iter()
            .map(|r| courier_testkit::standardwebhooks::case(secret, r))
            .collect();
        if !cases.is_empty() {
            courier_testkit::standardwebhooks::verify_all(&cases);
        }
        requests.iter().map(body).collect()
    }
}

fn body(request: &RecordedRequest) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

fn types(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| body(r)["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn has(event_type: &'static str) -> impl Fn(&[RecordedRequest]) -> bool {
    move |requests| types(requests).iter().any(|t| t == event_type)
}

/// Checks the envelope and the `disabled` data about `ep`.
fn assert_disabled(s: &Scene, event: &Value, ep: &Endpoint, reason: &str, failures: u32) {
    assert_eq!(
        event["tenantId"],
        s.ops.as_str(),
        "sent as the operations tenant"
    );
    let data = &event["data"];
    assert_eq!(data["tenantId"], s.h.tenant.as_str());
    assert_eq!(data["endpointId"], ep.id.to_string());
    assert_eq!(data["url"], ep.url);
    assert_eq!(data["reason"], reason);
    assert_eq!(data["consecutiveFailures"], failures);
}

pub async fn an_endpoint_disabled_by_failures_is_reported_once(b: &dyn TestBackend) {
    let s = scene(b, 3).await;
    s.h.receiver.set_default(Reply::status(500));
    let ep = s.h.endpoint().await;
    s.h.enqueue(&ep).await;
    s.run_until(has(ENDPOINT_DISABLED)).await;
    let stored = s.h.reload(&ep).await;
    assert_eq!(
        stored.disabled_reason,
        Some(DisabledReason::ConsecutiveFailures)
    );
    let disabled = s.received(ENDPOINT_DISABLED);
    assert_eq!(disabled.len(), 1, "exactly one: {disabled:?}");
    assert_disabled(&s, &disabled[0], &ep, "consecutive_failures", 3);
}

pub async fn an_endpoint_disabled_by_410_is_reported_once(b: &dyn TestBackend) {
    let s = scene(b, 10).await;
    s.h.receiver.set_default(Reply::status(410));
    let ep = s.h.endpoint().await;
    s.h.enqueue(&ep).await;
    s.run_until(|r| has(ENDPOINT_DISABLED)(r) && has(DELIVERY_EXHAUSTED)(r))
        .await;
    let disabled = s.received(ENDPOINT_DISABLED);
    assert_eq!(disabled.len(), 1, "exactly one: {disabled:?}");
    assert_disabled(&s, &disabled[0], &ep, "gone", 1);
    // The 410 also ended the delivery: no retry follows it.
    let exhausted = s.received(DELIVERY_EXHAUSTED);
    assert_eq!(exhausted.len(), 1, "{exhausted:?}");
    assert_eq!(exhausted[0]["data"]["attempts"], 1);
    assert_eq!(exhausted[0]["data"]["httpStatus"], 410);
}

pub async fn an_exhausted_delivery_is_reported_once(b: &dyn TestBackend) {
    let s = scene(b, 10).await;
    s.h.receiver.set_default(Reply::status(503));
    let ep = s.h.endpoint().await;
    let message = s.h.enqueue(&ep).await;
    s.run_until(has(DELIVERY_EXHAUSTED)).await;
    let exhausted = s.received(DELIVERY_EXHAUSTED);
    assert_eq!(exhausted.len(), 1, "exactly one: {exhausted:?}");
    let data = &exhausted[0]["data"];
    assert_eq!(data["tenantId"], s.h.tenant.as_str());
    assert_eq!(data["endpointId"], ep.id.to_string());
    assert_eq!(data["eventId"], message.event.id.as_str());
    assert_eq!(data["eventType"], "booking.created");
    assert_eq!(data["attempts"], 3, "the schedule's last attempt");
    assert_eq!(data["httpStatus"], 503);
    assert!(data["error"].is_string(), "{data}");
    assert!(s.received(ENDPOINT_DISABLED).is_empty(), "3 failures of 10");
    assert!(s.h.reload(&ep).await.enabled);
}

pub async fn the_operations_tenants_own_endpoints_are_not_reported(b: &dyn TestBackend) {
    let s = scene(b, 3).await;
    // An operations endpoint of its own that fails: disabled, and exhausted
    // its delivery, yet the healthy one hears nothing about it.
    let failing = Receiver::start().await;
    failing.set_default(Reply::status(500));
    let own = courier_testkit::endpoint_at(&s.ops, &failing.url(), &["*"]);
    s.h.store.create_endpoint(&own).await.unwrap();
    let event = courier_testkit::event(&s.ops, "booking.created", r#"{"n":1}"#);
    let message = DeliveryMessage::new(own.id, Trigger::Event, event);
    s.h.queue
        .enqueue(std::slice::from_ref(&message))
        .await
        .unwrap();
    let store = s.h.store.clone();
    let (ops, id) = (s.ops.clone(), own.id);
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        s.run_until(|_| true).await;
        let stored = store.endpoint(&ops, id).await.unwrap().unwrap();
        if !stored.enabled {
            assert_eq!(
                stored.disabled_reason,
                Some(DisabledReason::ConsecutiveFailures)
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never disabled");
    }
    s.run_until(|_| true).await;
    assert_eq!(failing.requests().len(), 3);
    assert!(
        s.ops_receiver.requests().is_empty(),
        "nothing about the operations tenant: {:?}",
        types(&s.ops_receiver.requests())
    );
}

courier_testkit::backend_tests!(
    an_endpoint_disabled_by_failures_is_reported_once,
    an_endpoint_disabled_by_410_is_reported_once,
    an_exhausted_delivery_is_reported_once,
    the_operations_tenants_own_endpoints_are_not_reported,
);
