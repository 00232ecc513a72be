//! Test events: `POST /v1/tenants/{tenantId}/endpoints/{endpointId}/test`.
//!
//! A test event goes through the normal pipeline (stored, queued, signed,
//! retried, logged with trigger `test`) to this one endpoint, whatever its
//! subscriptions and even when it is disabled, so a fixed receiver can be
//! checked before the endpoint is re-enabled. Its type may be any valid
//! event-type name, in the catalogue or not (the point may be to try a
//! receiver's handling of a type before publishing it); its data is a fixed
//! sample. It is stored like a published event, so it can be resent.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use courier::event::{Event, to_millis};
use courier::event_type::EventTypeName;
use courier::ids::EventId;
use courier::message::{DeliveryMessage, Trigger};
use serde_json::json;
use time::OffsetDateTime;

use crate::ApiState;
use crate::endpoints::load;
use crate::json::OptionalJson;
use crate::model::deliveries::{DeliveryQueued, SendTestEvent};
use crate::params::EndpointPath;
use crate::problem::ApiError;

/// The type of a test event when none is asked for.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// The first line of a test event's data.
pub const TEST_EVENT_MESSAGE: &str = "This is a test event from Courier";

/// The test-event route.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route(
        "/v1/tenants/{tenantId}/endpoints/{endpointId}/test",
        post(send_test_event),
    )
}

/// Sends a test event to this endpoint through the normal pipeline (trigger
/// `test`), whatever its subscriptions and even when it is disabled.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenantId}/endpoints/{endpointId}/test",
    tag = "deliveries",
    params(EndpointPath),
    request_body(content = Option<SendTestEvent>, description = "Optional; an empty body sends a `webhook.test` event"),
    responses(
        (status = 202, description = "Queued; the receiver gets `{\"message\": \"This is a test event from Courier\", \"endpointId\": ...}` as `data`", body = DeliveryQueued),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn send_test_event(
    State(state): State<ApiState>,
    path: EndpointPath,
    OptionalJson(body): OptionalJson<SendTestEvent>,
) -> Result<(StatusCode, axum::Json<DeliveryQueued>), ApiError> {
    let event_type: EventTypeName = body
        .event_type
        .as_deref()
        .unwrap_or(TEST_EVENT_TYPE)
        .parse()
        .map_err(|e: courier::event_type::EventTypeError| ApiError::validation("eventType", e.0))?;
    let endpoint = load(&state, &path).await?;
    let data = json!({ "message": TEST_EVENT_MESSAGE, "endpointId": endpoint.id.to_string() });
    let event = Event {
        id: EventId::generate(),
        tenant_id: path.tenant.clone(),
        event_type,
        created_at: to_millis(OffsetDateTime::now_utc()),
        // An object with string keys always serialises.
        data: serde_json::value::to_raw_value(&data)
            .map_err(|e| ApiError::Unavailable(format!("test event data: {e}")))?,
    };
    // Stored first, so that the test delivery can be resent like any other.
    state
        .store
        .store_event(&event, event.created_at + state.settings.retention)
        .await?;
    let message = DeliveryMessage::new(endpoint.id, Trigger::Test, event);
    state.queue.enqueue(std::slice::from_ref(&message)).await?;
    tracing::info!(
        tenant_id = %path.tenant,
        endpoint_id = %path.id,
        event_id = %message.event.id,
        message_id = %message.message_id,
        event_type = %message.event.event_type,
        "test event sent"
    );
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(DeliveryQueued::from(&message)),
    ))
}
