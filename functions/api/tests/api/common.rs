//! Drives the router in-process: requests in, status + headers + JSON out.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use courier::attempt::{AttemptStatus, DeliveryAttempt, ErrorClass};
use courier::config::Settings;
use courier::embedded::{EmbeddedQueue, QueueSettings};
use courier::event::Event;
use courier::ids::{DeliveryId, MessageId};
use courier::message::{DeliveryMessage, Trigger};
use courier::ports::{DeliveryQueue, Store};
use courier_api::auth::AdminAuth;
use courier_api::{ApiState, router};
use courier_testkit::ReceivingQueue;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tower::ServiceExt;

/// The admin token of the tests and of the samples in `events/`.
pub const ADMIN_TOKEN: &str = "local-admin-token";
/// `printf %s local-admin-token | sha256sum`, as a deployment configures it.
pub const ADMIN_TOKEN_SHA256: &str =
    "bc32a9a66697ce5242e5517f4a801fa2a3dccf9960459f666fec8a166289401e";

/// A tenant id no other test uses, as the API's paths spell it.
pub fn unique_tenant() -> String {
    courier_testkit::unique_tenant().to_string()
}

/// `t` as RFC 3339, as the API's time fields and parameters take it.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

/// An event-type name no other test uses (the catalogue is global).
pub fn unique_type(suffix: &str) -> String {
    format!("t{}.{suffix}", ulid::Ulid::new().to_string().to_lowercase())
}

/// The API's state on `store`, with the settings of a real deployment
/// (private targets refused).
pub fn state(store: Arc<dyn Store>) -> ApiState {
    state_with(store, embedded_queue(), Settings::default())
}

/// The API's state on `store` and `queue` with `settings`.
pub fn state_with(
    store: Arc<dyn Store>,
    queue: Arc<dyn DeliveryQueue>,
    settings: Settings,
) -> ApiState {
    ApiState::new(
        store,
        queue,
        settings,
        AdminAuth::from_sha256_hex(ADMIN_TOKEN_SHA256).expect("valid digest"),
    )
}

fn embedded_queue() -> Arc<EmbeddedQueue> {
    Arc::new(EmbeddedQueue::new(QueueSettings::default()))
}

/// A response, its body parsed as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The content type, or "".
    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a problem answer with `status` and, on 422, `field`.
    pub fn assert_problem(&self, status: u16, field: Option<&str>) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.content_type(), "application/problem+json", "{self:?}");
        assert_eq!(self.body["status"], status, "{self:?}");
        assert!(self.body["type"].is_string(), "{self:?}");
        assert!(self.body["title"].is_string(), "{self:?}");
        let detail = self.body["detail"].as_str().unwrap_or_default();
        assert!(detail.len() > 10, "a detail a person understands: {self:?}");
        assert_eq!(self.body["field"].as_str(), field, "{self:?}");
        self
    }

    /// The problem's detail.
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }
}

/// The router on one store and queue, called in-process.
#[derive(Clone)]
pub struct Api {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn ReceivingQueue>,
}

impl Api {
    /// On `store` and an embedded queue, private targets refused.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with(store, embedded_queue(), Settings::default())
    }

    /// On `store` and `queue` with `settings`.
    pub fn with(store: Arc<dyn Store>, queue: Arc<dyn ReceivingQueue>, settings: Settings) -> Self {
        Self {
            router: router(state_with(store.clone(), queue.clone(), settings)),
            store,
            queue,
        }
    }

    /// Takes the messages waiting in the queue now (received and deleted).
    pub async fn take_queued(&self) -> Vec<DeliveryMessage> {
        let mut taken = Vec::new();
        loop {
            let batch = self
                .queue
                .receive(10, std::time::Duration::ZERO)
                .await
                .expect("receive");
            if batch.is_empty() {
                return taken;
            }
            for m in batch {
                self.queue.delete(&m.receipt).await.expect("delete");
                taken.push(DeliveryMessage::from_json(&m.body).expect("a delivery message"));
            }
        }
    }

    /// Sends a request as it is.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// An authenticated request, with a JSON body when given.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(ADMIN_TOKEN, method, path, body).await
    }

    /// A request with `token` as its bearer credential.
    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("request")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// Adds `name` to the catalogue.
    pub async fn add_event_type(&self, name: &str) {
        let reply = self.post("/v1/event-types", json!({ "name": name })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    }

    /// Creates an endpoint of `tenant` subscribed to `*`; returns the 201 body.
    pub async fn create_endpoint(&self, tenant: &str) -> Value {
        let reply = self
            .post(
                &endpoints_path(tenant),
                json!({ "url": "https://example.com/hook", "eventTypes": ["*"] }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body
    }

    /// Creates an endpoint of `tenant` subscribed to `*`; returns its id.
    pub async fn create_endpoint_id(&self, tenant: &str) -> String {
        self.create_endpoint(tenant).await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// The ids of a tenant's endpoints (first page of 100).
    pub async fn endpoint_ids(&self, tenant: &str) -> Vec<String> {
        let reply = self
            .get(&format!("{}?limit=100", endpoints_path(tenant)))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|ep| ep["id"].as_str().expect("id").to_owned())
            .collect()
    }
}

pub fn endpoints_path(tenant: &str) -> String {
    format!("/v1/tenants/{tenant}/endpoints")
}

pub fn endpoint_path(tenant: &str, id: &str) -> String {
    format!("/v1/tenants/{tenant}/endpoints/{id}")
}

pub fn deliveries_path(tenant: &str, endpoint: &str) -> String {
    format!("{}/deliveries", endpoint_path(tenant, endpoint))
}

/// A failed first attempt (503) of a `booking.created` event, made at `at`
/// and kept for 7 days from then, with an id that sorts by `at` as the
/// delivery function's ids do. Tests change the fields they care about.
pub fn logged_attempt(
    tenant: &str,
    endpoint: &str,
    event_id: &str,
    at: OffsetDateTime,
) -> DeliveryAttempt {
    let millis = (at.unix_timestamp_nanos() / 1_000_000) as u64;
    DeliveryAttempt {
        id: DeliveryId::from_ulid(ulid::Ulid::from_parts(millis, ulid::Ulid::new().random())),
        tenant_id: tenant.parse().unwrap(),
        endpoint_id: endpoint.parse().unwrap(),
        event_id: event_id.parse().unwrap(),
        event_type: "booking.created".parse().unwrap(),
        message_id: MessageId::generate(),
        attempt: 1,
        trigger: Trigger::Event,
        status: AttemptStatus::Failed,
        url: "https://example.com/hook".into(),
        http_status: Some(503),
        response_time_ms: Some(120),
        error_class: Some(ErrorClass::ServerError),
        error: Some("HTTP 503".into()),
        response_body: Some("busy".into()),
        request_headers: vec![
            ("content-type".into(), "application/json".into()),
            ("webhook-id".into(), event_id.into()),
            ("webhook-signature".into(), "v1,<redacted>".into()),
        ]
        .into(),
        created_at: at,
        next_attempt_at: None,
        expires_at: at + time::Duration::days(7),
        probe: false,
    }
}

/// Stores a `booking.created` event of `tenant` until `expires_at`.
pub async fn seed_event(store: &dyn Store, tenant: &str, expires_at: OffsetDateTime) -> Event {
    let event = courier_testkit::event(
        &tenant.parse().unwrap(),
        "booking.created",
        r#"{"bookingId":"bk_1","n":[1,2]}"#,
    );
    store.store_event(&event, expires_at).await.unwrap();
    event
}

/// Logs one attempt of a freshly stored event for `endpoint`; returns the
/// delivery id.
pub async fn seed_delivery(store: &dyn Store, tenant: &str, endpoint: &str) -> String {
    let now = OffsetDateTime::now_utc();
    let event = seed_event(store, tenant, now + time::Duration::days(7)).await;
    let attempt = logged_attempt(tenant, endpoint, event.id.as_str(), now);
    store
        .record_attempts(std::slice::from_ref(&attempt))
        .await
        .unwrap();
    attempt.id.to_string()
}
