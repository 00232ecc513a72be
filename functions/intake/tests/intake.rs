//! Intake on both backends: fan-out to exactly the subscribed, enabled
//! endpoints, idempotency, recovery from a partial enqueue failure, the
//! bad-input table, and the direct-invoke door.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use courier::config::Settings;
use courier::endpoint::Endpoint;
use courier::event_type::{EventType, EventTypeFilter};
use courier::ids::{EndpointId, TenantId};
use courier::message::DeliveryMessage;
use courier::ports::{DeliveryQueue, QueueError, Store};
use courier_api::auth::AdminAuth;
use courier_intake::{Intake, handle_direct, router};
use courier_testkit::{ReceivingQueue, TestBackend};
use time::OffsetDateTime;
use tower::ServiceExt;

const TOKEN: &str = "intake-test-token";

/// A queue that, when armed, enqueues only the first half of a call's
/// messages and reports the rest as not enqueued — an SQS partial failure.
struct FlakyQueue {
    inner: Arc<dyn ReceivingQueue>,
    fail_next: AtomicBool,
}

#[async_trait]
impl DeliveryQueue for FlakyQueue {
    async fn enqueue(&self, messages: &[DeliveryMessage]) -> Result<(), QueueError> {
        if self.fail_next.swap(false, Ordering::SeqCst) {
            let (sent, lost) = messages.split_at(messages.len() / 2);
            self.inner.enqueue(sent).await?;
            return Err(QueueError::NotEnqueued {
                failed: lost.iter().map(|m| m.message_id).collect(),
            });
        }
        self.inner.enqueue(messages).await
    }

    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.inner.retry_after(receipt, delay).await
    }
}

struct Fixture {
    store: Arc<dyn Store>,
    queue: Arc<FlakyQueue>,
    raw_queue: Arc<dyn ReceivingQueue>,
    intake: Arc<Intake>,
    tenant: TenantId,
}

impl Fixture {
    async fn new(backend: &dyn TestBackend, settings: Settings) -> Self {
        let store = backend.store().await;
        let raw_queue = backend.queue().await;
        let queue = Arc::new(FlakyQueue {
            inner: raw_queue.clone(),
            fail_next: AtomicBool::new(false),
        });
        for name in ["booking.created", "order.created"] {
            let t = EventType {
                name: name.parse().unwrap(),
                description: String::new(),
                created_at: OffsetDateTime::now_utc(),
            };
            // Tests share tables on the AWS backend; the catalogue is global.
            let _ = store.create_event_type(&t).await;
        }
        let intake = Arc::new(Intake::new(store.clone(), queue.clone(), settings));
        let tenant = format!("t_{}", ulid::Ulid::new()).parse().unwrap();
        Self {
            store,
            queue,
            raw_queue,
            intake,
            tenant,
        }
    }

    async fn endpoint(&self, tenant: &TenantId, filters: &[&str], enabled: bool) -> EndpointId {
        let filters: Vec<EventTypeFilter> = filters.iter().map(|f| f.parse().unwrap()).collect();
        let mut ep = Endpoint::new(
            tenant.clone(),
            "https://example.com/hook".into(),
            filters,
            OffsetDateTime::now_utc(),
        );
        ep.enabled = enabled;
        self.store.create_endpoint(&ep).await.unwrap();
        ep.id
    }

    /// Every message in the queue, by endpoint (deleting them).
    async fn drain(&self) -> BTreeMap<EndpointId, usize> {
        let mut seen = BTreeMap::new();
        loop {
            let batch = self
                .raw_queue
                .receive(10, Duration::from_secs(1))
                .await
                .unwrap();
            if batch.is_empty() {
                return seen;
            }
            for m in batch {
                let message = DeliveryMessage::from_json(&m.body).unwrap();
                *seen.entry(message.endpoint_id).or_default() += 1;
                self.raw_queue.delete(&m.receipt).await.unwrap();
            }
        }
    }

    async fn post(
        &self,
        path_tenant: &str,
        body: &str,
        token: Option<&str>,
    ) -> (StatusCode, serde_json::Value, String) {
        let app = router(
            self.intake.clone(),
            AdminAuth::from_token(TOKEN),
            Settings::default().max_payload_bytes,
        );
        let mut request = Request::post(format!("/v1/tenants/{path_tenant}/events"))
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = app
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
            content_type,
        )
    }
}

pub async fn fan_out_reaches_exactly_the_subscribed_enabled_endpoints_once(b: &dyn TestBackend) {
    let f = Fixture::new(b, Settings::default()).await;
    let other: TenantId = format!("o_{}", ulid::Ulid::new()).parse().unwrap();
    let exact = f.endpoint(&f.tenant, &["booking.created"], true).await;
    let all = f.endpoint(&f.tenant, &["*"], true).await;
    let prefix = f
        .endpoint(&f.tenant, &["booking.*", "order.created"], true)
        .await;
    f.endpoint(&f.tenant, &["order.created"], true).await;
    f.endpoint(&f.tenant, &["book.*"], true).await;
    f.endpoint(&f.tenant, &["*"], false).await;
    f.endpoint(&other, &["*"], true).await;

    let body = r#"{"id":"order-77","type":"booking.created","data":{"bookingId":"bk_1"}}"#;
    let (status, json, _) = f.post(f.tenant.as_str(), body, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(json["id"], "order-77");
    assert_eq!(json["endpoints"], 3);
    let expected: BTreeMap<EndpointId, usize> = [(exact, 1), (all, 1), (prefix, 1)].into();
    assert_eq!(f.drain().await, expected);

    // The same id again is a duplicate: acknowledged, not fanned out.
    let (status, json, _) = f.post(f.tenant.as_str(), body, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["duplicate"], true);
    assert!(f.drain().await.is_empty());
}

pub async fn a_partial_enqueue_failure_is_503_and_the_retry_misses_no_endpoint(
    b: &dyn TestBackend,
) {
    let f = Fixture::new(b, Settings::default()).await;
    let mut endpoints = Vec::new();
    for _ in 0..12 {
        endpoints.push(f.endpoint(&f.tenant, &["booking.*"], true).await);
    }
    f.queue.fail_next.store(true, Ordering::SeqCst);
    let body = r#"{"id":"evt-retry-1","type":"booking.created","data":{}}"#;
    let (status, json, content_type) = f.post(f.tenant.as_str(), body, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(content_type, "application/problem+json");
    assert!(
        json["detail"].as_str().unwrap().contains("evt-retry-1"),
        "{json}"
    );

    // Without an id of its own, the producer learns the generated one.
    f.queue.fail_next.store(true, Ordering::SeqCst);
    let (status, json, _) = f
        .post(
            f.tenant.as_str(),
            r#"{"type":"booking.created","data":{}}"#,
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    let detail = json["detail"].as_str().unwrap();
    let generated = detail.split('\'').nth(1).unwrap().to_owned();
    assert!(generated.starts_with("evt_"), "{detail}");
    let retry = format!(r#"{{"id":"{generated}","type":"booking.created","data":{{}}}}"#);
    let (status, json, _) = f.post(f.tenant.as_str(), &retry, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    f.drain().await;

    let (status, json, _) = f.post(f.tenant.as_str(), body, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(json["endpoints"], 12);
    let seen = f.drain().await;
    for ep in &endpoints {
        assert!(
            seen.get(ep).copied().unwrap_or(0) >= 1,
            "endpoint {ep} was missed"
        );
    }
    // Now it is finished: a third try is a duplicate.
    let (status, _, _) = f.post(f.tenant.as_str(), body, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
}

pub async fn bad_input_is_refused_and_nothing_is_stored_or_enqueued(b: &dyn TestBackend) {
    let settings = Settings {
        max_payload_bytes: 2048,
        ..Settings::default()
    };
    let f = Fixture::new(b, settings).await;
    f.endpoint(&f.tenant, &["*"], true).await;
    let big = format!(
        r#"{{"id":"bad-big","type":"booking.created","data":{{"blob":"{}"}}}}"#,
        "x".repeat(3000)
    );
    let cases: Vec<(&str, String, Option<&str>, StatusCode)> = vec![
        (
            "unknown type",
            r#"{"id":"bad-1","type":"booking.exploded","data":{}}"#.into(),
            Some(TOKEN),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "malformed type",
            r#"{"id":"bad-2","type":"booking..x","data":{}}"#.into(),
            Some(TOKEN),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "non-object data",
            r#"{"id":"bad-3","type":"booking.created","data":[1,2]}"#.into(),
            Some(TOKEN),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "string data",
            r#"{"id":"bad-4","type":"booking.created","data":"x"}"#.into(),
            Some(TOKEN),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "missing data",
            r#"{"id":"bad-5","type":"booking.created"}"#.into(),
            Some(TOKEN),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "bad id",
            r#"{"id":"has.dot","type":"booking.created","data":{}}"#.into(),
            Some(TOKEN),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("oversize", big, Some(TOKEN), StatusCode::PAYLOAD_TOO_LARGE),
        (
            "missing auth",
            r#"{"id":"bad-6","type":"booking.created","data":{}}"#.into(),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong token",
            r#"{"id":"bad-7","type":"booking.created","data":{}}"#.into(),
            Some("nope"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "malformed json",
            r#"{"id":"bad-8","type":"#.into(),
            Some(TOKEN),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown field",
            r#"{"id":"bad-9","type":"booking.created","data":{},"extra":1}"#.into(),
            Some(TOKEN),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "SQS-refused character",
            "{\"id\":\"bad-10\",\"type\":\"booking.created\",\"data\":{\"x\":\"\u{FFFF}\"}}".into(),
            Some(TOKEN),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (name, body, token, expected) in cases {
        let (status, json, content_type) = f.post(f.tenant.as_str(), &body, token).await;
        assert_eq!(status, expected, "{name}: {json}");
        assert_eq!(content_type, "application/problem+json", "{name}");
        assert!(
            json["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{name}: no detail"
        );
    }
    let oversize = format!(
        r#"{{"type":"booking.created","data":{{"blob":"{}"}}}}"#,
        "x".repeat(3000)
    );
    let (_, json, _) = f.post(f.tenant.as_str(), &oversize, Some(TOKEN)).await;
    assert!(
        json["detail"].as_str().unwrap().contains("envelope"),
        "{json}"
    );
    let (status, _, _) = f
        .post(
            "bad.tenant",
            r#"{"type":"booking.created","data":{}}"#,
            Some(TOKEN),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "malformed tenant id"
    );
    for id in ["bad-1", "bad-3", "bad-big", "bad-6", "bad-9"] {
        assert!(
            f.store
                .event(&f.tenant, &id.parse().unwrap())
                .await
                .unwrap()
                .is_none(),
            "{id} was stored"
        );
    }
    assert!(f.drain().await.is_empty(), "a rejected event was enqueued");
}

pub async fn direct_invocations_accept_one_event_or_a_list(b: &dyn TestBackend) {
    let f = Fixture::new(b, Settings::default()).await;
    let ep = f.endpoint(&f.tenant, &["order.*"], true).await;
    let one = format!(
        r#"{{"tenantId":"{}","id":"d-1","type":"order.created","data":{{"n":1}}}}"#,
        f.tenant
    );
    let result = handle_direct(&f.intake, &one).await.unwrap();
    assert_eq!(result["id"], "d-1");
    assert_eq!(result["endpoints"], 1);
    let list = format!(
        r#"[{{"tenantId":"{t}","type":"order.created","data":{{}}}},{{"tenantId":"{t}","id":"d-1","type":"order.created","data":{{"n":1}}}}]"#,
        t = f.tenant
    );
    let result = handle_direct(&f.intake, &list).await.unwrap();
    assert_eq!(result[0]["endpoints"], 1);
    assert_eq!(result[1]["duplicate"], true);
    assert_eq!(f.drain().await, BTreeMap::from([(ep, 2)]));
    assert!(
        handle_direct(&f.intake, r#"{"tenantId":"x","type":"order.created"}"#)
            .await
            .is_err()
    );
    // A list with one bad event stores none of them.
    let mixed = format!(
        r#"[{{"tenantId":"{t}","id":"d-2","type":"order.created","data":{{}}}},{{"tenantId":"{t}","type":"order.nope","data":{{}}}}]"#,
        t = f.tenant
    );
    assert!(handle_direct(&f.intake, &mixed).await.is_err());
    assert!(
        f.store
            .event(&f.tenant, &"d-2".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        handle_direct(
            &f.intake,
            r#"{"tenantId":"a.b","type":"order.created","data":{}}"#
        )
        .await
        .is_err()
    );
}

courier_testkit::backend_tests!(
    fan_out_reaches_exactly_the_subscribed_enabled_endpoints_once,
    a_partial_enqueue_failure_is_503_and_the_retry_misses_no_endpoint,
    bad_input_is_refused_and_nothing_is_stored_or_enqueued,
    direct_invocations_accept_one_event_or_a_list,
);
