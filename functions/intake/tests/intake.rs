//! Intake on both backends: fan-out to exactly the subscribed, enabled
//! endpoints, idempotency, recovery from a partial enqueue failure, the
//! bad-input table, the direct-invoke door, and the producer's `data` bytes
//! kept through every door.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use courier::config::Settings;
use courier::event::Event;
use courier::ids::{EndpointId, TenantId};
use courier::message::DeliveryMessage;
use courier::ports::Store;
use courier_http::access::Credentials;
use courier_http::auth::AdminAuth;
use courier_intake::{Intake, PublishError, handle_direct, handle_invocation, router};
use courier_testkit::{PartlyFailingQueue, ReceivingQueue, TestBackend, unique_tenant};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::Value;
use serde_json::value::RawValue;
use tower::ServiceExt;

const TOKEN: &str = "intake-test-token";

struct Fixture {
    store: Arc<dyn Store>,
    queue: Arc<PartlyFailingQueue>,
    raw_queue: Arc<dyn ReceivingQueue>,
    intake: Arc<Intake>,
    tenant: TenantId,
}

impl Fixture {
    async fn new(backend: &dyn TestBackend, settings: Settings) -> Self {
        let store = backend.store().await;
        let raw_queue = backend.queue().await;
        let queue = Arc::new(PartlyFailingQueue::new(raw_queue.clone()));
        for name in ["booking.created", "order.created"] {
            courier_testkit::ensure_event_type(&*store, name).await;
        }
        let intake = Arc::new(Intake::new(store.clone(), queue.clone(), settings));
        Self {
            store,
            queue,
            raw_queue,
            intake,
            tenant: unique_tenant(),
        }
    }

    async fn endpoint(&self, tenant: &TenantId, filters: &[&str], enabled: bool) -> EndpointId {
        let mut ep = courier_testkit::endpoint(tenant, filters);
        ep.enabled = enabled;
        self.store.create_endpoint(&ep).await.unwrap();
        ep.id
    }

    /// Every message in the queue (deleting them).
    async fn drain_messages(&self) -> Vec<DeliveryMessage> {
        courier_testkit::drain_messages(&*self.raw_queue).await
    }

    /// Every message in the queue, counted by endpoint (deleting them).
    async fn drain(&self) -> BTreeMap<EndpointId, usize> {
        let mut seen = BTreeMap::new();
        for message in self.drain_messages().await {
            *seen.entry(message.endpoint_id).or_default() += 1;
        }
        seen
    }

    /// The stored event of the fixture's tenant with this id.
    async fn stored(&self, id: &str) -> Option<Event> {
        self.store
            .event(&self.tenant, &id.parse().unwrap())
            .await
            .unwrap()
    }

    fn app(&self) -> Router {
        router(
            self.intake.clone(),
            Credentials::new(AdminAuth::from_token(TOKEN), self.store.clone()),
            Settings::default().max_payload_bytes,
        )
    }

    /// Invokes the Lambda entry with `payload` read as the runtime reads it.
    async fn invoke(&self, payload: &str) -> Result<Value, Diagnostic> {
        let payload: Box<RawValue> = serde_json::from_str(payload).unwrap();
        handle_invocation(
            &self.intake,
            self.app(),
            LambdaEvent::new(payload, Context::default()),
        )
        .await
    }

    async fn post(
        &self,
        path_tenant: &str,
        body: &str,
        token: Option<&str>,
    ) -> (StatusCode, Value, String) {
        let mut request = Request::post(format!("/v1/tenants/{path_tenant}/events"))
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = self
            .app()
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
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            content_type,
        )
    }
}

pub async fn fan_out_reaches_exactly_the_subscribed_enabled_endpoints_once(b: &dyn TestBackend) {
    let f = Fixture::new(b, Settings::default()).await;
    let other = unique_tenant();
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
    f.queue.fail_next_enqueue();
    let body = r#"{"id":"evt-retry-1","type":"booking.created","data":{}}"#;
    let (status, json, content_type) = f.post(f.tenant.as_str(), body, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(content_type, "application/problem+json");
    assert!(
        json["detail"].as_str().unwrap().contains("evt-retry-1"),
        "{json}"
    );
    assert_eq!(json["eventId"], "evt-retry-1", "{json}");

    // Without an id of its own, the producer learns the generated one.
    f.queue.fail_next_enqueue();
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
    assert_eq!(json["eventId"], generated.as_str(), "{json}");
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

/// One refused request and the answer it must get.
struct Refused {
    name: &'static str,
    /// The `{tenantId}` of the path.
    tenant: String,
    token: Option<&'static str>,
    body: String,
    status: StatusCode,
    /// The problem's `field`: set on every 422, absent otherwise.
    field: Option<&'static str>,
    /// The event id to look up in the store afterwards; `None` only where
    /// the id or the tenant itself does not parse, so nothing can be stored
    /// under it.
    id: Option<&'static str>,
}

pub async fn bad_input_is_refused_and_nothing_is_stored_or_enqueued(b: &dyn TestBackend) {
    let settings = Settings {
        max_payload_bytes: 2048,
        ..Settings::default()
    };
    let f = Fixture::new(b, settings).await;
    f.endpoint(&f.tenant, &["*"], true).await;
    let case = |name, id, body: &str, status, field| Refused {
        name,
        tenant: f.tenant.to_string(),
        token: Some(TOKEN),
        body: body.to_owned(),
        status,
        field,
        id,
    };
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    let big = format!(
        r#"{{"id":"bad-big","type":"booking.created","data":{{"blob":"{}"}}}}"#,
        "x".repeat(3000)
    );
    let cases = [
        // Well formed, refused by the catalogue's state.
        case(
            "unknown type",
            Some("bad-1"),
            r#"{"id":"bad-1","type":"booking.exploded","data":{}}"#,
            StatusCode::CONFLICT,
            None,
        ),
        // Reserved for the operational webhooks, though in the catalogue.
        case(
            "built-in type",
            Some("bad-ops"),
            r#"{"id":"bad-ops","type":"webhooks.endpoint.disabled","data":{}}"#,
            invalid,
            Some("type"),
        ),
        case(
            "malformed type",
            Some("bad-2"),
            r#"{"id":"bad-2","type":"booking..x","data":{}}"#,
            invalid,
            Some("type"),
        ),
        case(
            "non-object data",
            Some("bad-3"),
            r#"{"id":"bad-3","type":"booking.created","data":[1,2]}"#,
            invalid,
            Some("data"),
        ),
        case(
            "string data",
            Some("bad-4"),
            r#"{"id":"bad-4","type":"booking.created","data":"x"}"#,
            invalid,
            Some("data"),
        ),
        case(
            "missing data",
            Some("bad-5"),
            r#"{"id":"bad-5","type":"booking.created"}"#,
            invalid,
            Some("data"),
        ),
        case(
            "bad id",
            None,
            r#"{"id":"has.dot","type":"booking.created","data":{}}"#,
            invalid,
            Some("id"),
        ),
        case(
            "oversize",
            Some("bad-big"),
            &big,
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
        Refused {
            token: None,
            ..case(
                "missing auth",
                Some("bad-6"),
                r#"{"id":"bad-6","type":"booking.created","data":{}}"#,
                StatusCode::UNAUTHORIZED,
                None,
            )
        },
        Refused {
            token: Some("nope"),
            ..case(
                "wrong token",
                Some("bad-7"),
                r#"{"id":"bad-7","type":"booking.created","data":{}}"#,
                StatusCode::UNAUTHORIZED,
                None,
            )
        },
        case(
            "malformed json",
            Some("bad-8"),
            r#"{"id":"bad-8","type":"#,
            StatusCode::BAD_REQUEST,
            None,
        ),
        case(
            "unknown field",
            Some("bad-9"),
            r#"{"id":"bad-9","type":"booking.created","data":{},"extra":1}"#,
            invalid,
            Some("extra"),
        ),
        case(
            "SQS-refused character",
            Some("bad-10"),
            "{\"id\":\"bad-10\",\"type\":\"booking.created\",\"data\":{\"x\":\"\u{FFFF}\"}}",
            invalid,
            Some("data"),
        ),
        Refused {
            tenant: "bad.tenant".into(),
            ..case(
                "malformed tenant",
                None,
                r#"{"id":"bad-11","type":"booking.created","data":{}}"#,
                invalid,
                Some("tenantId"),
            )
        },
    ];
    for c in cases {
        let name = c.name;
        let (status, json, content_type) = f.post(&c.tenant, &c.body, c.token).await;
        assert_eq!(status, c.status, "{name}: {json}");
        assert_eq!(content_type, "application/problem+json", "{name}");
        assert_eq!(json["status"], c.status.as_u16(), "{name}: {json}");
        assert_eq!(
            json.get("field").and_then(Value::as_str),
            c.field,
            "{name}: {json}"
        );
        let detail = json["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{name}: no detail");
        if c.status == StatusCode::PAYLOAD_TOO_LARGE {
            assert!(detail.contains("envelope"), "{name}: {json}");
        }
        if let Some(id) = c.id {
            assert!(f.stored(id).await.is_none(), "{name}: {id} was stored");
        }
    }
    // Event ids name the cases: one found here was enqueued although refused.
    let queued: Vec<String> = f
        .drain_messages()
        .await
        .iter()
        .map(|m| m.event.id.to_string())
        .collect();
    assert!(
        queued.is_empty(),
        "refused events were enqueued: {queued:?}"
    );
}

/// A fan-out deadline no test reaches.
fn soon() -> Instant {
    Instant::now() + courier_intake::FAN_OUT_BUDGET
}

/// The field and detail of a refused direct invocation.
fn refusal(result: Result<Value, PublishError>) -> (&'static str, String) {
    match result {
        Err(PublishError::Invalid { field, detail }) => (field, detail),
        other => panic!("expected a refusal naming a field, got {other:?}"),
    }
}

pub async fn direct_invocations_accept_one_event_or_a_list(b: &dyn TestBackend) {
    let f = Fixture::new(b, Settings::default()).await;
    let ep = f.endpoint(&f.tenant, &["order.*"], true).await;
    let one = format!(
        r#"{{"tenantId":"{}","id":"d-1","type":"order.created","data":{{"n":1}}}}"#,
        f.tenant
    );
    let result = handle_direct(&f.intake, &one, soon()).await.unwrap();
    assert_eq!(result["id"], "d-1");
    assert_eq!(result["endpoints"], 1);
    let list = format!(
        r#"[{{"tenantId":"{t}","type":"order.created","data":{{}}}},{{"tenantId":"{t}","id":"d-1","type":"order.created","data":{{"n":1}}}}]"#,
        t = f.tenant
    );
    let result = handle_direct(&f.intake, &list, soon()).await.unwrap();
    assert_eq!(result[0]["endpoints"], 1);
    assert_eq!(result[1]["duplicate"], true);
    assert_eq!(f.drain().await, BTreeMap::from([(ep, 2)]));

    let missing = format!(r#"{{"tenantId":"{}","type":"order.created"}}"#, f.tenant);
    let (field, detail) = refusal(handle_direct(&f.intake, &missing, soon()).await);
    assert_eq!(field, "payload", "{detail}");
    assert!(detail.contains("missing field `data`"), "{detail}");

    // A list with one bad event stores none of them; the error names the
    // event by its place in the list.
    let mixed = format!(
        r#"[{{"tenantId":"{t}","id":"d-2","type":"order.created","data":{{}}}},{{"tenantId":"{t}","type":"order.nope","data":{{}}}}]"#,
        t = f.tenant
    );
    let (field, detail) = refusal(handle_direct(&f.intake, &mixed, soon()).await);
    assert_eq!(field, "type", "{detail}");
    assert!(
        detail.starts_with("event 1: ") && detail.contains("'order.nope' is not in the catalogue"),
        "{detail}"
    );
    assert!(f.stored("d-2").await.is_none(), "d-2 was stored");

    let bad_tenant = r#"{"tenantId":"a.b","id":"d-3","type":"order.created","data":{}}"#;
    let (field, detail) = refusal(handle_direct(&f.intake, bad_tenant, soon()).await);
    assert_eq!(field, "tenantId", "{detail}");
    assert!(
        detail.starts_with("event 0: ") && detail.contains("tenant id"),
        "{detail}"
    );

    // Through the Lambda entry a refusal is an `InvalidEvent` whose message
    // says what is wrong.
    let err = f.invoke(&mixed).await.unwrap_err();
    assert_eq!(err.error_type, "InvalidEvent", "{}", err.error_message);
    assert!(
        err.error_message
            .contains("event 1: event type 'order.nope'"),
        "{}",
        err.error_message
    );
    assert!(
        f.drain().await.is_empty(),
        "a refused invocation was enqueued"
    );
}

/// Key order, a number beyond 64 bits and a trailing zero: what a parse
/// into `serde_json::Value` and back would change.
const PRODUCER_DATA: &str = r#"{"b":1,"a":2,"n":123456789012345678901234567890,"f":1.10}"#;

pub async fn the_producers_data_bytes_reach_the_store_and_the_queue_unchanged(b: &dyn TestBackend) {
    let f = Fixture::new(b, Settings::default()).await;
    let ep = f.endpoint(&f.tenant, &["order.*"], true).await;
    let event =
        |id: &str| format!(r#"{{"id":"{id}","type":"order.created","data":{PRODUCER_DATA}}}"#);
    let direct = |id: &str| {
        format!(
            r#"{{"tenantId":"{}","id":"{id}","type":"order.created","data":{PRODUCER_DATA}}}"#,
            f.tenant
        )
    };

    let (status, json, _) = f
        .post(f.tenant.as_str(), &event("bytes-http"), Some(TOKEN))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");

    // The HTTP route as API Gateway hands it to the Lambda entry.
    let path = format!("/v1/tenants/{}/events", f.tenant);
    let gateway = serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /v1/tenants/{tenantId}/events",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "authorization": format!("Bearer {TOKEN}"),
            "content-type": "application/json",
        },
        "pathParameters": { "tenantId": f.tenant.as_str() },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "test",
            },
            "requestId": "bytes",
            "routeKey": "POST /v1/tenants/{tenantId}/events",
            "stage": "$default",
            "time": "23/Apr/2026:14:22:11 +0000",
            "timeEpoch": 1776954131823_u64,
        },
        "isBase64Encoded": false,
        "body": event("bytes-gateway"),
    });
    let response = f.invoke(&gateway.to_string()).await.unwrap();
    assert_eq!(response["statusCode"], 202, "{response}");

    let answer = f.invoke(&direct("bytes-direct")).await.unwrap();
    let accepted = serde_json::json!({"id": "bytes-direct", "endpoints": 1, "duplicate": false});
    assert_eq!(answer, accepted);
    let answer = f
        .invoke(&format!("[{}]", direct("bytes-direct-list")))
        .await
        .unwrap();
    assert_eq!(answer[0]["endpoints"], 1, "{answer}");

    let ids = [
        "bytes-http",
        "bytes-gateway",
        "bytes-direct",
        "bytes-direct-list",
    ];
    for id in ids {
        let stored = f
            .stored(id)
            .await
            .unwrap_or_else(|| panic!("{id} not stored"));
        assert_eq!(stored.data.get(), PRODUCER_DATA, "{id}: stored data");
    }
    let mut queued: Vec<(String, String)> = f
        .drain_messages()
        .await
        .into_iter()
        .map(|m| {
            assert_eq!(m.endpoint_id, ep);
            (m.event.id.to_string(), m.event.data.get().to_owned())
        })
        .collect();
    queued.sort();
    let mut expected: Vec<(String, String)> = ids
        .iter()
        .map(|id| (id.to_string(), PRODUCER_DATA.to_owned()))
        .collect();
    expected.sort();
    assert_eq!(queued, expected, "queued event data");
}

courier_testkit::backend_tests!(
    fan_out_reaches_exactly_the_subscribed_enabled_endpoints_once,
    a_partial_enqueue_failure_is_503_and_the_retry_misses_no_endpoint,
    bad_input_is_refused_and_nothing_is_stored_or_enqueued,
    direct_invocations_accept_one_event_or_a_list,
    the_producers_data_bytes_reach_the_store_and_the_queue_unchanged,
);
