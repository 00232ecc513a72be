//! What the API Gateway samples in `events/` name and expect, shared by the
//! router test (functions/api) and the real-binary test (infra/e2e) so the
//! two cannot drift: the ids they name, what a test seeds for them
//! ([`seed`]) and what each answers ([`SampleRun::assert_answer`]). See
//! events/README.md.

use courier::attempt::{AttemptStatus, DeliveryAttempt, ErrorClass};
use courier::endpoint::Endpoint;
use courier::event::Event;
use courier::ids::{DeliveryId, MessageId};
use courier::message::Trigger;
use courier::ports::Store;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

/// The tenant the samples use.
pub const SAMPLE_TENANT: &str = "store_66f1";
/// The endpoint the read/update/delete samples name; tests seed it.
pub const SAMPLE_ENDPOINT: &str = "ep_01J9Z3W5Q8R7T6Y5X4V3B2N1M0";
/// The delivery the log-read and resend samples name; tests seed it. Its
/// ULID dates from 2024, before `api-deliveries-list.json`'s `since`, so
/// that sample lists [`Seeded::recent_delivery`] instead.
pub const SAMPLE_DELIVERY: &str = "del_01J9Z4A7K2M3N4P5Q6R7S8T9V0";

/// The `api-*` samples in the order they make sense, with the status each gets.
pub const API_SAMPLES: &[(&str, u16)] = &[
    ("api-create-event-type.json", 201),
    ("api-create.json", 201),
    ("api-list.json", 200),
    ("api-read.json", 200),
    ("api-update.json", 200),
    ("api-reveal-secret.json", 200),
    ("api-rotate.json", 200),
    ("api-deliveries-list.json", 200),
    ("api-delivery-read.json", 200),
    ("api-resend.json", 202),
    ("api-test-event.json", 202),
    ("api-stats.json", 200),
    ("api-delete.json", 204),
];

/// What [`seed`] stored for the samples to name.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// [`SAMPLE_ENDPOINT`], subscribed to `*`.
    pub endpoint: Endpoint,
    /// The event [`SAMPLE_DELIVERY`] and `recent_delivery` sent.
    pub event: Event,
    /// A failed attempt made now, so `api-deliveries-list.json` lists it.
    pub recent_delivery: DeliveryId,
}

/// Seeds what the samples name, ids being issued by the server: the sample
/// endpoint at `url`, a stored event, and two failed attempts of it (the
/// sample delivery, so it can be read and resent, and a recent one).
pub async fn seed(store: &dyn Store, url: &str) -> Seeded {
    let tenant = SAMPLE_TENANT.parse().expect("a valid tenant id");
    let mut endpoint = crate::endpoint_at(&tenant, url, &["*"]);
    endpoint.id = SAMPLE_ENDPOINT.parse().expect("a valid endpoint id");
    store
        .create_endpoint(&endpoint)
        .await
        .expect("seed endpoint");

    let now = OffsetDateTime::now_utc();
    let expires_at = now + time::Duration::days(7);
    let event = crate::event(&tenant, "booking.created", r#"{"bookingId":"bk_1"}"#);
    store
        .store_event(&event, expires_at)
        .await
        .expect("seed event");
    // An id that sorts by `now`, as the delivery function's ids do.
    let millis = (now.unix_timestamp_nanos() / 1_000_000) as u64;
    let recent_delivery =
        DeliveryId::from_ulid(ulid::Ulid::from_parts(millis, ulid::Ulid::new().random()));
    let attempts = [
        SAMPLE_DELIVERY.parse().expect("a valid id"),
        recent_delivery,
    ]
    .map(|id| failed_attempt(id, &endpoint, &event, now));
    store
        .record_attempts(&attempts)
        .await
        .expect("seed attempts");
    Seeded {
        endpoint,
        event,
        recent_delivery,
    }
}

/// A first attempt of `event` to `endpoint` at `at` that got a 503 "busy".
fn failed_attempt(
    id: DeliveryId,
    endpoint: &Endpoint,
    event: &Event,
    at: OffsetDateTime,
) -> DeliveryAttempt {
    DeliveryAttempt {
        id,
        tenant_id: event.tenant_id.clone(),
        endpoint_id: endpoint.id,
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        message_id: MessageId::generate(),
        attempt: 1,
        trigger: Trigger::Event,
        status: AttemptStatus::Failed,
        url: endpoint.url.clone(),
        http_status: Some(503),
        response_time_ms: Some(120),
        error_class: Some(ErrorClass::ServerError),
        error: Some("HTTP 503".into()),
        response_body: Some("busy".into()),
        request_headers: Default::default(),
        created_at: at,
        next_attempt_at: None,
        expires_at: at + time::Duration::days(7),
        probe: false,
    }
}

fn fail(sample: &str, body: &Value, what: &str) -> ! {
    panic!("{sample}: {what}; answer: {body}")
}

/// Checks the answers to [`API_SAMPLES`], sent in order after [`seed`]:
/// each one's key fields, and what later samples owe to earlier ones (the
/// list shows the endpoint `api-create.json` made, the rotated secret is a
/// new one).
pub struct SampleRun {
    seeded: Seeded,
    created: Option<String>,
}

impl SampleRun {
    pub fn new(seeded: Seeded) -> Self {
        Self {
            seeded,
            created: None,
        }
    }

    /// Panics, naming the sample, unless `status` is the expected one and
    /// `body` (the parsed JSON, `Null` when empty) holds what it should.
    pub fn assert_answer(&mut self, name: &str, status: u16, body: &Value) {
        let expected = API_SAMPLES
            .iter()
            .find(|(sample, _)| *sample == name)
            .unwrap_or_else(|| panic!("{name} is not in API_SAMPLES"))
            .1;
        assert_eq!(status, expected, "{name}: {body}");
        let seeded = &self.seeded;
        let endpoint_id = seeded.endpoint.id.to_string();
        let event_id = seeded.event.id.as_str();
        let str_at = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
        let check = |pointer: &str, want: Value| {
            let got = body.pointer(pointer).unwrap_or(&Value::Null);
            if *got != want {
                fail(name, body, &format!("{pointer} is {got}, expected {want}"));
            }
        };
        let no_secret = |view: &Value| {
            if view.get("secret").is_some() {
                fail(name, body, "an endpoint view shows its secret");
            }
        };
        match name {
            "api-create-event-type.json" => {
                check("/name", json!("booking.created"));
                check("/description", json!("A booking was made."));
            }
            "api-create.json" => {
                let id = str_at("/id").unwrap_or_else(|| fail(name, body, "no id"));
                if !id.starts_with("ep_") || id == endpoint_id {
                    fail(name, body, "not a new endpoint id");
                }
                check("/tenantId", json!(SAMPLE_TENANT));
                check("/url", json!("https://example.com/webhooks"));
                check("/eventTypes", json!(["booking.created", "payment.*"]));
                check("/description", json!("Bookings and payments"));
                check("/payloadFormat", json!("default"));
                check("/enabled", json!(true));
                if !str_at("/secret").is_some_and(|s| s.starts_with("whsec_")) {
                    fail(name, body, "no whsec_ secret");
                }
                self.created = Some(id.to_owned());
            }
            "api-list.json" => {
                let created = self
                    .created
                    .clone()
                    .unwrap_or_else(|| fail(name, body, "sent before api-create.json"));
                let items = body["data"]
                    .as_array()
                    .unwrap_or_else(|| fail(name, body, "no data list"));
                let ids: Vec<&str> = items.iter().filter_map(|e| e["id"].as_str()).collect();
                if ids != [endpoint_id.as_str(), created.as_str()] {
                    fail(
                        name,
                        body,
                        "expected the seeded then the created endpoint, in creation order",
                    );
                }
                items.iter().for_each(no_secret);
                check("/nextCursor", Value::Null);
            }
            "api-read.json" => {
                check("/id", json!(endpoint_id));
                check("/tenantId", json!(SAMPLE_TENANT));
                check("/url", json!(seeded.endpoint.url));
                check("/eventTypes", json!(["*"]));
                check("/enabled", json!(true));
                no_secret(body);
            }
            "api-update.json" => {
                check("/id", json!(endpoint_id));
                check("/url", json!(seeded.endpoint.url));
                check("/description", json!("Bookings only"));
                check("/eventTypes", json!(["booking.*"]));
                check("/enabled", json!(true));
                if body["updatedAt"] == body["createdAt"] {
                    fail(name, body, "updatedAt did not move");
                }
            }
            "api-reveal-secret.json" => {
                check("/secret", json!(seeded.endpoint.current_secret().expose()));
            }
            "api-rotate.json" => {
                let secret = str_at("/secret").unwrap_or_default();
                if !secret.starts_with("whsec_")
                    || secret == seeded.endpoint.current_secret().expose()
                {
                    fail(name, body, "not a new whsec_ secret");
                }
            }
            "api-deliveries-list.json" => {
                let items = body["data"]
                    .as_array()
                    .unwrap_or_else(|| fail(name, body, "no data list"));
                let ids: Vec<&str> = items.iter().filter_map(|d| d["id"].as_str()).collect();
                if ids != [seeded.recent_delivery.to_string()] {
                    fail(name, body, "expected the recent failed attempt only");
                }
                check("/data/0/status", json!("failed"));
                check("/data/0/eventId", json!(event_id));
                check("/nextCursor", Value::Null);
            }
            "api-delivery-read.json" => {
                check("/id", json!(SAMPLE_DELIVERY));
                check("/endpointId", json!(endpoint_id));
                check("/eventId", json!(event_id));
                check("/attempt", json!(1));
                check("/status", json!("failed"));
                check("/httpStatus", json!(503));
                check("/errorClass", json!("5xx"));
                check("/responseBody", json!("busy"));
            }
            "api-resend.json" => {
                check("/eventId", json!(event_id));
                if !str_at("/messageId").is_some_and(|m| m.starts_with("msg_")) {
                    fail(name, body, "no msg_ id");
                }
            }
            "api-test-event.json" => {
                if !str_at("/messageId").is_some_and(|m| m.starts_with("msg_")) {
                    fail(name, body, "no msg_ id");
                }
                let test_event = str_at("/eventId").unwrap_or_default();
                if !test_event.starts_with("evt_") || test_event == event_id {
                    fail(name, body, "not a new evt_ id");
                }
            }
            "api-stats.json" => {
                let day = format_description!("[year]-[month]-[day]");
                let today = OffsetDateTime::now_utc().date();
                let week_ago = today - time::Duration::days(6);
                check("/to", json!(today.format(&day).expect("a date")));
                check("/from", json!(week_ago.format(&day).expect("a date")));
                let days = body["days"]
                    .as_array()
                    .unwrap_or_else(|| fail(name, body, "no days"));
                if days.len() != 7 {
                    fail(name, body, "expected 7 days");
                }
                // Seeded attempts add no statistics; only the delivery function does.
                check("/totals/attempts", json!(0));
            }
            "api-delete.json" => check("", Value::Null),
            _ => fail(name, body, "no expectations written for this sample"),
        }
    }
}
