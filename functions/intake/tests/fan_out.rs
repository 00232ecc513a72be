//! The streaming fan-out on both backends: a fan-out stopped at its
//! deadline resumes where it stopped; a killed one, retried by the
//! producer, gives each endpoint one delivery (one message id) however
//! many copies were queued; concurrent publishes of one id fan out once;
//! and every error after the id is known names it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use courier::config::Settings;
use courier::ids::{EndpointId, MessageId, TenantId};
use courier::message::{DeliveryMessage, Trigger};
use courier::ports::{DeliveryQueue, FAN_OUT_LEASE, QueueError, Store};
use courier_http::access::Credentials;
use courier_http::auth::AdminAuth;
use courier_intake::{FanOutStop, Intake, PAGE, PublishError, PublishRequest, router};
use courier_testkit::{ReceivingQueue, TestBackend, unique_tenant};
use futures::StreamExt;
use serde_json::Value;
use serde_json::value::RawValue;
use tower::ServiceExt;

const TOKEN: &str = "fan-out-test-token";

/// A queue that passes the first `pass` enqueue calls on and never
/// answers the ones after: a function killed in the middle of a fan-out.
struct StallingQueue {
    inner: Arc<dyn ReceivingQueue>,
    pass: AtomicUsize,
}

#[async_trait]
impl DeliveryQueue for StallingQueue {
    async fn enqueue(&self, messages: &[DeliveryMessage]) -> Result<(), QueueError> {
        let left = self
            .pass
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if left.is_err() {
            return std::future::pending().await;
        }
        self.inner.enqueue(messages).await
    }

    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.inner.retry_after(receipt, delay).await
    }
}

struct Fixture {
    store: Arc<dyn Store>,
    queue: Arc<dyn ReceivingQueue>,
    tenant: TenantId,
    endpoints: BTreeSet<EndpointId>,
}

impl Fixture {
    /// A tenant with `n` endpoints subscribed to `order.*`.
    async fn new(backend: &dyn TestBackend, n: usize) -> Self {
        let store = backend.store().await;
        courier_testkit::ensure_event_type(&*store, "order.created").await;
        let tenant = unique_tenant();
        let endpoints = futures::stream::iter(0..n)
            .map(|_| {
                let (store, ep) = (
                    store.clone(),
                    courier_testkit::endpoint(&tenant, &["order.*"]),
                );
                async move {
                    store.create_endpoint(&ep).await.unwrap();
                    ep.id
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        Self {
            store,
            queue: backend.queue().await,
            tenant,
            endpoints,
        }
    }

    fn intake(&self, queue: Arc<dyn DeliveryQueue>) -> Arc<Intake> {
        Arc::new(Intake::new(self.store.clone(), queue, Settings::default()))
    }

    /// The admin token's check, and tenant credentials in the fixture's store.
    fn credentials(&self) -> Credentials {
        Credentials::new(AdminAuth::from_token(TOKEN), self.store.clone())
    }

    fn request(id: &str) -> PublishRequest {
        PublishRequest {
            id: Some(id.to_owned()),
            event_type: "order.created".into(),
            data: RawValue::from_string(r#"{"order":1}"#.into()).unwrap(),
        }
    }

    /// Every message in the queue (deleting them).
    async fn drain(&self) -> Vec<DeliveryMessage> {
        courier_testkit::drain_messages(&*self.queue).await
    }

    /// The distinct message ids queued per endpoint, with their copies.
    fn ids_per_endpoint(messages: &[DeliveryMessage]) -> BTreeMap<EndpointId, BTreeSet<MessageId>> {
        let mut ids: BTreeMap<EndpointId, BTreeSet<MessageId>> = BTreeMap::new();
        for m in messages {
            ids.entry(m.endpoint_id).or_default().insert(m.message_id);
        }
        ids
    }
}

fn stop_of(err: &PublishError) -> Option<&FanOutStop> {
    match err.root() {
        PublishError::FanOutIncomplete(stop) => Some(stop),
        _ => None,
    }
}

/// 250 endpoints with no time left: each try sends one page of 100, records
/// where it stopped, and the producer's next try continues there, so every
/// endpoint is enqueued exactly once, under its deterministic id.
pub async fn a_fan_out_stopped_at_its_deadline_resumes_where_it_stopped(b: &dyn TestBackend) {
    let f = Fixture::new(b, 2 * PAGE + 50).await;
    let intake = f.intake(f.queue.clone());
    let mut answers = Vec::new();
    for _ in 0..3 {
        let event = intake
            .prepare(&f.tenant, Fixture::request("resume-1"))
            .await
            .unwrap();
        answers.push(intake.accept(event, Instant::now()).await);
    }
    for (i, answer) in answers[..2].iter().enumerate() {
        let err = answer.as_ref().unwrap_err();
        assert!(
            matches!(stop_of(err), Some(FanOutStop::Deadline)),
            "try {i}: {err}"
        );
        assert!(err.to_string().starts_with("event resume-1: "), "{err}");
    }
    let done = answers[2].as_ref().unwrap();
    assert_eq!((done.endpoints, done.duplicate), (50, false));

    let messages = f.drain().await;
    assert_eq!(
        messages.len(),
        f.endpoints.len(),
        "each endpoint exactly once"
    );
    let ids = Fixture::ids_per_endpoint(&messages);
    assert_eq!(ids.keys().copied().collect::<BTreeSet<_>>(), f.endpoints);
    let stored = f
        .store
        .event(&f.tenant, &"resume-1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    for m in &messages {
        let expected = MessageId::for_delivery(
            &f.tenant,
            &stored.id,
            stored.created_at,
            m.endpoint_id,
            Trigger::Event,
        );
        assert_eq!(m.message_id, expected);
        assert_eq!(m.event, stored);
    }
    // Finished: a fourth try is a duplicate and queues nothing.
    let again = intake
        .publish(&f.tenant, Fixture::request("resume-1"))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert!(f.drain().await.is_empty());
}

/// A fan-out that dies after 3 batches (no release, lease held): the
/// producer's retry within the lease is told to retry, naming the event;
/// once the lease has run out the retry fans out from the start. Endpoints
/// the dead try reached are queued twice, but under one message id, so
/// each endpoint has exactly one delivery.
pub async fn a_killed_fan_out_retried_by_the_producer_gives_one_delivery_per_endpoint(
    b: &dyn TestBackend,
) {
    let f = Fixture::new(b, 45).await;
    let stalling = Arc::new(StallingQueue {
        inner: f.queue.clone(),
        pass: AtomicUsize::new(3),
    });
    let dying = f.intake(stalling);
    let killed = tokio::time::timeout(
        Duration::from_secs(2),
        dying.publish(&f.tenant, Fixture::request("killed-1")),
    )
    .await;
    assert!(killed.is_err(), "the fan-out was meant to hang: {killed:?}");
    let started = Instant::now();

    let intake = f.intake(f.queue.clone());
    let app = router(intake.clone(), f.credentials(), 256 * 1024);
    let post = || async {
        let body = r#"{"id":"killed-1","type":"order.created","data":{"order":1}}"#;
        let request = Request::post(format!("/v1/tenants/{}/events", f.tenant))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::from(body))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice::<Value>(&bytes).unwrap())
    };
    // Within the lease another request may not fan out: 503, naming the id.
    let event = intake
        .prepare(&f.tenant, Fixture::request("killed-1"))
        .await
        .unwrap();
    let busy = intake.accept(event, Instant::now()).await.unwrap_err();
    assert!(matches!(stop_of(&busy), Some(FanOutStop::Busy)), "{busy}");

    tokio::time::sleep(FAN_OUT_LEASE.saturating_sub(started.elapsed())).await;
    let (status, json) = post().await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(json["endpoints"], 45);

    let messages = f.drain().await;
    assert_eq!(messages.len(), 45 + 30, "30 copies from the killed try");
    let ids = Fixture::ids_per_endpoint(&messages);
    assert_eq!(ids.keys().copied().collect::<BTreeSet<_>>(), f.endpoints);
    for (ep, ids) in &ids {
        assert_eq!(ids.len(), 1, "endpoint {ep} has deliveries {ids:?}");
    }
}

/// Twenty concurrent publishes of one id: one fans out, the others wait for
/// it and answer `duplicate: true`; each endpoint is queued exactly once.
pub async fn concurrent_publishes_of_one_id_fan_out_once(b: &dyn TestBackend) {
    let f = Fixture::new(b, 30).await;
    let intake = f.intake(f.queue.clone());
    let app = router(intake, f.credentials(), 256 * 1024);
    let body = r#"{"id":"together-1","type":"order.created","data":{"order":1}}"#;
    let answers = futures::future::join_all((0..20).map(|_| {
        let request = Request::post(format!("/v1/tenants/{}/events", f.tenant))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::from(body))
            .unwrap();
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    }))
    .await;
    let accepted: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::ACCEPTED)
        .map(|(_, j)| j)
        .collect();
    assert_eq!(accepted.len(), 1, "{answers:?}");
    assert_eq!(accepted[0]["endpoints"], 30);
    for (status, json) in &answers {
        if *status != StatusCode::ACCEPTED {
            assert_eq!(*status, StatusCode::OK, "{json}");
            assert_eq!(json["duplicate"], true, "{json}");
            assert_eq!(json["id"], "together-1");
        }
    }
    let messages = f.drain().await;
    let mut per_endpoint: BTreeMap<EndpointId, usize> = BTreeMap::new();
    for m in &messages {
        *per_endpoint.entry(m.endpoint_id).or_default() += 1;
    }
    assert_eq!(
        per_endpoint.keys().copied().collect::<BTreeSet<_>>(),
        f.endpoints
    );
    assert!(per_endpoint.values().all(|n| *n == 1), "{per_endpoint:?}");
}

courier_testkit::backend_tests!(
    a_fan_out_stopped_at_its_deadline_resumes_where_it_stopped,
    a_killed_fan_out_retried_by_the_producer_gives_one_delivery_per_endpoint,
    concurrent_publishes_of_one_id_fan_out_once,
);
