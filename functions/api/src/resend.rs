//! Resending a logged delivery: `POST .../deliveries/{deliveryId}/resend`.
//!
//! A resend delivers the attempt's event to the same endpoint again, as a
//! new delivery (trigger `manual`) with its own retries and log entries;
//! it works whatever the attempt's status. Two refusals are decided here
//! rather than left to the delivery function:
//! - the event has expired (events are kept for `LOG_RETENTION_DAYS`): 404;
//! - the endpoint is disabled: 409, because the delivery function would only
//!   log the resend as `skipped`. A test event (`POST .../test`) still
//!   reaches a disabled endpoint, to check it before re-enabling.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use courier::message::{DeliveryMessage, Trigger};

use crate::ApiState;
use crate::deliveries::load_delivery;
use crate::endpoints::ensure_enabled;
use crate::model::deliveries::DeliveryQueued;
use crate::params::DeliveryPath;
use crate::problem::ApiError;

/// The resend route.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route(
        "/v1/tenants/{tenantId}/endpoints/{endpointId}/deliveries/{deliveryId}/resend",
        post(resend_delivery),
    )
}

/// Delivers the attempt's event to its endpoint again, through the queue,
/// as a new chain of attempts (trigger `manual`) with its own retries.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenantId}/endpoints/{endpointId}/deliveries/{deliveryId}/resend",
    tag = "deliveries",
    params(DeliveryPath),
    responses(
        (status = 202, description = "Queued; its attempts appear in the log under `messageId`", body = DeliveryQueued),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::ResendNotFound),
        (status = 409, response = crate::openapi::EndpointDisabled),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn resend_delivery(
    State(state): State<ApiState>,
    path: DeliveryPath,
) -> Result<(StatusCode, axum::Json<DeliveryQueued>), ApiError> {
    let (endpoint, attempt) = load_delivery(&state, &path).await?;
    ensure_enabled(&endpoint, "a resend")?;
    let event = state
        .store
        .event(&path.tenant, &attempt.event_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "event '{}' of delivery '{}' has expired (events are kept for {}) and can no longer be resent",
                attempt.event_id,
                path.id,
                describe(state.settings.retention)
            ))
        })?;
    let message = DeliveryMessage::new(endpoint.id, Trigger::Manual, event);
    state.queue.enqueue(std::slice::from_ref(&message)).await?;
    tracing::info!(
        tenant_id = %path.tenant,
        endpoint_id = %path.endpoint,
        delivery_id = %path.id,
        event_id = %message.event.id,
        message_id = %message.message_id,
        "delivery resent"
    );
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(DeliveryQueued::from(&message)),
    ))
}

/// A retention period for people: whole days when it is, else seconds.
pub(crate) fn describe(retention: Duration) -> String {
    let secs = retention.as_secs();
    match (secs / 86_400, secs % 86_400) {
        (1, 0) => "1 day".into(),
        (days, 0) if days > 0 => format!("{days} days"),
        _ => format!("{secs} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_reads_in_days_when_it_can() {
        assert_eq!(describe(Duration::from_secs(7 * 86_400)), "7 days");
        assert_eq!(describe(Duration::from_secs(86_400)), "1 day");
        assert_eq!(describe(Duration::from_secs(90)), "90 seconds");
    }
}
