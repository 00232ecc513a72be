//! Bad input: each case gets the right status, a problem body with a
//! detail that says what is wrong, and nothing is written.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use courier::ports::Store;
use serde_json::{Value, json};

use crate::common::{ADMIN_TOKEN, Api, Reply, endpoint_path, endpoints_path, unique_tenant};

courier_testkit::backend_tests!(store:
    bad_creates_are_refused_and_write_nothing,
    bad_patches_are_refused_and_change_nothing,
    bad_rotations_are_refused_and_keep_the_secret,
    unknown_routes_and_methods_are_problems_too,
);

/// Targets that must be refused while private targets are not allowed.
const PRIVATE_URLS: &[&str] = &[
    "https://localhost/hook",
    "https://127.0.0.1/hook",
    "https://10.0.0.1/hook",
    "https://[::1]/hook",
    "https://169.254.169.254/latest/meta-data/",
];

/// One bad request: what is sent and what must come back.
pub struct Case {
    name: String,
    authorization: Option<String>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    field: Option<&'static str>,
    /// Words the detail must contain (lower case).
    detail: &'static str,
}

impl Case {
    /// A JSON body that fails validation of `field`.
    pub fn invalid(name: &str, body: Value, field: &'static str, detail: &'static str) -> Self {
        Self {
            name: name.to_owned(),
            authorization: Some(format!("Bearer {ADMIN_TOKEN}")),
            content_type: Some("application/json"),
            body: body.to_string().into_bytes(),
            status: 422,
            field: Some(field),
            detail,
        }
    }

    /// A JSON body that the current state refuses (409, no field).
    pub fn conflict(name: &str, body: Value, detail: &'static str) -> Self {
        Self {
            status: 409,
            field: None,
            ..Self::invalid(name, body, "", detail)
        }
    }

    /// A body answered with `status` and no field.
    pub fn raw(name: &str, body: &[u8], status: u16, detail: &'static str) -> Self {
        Self {
            body: body.to_vec(),
            status,
            field: None,
            ..Self::invalid(name, json!(null), "", detail)
        }
    }

    /// A request without a body (a read, or a POST that needs none).
    pub fn bodiless(
        name: &str,
        status: u16,
        field: Option<&'static str>,
        detail: &'static str,
    ) -> Self {
        Self {
            content_type: None,
            body: vec![],
            status,
            field,
            ..Self::invalid(name, json!(null), "", detail)
        }
    }

    /// The same request with another `Authorization` header (or none).
    pub fn authorization(self, value: Option<&str>) -> Self {
        Self {
            authorization: value.map(str::to_owned),
            ..self
        }
    }

    /// The same request with another `content-type` (or none).
    pub fn content_type(self, value: Option<&'static str>) -> Self {
        Self {
            content_type: value,
            ..self
        }
    }

    pub async fn send(&self, api: &Api, method: Method, path: &str) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(auth) = &self.authorization {
            request = request.header("authorization", auth);
        }
        if let Some(content_type) = self.content_type {
            request = request.header("content-type", content_type);
        }
        let reply = api
            .send(request.body(Body::from(self.body.clone())).unwrap())
            .await;
        assert_eq!(
            reply.status.as_u16(),
            self.status,
            "{}: {reply:?}",
            self.name
        );
        reply.assert_problem(self.status, self.field);
        assert!(
            reply.detail().to_lowercase().contains(self.detail),
            "{}: detail {:?} should mention {:?}",
            self.name,
            reply.detail(),
            self.detail
        );
        if self.status == 401 {
            assert_eq!(reply.headers["www-authenticate"], "Bearer", "{}", self.name);
        }
        reply
    }
}

fn with_url(url: &str) -> Value {
    json!({ "url": url, "eventTypes": ["*"] })
}

fn create_cases() -> Vec<Case> {
    let valid = serde_json::to_vec(&with_url("https://example.com/hook")).unwrap();
    let unauthorized =
        |name, auth, detail| Case::raw(name, &valid, 401, detail).authorization(auth);
    let mut cases = vec![
        unauthorized("no token", None, "authorization"),
        unauthorized(
            "wrong token",
            Some("Bearer wrong-token"),
            "not the admin token",
        ),
        unauthorized("token without Bearer", Some(ADMIN_TOKEN), "bearer"),
        Case::raw("malformed JSON", b"{\"url\": ", 400, "not valid json"),
        Case::raw("single quotes", b"{\"url\": 'x'}", 400, "not valid json"),
        Case::raw(
            "array body",
            b"[\"https://example.com\", [\"*\"]]",
            400,
            "json object",
        ),
        Case::raw("empty body", b"", 400, "empty"),
        Case::raw("no content type", &valid, 415, "application/json").content_type(None),
        Case::raw("text body", &valid, 415, "application/json").content_type(Some("text/plain")),
        Case::invalid(
            "url not a string",
            json!({ "url": 5, "eventTypes": ["*"] }),
            "url",
            "invalid type",
        ),
        Case::invalid(
            "eventTypes not a list",
            json!({ "url": "https://example.com", "eventTypes": "*" }),
            "eventTypes",
            "invalid type",
        ),
        Case::invalid(
            "eventTypes item not a string",
            json!({ "url": "https://example.com", "eventTypes": ["*", 7] }),
            "eventTypes[1]",
            "invalid type",
        ),
        Case::invalid(
            "missing url",
            json!({ "eventTypes": ["*"] }),
            "url",
            "missing field",
        ),
        Case::invalid(
            "unknown field",
            json!({ "url": "https://example.com", "eventTypes": ["*"], "secret": "whsec_x" }),
            "secret",
            "unknown field",
        ),
        Case::invalid(
            "unknown payload format",
            json!({ "url": "https://example.com", "eventTypes": ["*"], "payloadFormat": "xml" }),
            "payloadFormat",
            "unknown variant",
        ),
        Case::invalid(
            "description too long",
            json!({ "url": "https://example.com", "eventTypes": ["*"], "description": "d".repeat(1025) }),
            "description",
            "at most 1024",
        ),
        Case::invalid(
            "not a url",
            with_url("example.com/hook"),
            "url",
            "not a valid url",
        ),
        Case::invalid(
            "http url",
            with_url("http://example.com/hook"),
            "url",
            "https",
        ),
        Case::invalid(
            "credentials in url",
            with_url("https://u:p@example.com/"),
            "url",
            "credentials",
        ),
        Case::conflict(
            "unknown event type",
            json!({ "url": "https://example.com", "eventTypes": ["booking.createdd"] }),
            "not in the catalogue",
        ),
        Case::invalid(
            "empty eventTypes",
            json!({ "url": "https://example.com", "eventTypes": [] }),
            "eventTypes",
            "must not be empty",
        ),
    ];
    for url in PRIVATE_URLS {
        cases.push(Case::invalid(
            url,
            with_url(url),
            "url",
            "private, loopback, link-local or metadata",
        ));
    }
    let oversized = json!({ "url": "https://example.com", "eventTypes": ["*"], "description": "d".repeat(300 * 1024) });
    cases.push(Case::raw(
        "oversized body",
        oversized.to_string().as_bytes(),
        413,
        "larger than 262144 bytes",
    ));
    cases
}

async fn bad_creates_are_refused_and_write_nothing(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let tenant = unique_tenant();
    for case in create_cases() {
        case.send(&api, Method::POST, &endpoints_path(&tenant))
            .await;
        assert!(
            api.endpoint_ids(&tenant).await.is_empty(),
            "{} wrote an endpoint",
            case.name
        );
    }
    Case::invalid(
        "malformed tenant id",
        with_url("https://example.com/"),
        "tenantId",
        "tenant id",
    )
    .send(&api, Method::POST, &endpoints_path("bad.tenant"))
    .await;
}

async fn bad_patches_are_refused_and_change_nothing(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let tenant = unique_tenant();
    let id = api.create_endpoint_id(&tenant).await;
    let path = endpoint_path(&tenant, &id);
    let before = api.get(&path).await.body;
    let cases = [
        Case::invalid(
            "enabled not a bool",
            json!({ "enabled": "yes" }),
            "enabled",
            "invalid type",
        ),
        Case::invalid(
            "unknown field",
            json!({ "disabledReason": null }),
            "disabledReason",
            "unknown field",
        ),
        Case::invalid(
            "private url",
            json!({ "description": "new", "url": "https://10.0.0.1/" }),
            "url",
            "private",
        ),
        Case::invalid(
            "empty eventTypes",
            json!({ "eventTypes": [] }),
            "eventTypes",
            "must not be empty",
        ),
        Case::raw("malformed JSON", b"{", 400, "not valid json"),
        Case::raw("no token", b"{\"enabled\": false}", 401, "authorization").authorization(None),
    ];
    for case in cases {
        case.send(&api, Method::PATCH, &path).await;
        assert_eq!(
            api.get(&path).await.body,
            before,
            "{} changed the endpoint",
            case.name
        );
    }
}

async fn bad_rotations_are_refused_and_keep_the_secret(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let tenant = unique_tenant();
    let id = api.create_endpoint_id(&tenant).await;
    let path = endpoint_path(&tenant, &id);
    let secret = api.get(&format!("{path}/secret")).await.body;
    let cases = [
        Case::invalid(
            "malformed secret",
            json!({ "secret": "sk_live_123" }),
            "secret",
            "whsec_",
        ),
        Case::invalid(
            "grace too long",
            json!({ "gracePeriodSeconds": 604801 }),
            "gracePeriodSeconds",
            "604800",
        ),
        Case::invalid(
            "fractional grace",
            json!({ "gracePeriodSeconds": 1.5 }),
            "gracePeriodSeconds",
            "whole number",
        ),
        Case::invalid(
            "negative grace",
            json!({ "gracePeriodSeconds": -1 }),
            "gracePeriodSeconds",
            "invalid value",
        ),
        Case::conflict(
            "same secret",
            json!({ "secret": secret["secret"] }),
            "already",
        ),
        Case::raw("no token", b"", 401, "authorization").authorization(None),
    ];
    for case in cases {
        case.send(&api, Method::POST, &format!("{path}/secret/rotate"))
            .await;
        assert_eq!(
            api.get(&format!("{path}/secret")).await.body,
            secret,
            "{}",
            case.name
        );
    }
}

async fn unknown_routes_and_methods_are_problems_too(store: Arc<dyn Store>) {
    let api = Api::new(store);
    api.get("/v1/nope").await.assert_problem(404, None);
    api.get("/").await.assert_problem(404, None);
    let reply = api
        .call(Method::PUT, "/v1/event-types", Some(json!({})))
        .await;
    reply.assert_problem(405, None);
    let allow = reply.headers["allow"].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let endpoint = endpoint_path(&unique_tenant(), "ep_x");
    api.call(Method::POST, &endpoint, Some(json!({})))
        .await
        .assert_problem(405, None);
    // Without the token nothing about the API is revealed, not even its routes.
    let reply = api
        .send(Request::get("/v1/nope").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}
