//! Helpers shared by the end-to-end tests: HTTP calls to the api binary,
//! signature checks and the delivery log as the API shows it.

use std::time::Duration;

use courier::signing::{DEFAULT_TOLERANCE_SECS, Secret, verify};
use courier_e2e::{Batch, Stack};
use courier_testkit::RecordedRequest;
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// How long a message may take to come back: well under the queue's own
/// visibility timeout, so only the binary's `ChangeMessageVisibility` can
/// bring it back in time.
pub const RETRY_WITHIN: Duration = Duration::from_secs(12);

/// A tenant of its own for one test, as the API's paths spell it.
pub fn tenant() -> String {
    courier_testkit::unique_tenant().to_string()
}

/// `method path` on `function`'s URL, with the admin token and `body` as
/// JSON; panics unless the status is `expected`; the JSON answer (`null`
/// when there is none).
pub async fn call(
    stack: &Stack,
    method: Method,
    function: &str,
    path: &str,
    body: Option<Value>,
    expected: u16,
) -> Value {
    let mut request = stack.request(method.clone(), function, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, expected, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Publishes `event` for `tenant` over HTTP (intake's API Gateway door).
pub async fn publish(stack: &Stack, tenant: &str, event: Value) -> Value {
    let path = format!("/v1/tenants/{tenant}/events");
    call(stack, Method::POST, "intake", &path, Some(event), 202).await
}

/// Creates the event type over HTTP.
pub async fn create_event_type(stack: &Stack, name: &str) {
    let body = json!({"name": name, "description": "end-to-end"});
    call(
        stack,
        Method::POST,
        "api",
        "/v1/event-types",
        Some(body),
        201,
    )
    .await;
}

/// Creates an endpoint over HTTP; returns its id and secret.
pub async fn create_endpoint(stack: &Stack, tenant: &str, url: &str) -> (String, String) {
    let path = format!("/v1/tenants/{tenant}/endpoints");
    let body = json!({"url": url, "eventTypes": ["booking.*"]});
    let created = call(stack, Method::POST, "api", &path, Some(body), 201).await;
    let id = created["id"].as_str().expect("an id").to_owned();
    let secret = created["secret"].as_str().expect("a secret").to_owned();
    (id, secret)
}

/// Panics unless `delivery` handled `batch` without error, reported no batch
/// item failure and so had every record deleted; returns the `messageId`s
/// (ours, `msg_`) of the deliveries it acknowledged. `failures()` alone is
/// also empty when the invocation itself failed.
pub fn assert_all_acknowledged(batch: &Batch) -> Vec<String> {
    assert_eq!(
        batch.response,
        Ok(json!({"batchItemFailures": []})),
        "the invocation must succeed and report no failure"
    );
    let sqs_ids: Vec<&str> = batch
        .records
        .iter()
        .map(|r| r.message_id.as_str())
        .collect();
    assert!(!sqs_ids.is_empty());
    assert_eq!(batch.deleted, sqs_ids, "every record is acknowledged");
    batch
        .records
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).expect("a JSON queue body");
            body["messageId"].as_str().expect("a messageId").to_owned()
        })
        .collect()
}

/// Panics unless the request's Standard Webhooks signature verifies.
pub fn assert_signed(request: &RecordedRequest, secret: &str) {
    let secret = Secret::parse(secret).unwrap();
    let header = |name| request.header(name).unwrap_or_default();
    verify(
        &secret,
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        &request.body,
        OffsetDateTime::now_utc().unix_timestamp(),
        DEFAULT_TOLERANCE_SECS,
    )
    .unwrap_or_else(|e| panic!("the signature does not verify: {e}"));
}

/// The endpoint's delivery log, newest first, from the api binary.
pub async fn delivery_log(stack: &Stack, tenant: &str, endpoint: &str) -> Vec<Value> {
    let path = format!("/v1/tenants/{tenant}/endpoints/{endpoint}/deliveries");
    let page = call(stack, Method::GET, "api", &path, None, 200).await;
    page["data"].as_array().cloned().unwrap_or_default()
}

/// How far a log entry's `nextAttemptAt` may be from its `createdAt` plus
/// the schedule's delay: both come from the same instant of the attempt, so
/// only a different reading of the clock may separate them, never a whole
/// second of schedule.
pub const DUE_TOLERANCE: Duration = Duration::from_millis(250);

/// A log entry's RFC 3339 time `field`.
pub fn time_of(entry: &Value, field: &str) -> OffsetDateTime {
    let text = entry[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {entry}"));
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{field} of {entry}: {e}"))
}

/// Panics unless the failed attempt `entry` is due again `delay` after it
/// was made (within [`DUE_TOLERANCE`]).
pub fn assert_due_after(entry: &Value, delay: Duration) {
    let due = time_of(entry, "nextAttemptAt") - time_of(entry, "createdAt");
    let off = (due - delay).abs();
    assert!(
        off <= DUE_TOLERANCE,
        "attempt {} is due {due} after it was made, expected {delay:?}: {entry}",
        entry["attempt"]
    );
}

/// `(attempt, trigger, status, httpStatus)` of each log entry.
pub fn summary(log: &[Value]) -> Vec<(u64, String, String, Value)> {
    log.iter()
        .map(|a| {
            (
                a["attempt"].as_u64().unwrap(),
                a["trigger"].as_str().unwrap().to_owned(),
                a["status"].as_str().unwrap().to_owned(),
                a["httpStatus"].clone(),
            )
        })
        .collect()
}

/// The `delivery attempt` JSON lines the delivery binary logged.
pub fn attempt_log_lines(stack: &Stack) -> Vec<Value> {
    stack
        .watch
        .log_lines("delivery")
        .into_iter()
        // With or without tracing's `flatten_event`.
        .map(|l| match l.get("fields") {
            Some(fields) if fields.is_object() => fields.clone(),
            _ => l,
        })
        .filter(|l| l["message"] == "delivery attempt")
        .collect()
}
