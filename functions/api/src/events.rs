//! The intake route, `POST /v1/tenants/{tenantId}/events`, as the document
//! describes it. The intake function serves it (and `courier-local` beside
//! this API); it is described here, with its own types, because function
//! crates depend only on shared crates, never on each other. The shapes
//! mirror the intake's `PublishRequest` and `Published`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::params::TenantPath;

/// `POST /v1/tenants/{tenantId}/events`: an event as a producer sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"type": "booking.created", "data": {"bookingId": "b_123"}})))]
pub struct PublishEvent {
    /// Optional idempotency key, 1 to 128 of `A-Z a-z 0-9 _ -`: a repeat of
    /// an accepted id is 200 with `duplicate: true`. `evt_` + ULID when
    /// absent.
    #[serde(default)]
    #[schema(max_length = 128, pattern = r"^[A-Za-z0-9_-]{1,128}$")]
    pub id: Option<String>,
    /// The event type, an exact name that must be in the catalogue: one
    /// that is not is 409 (add it with `POST /v1/event-types`). The
    /// built-in `webhooks.*` types are the service's own: 422.
    #[serde(rename = "type")]
    #[schema(
        example = "booking.created",
        max_length = 128,
        pattern = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
    )]
    pub event_type: String,
    /// The producer's JSON object, delivered unchanged; with its envelope
    /// at most `MAX_PAYLOAD_BYTES` (413 past it).
    #[schema(value_type = Object)]
    pub data: Box<RawValue>,
}

/// The answer to a publish.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPublished {
    /// The event id (`webhook-id` at the receivers).
    #[schema(example = "evt_01J9Z3W5Q8R7T6Y5X4V3B2N1M0")]
    pub id: String,
    /// Endpoints this request queued the event for (0 for a duplicate).
    pub endpoints: usize,
    /// True when this id was already accepted and fanned out.
    pub duplicate: bool,
}

/// Publishes an event: stored once, then queued for every enabled endpoint
/// of the tenant subscribed to its type. Served by the intake function.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenantId}/events",
    tag = "events",
    params(TenantPath),
    request_body = PublishEvent,
    responses(
        (status = 202, description = "Accepted and queued for the subscribed endpoints", body = EventPublished),
        (status = 200, description = "This `id` was already accepted: nothing is queued again (`duplicate: true`)", body = EventPublished),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 409, response = crate::openapi::NotInCatalogue),
        (status = 413, response = crate::openapi::EventTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::PublishUnavailable),
    )
)]
#[allow(dead_code)] // Only its generated description is used; intake serves the route.
fn publish_event() {}
