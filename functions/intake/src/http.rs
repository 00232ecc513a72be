//! The HTTP door: `POST /v1/tenants/{tenantId}/events`, with the admin API's
//! auth, JSON and problem handling.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use courier_api::auth::AdminAuth;
use courier_api::json::{Json, body_limit};
use courier_api::params::TenantPath;
use courier_api::problem::ApiError;

use crate::publish::{Intake, PublishError, PublishRequest};

/// Request bodies are the event without its envelope; this leaves room for
/// formatting whitespace while the envelope size check gives the real 413.
const BODY_LIMIT_FACTOR: usize = 2;

/// The intake Lambda's complete router: [`routes`] with the admin API's
/// authentication and problem fallbacks.
pub fn router(intake: Arc<Intake>, auth: AdminAuth, max_payload_bytes: usize) -> Router {
    courier_api::finish(routes(intake, max_payload_bytes), auth)
}

/// The intake route alone, for a server that merges it with the admin API
/// before finishing both at once (the local server).
pub fn routes(intake: Arc<Intake>, max_payload_bytes: usize) -> Router {
    Router::new()
        .route(
            "/v1/tenants/{tenantId}/events",
            post(publish).layer(body_limit(max_payload_bytes * BODY_LIMIT_FACTOR)),
        )
        .with_state(intake)
}

/// 202 with `{"id","endpoints","duplicate":false}` for a new event; 200 with
/// `duplicate: true` when the id was already accepted.
async fn publish(
    State(intake): State<Arc<Intake>>,
    TenantPath(tenant): TenantPath,
    Json(request): Json<PublishRequest>,
) -> Result<Response, ApiError> {
    let published = intake
        .publish(&tenant, request)
        .await
        .map_err(to_api_error)?;
    let status = if published.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, axum::Json(published)).into_response())
}

/// The one mapping of intake failures to problems.
pub fn to_api_error(err: PublishError) -> ApiError {
    match err {
        PublishError::Invalid { field, detail } => ApiError::validation(field, detail),
        PublishError::TooLarge { size, limit } => ApiError::EventTooLarge { size, limit },
        PublishError::Store(e) => e.into(),
        PublishError::FanOutIncomplete { event_id, source } => {
            tracing::error!(event_id = %event_id, error = %source, "fan-out incomplete");
            ApiError::RetryWithSameId(format!(
                "event '{event_id}' was stored but not every endpoint could be queued; send the same request again with \"id\": \"{event_id}\" to complete it"
            ))
        }
    }
}
