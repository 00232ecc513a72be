//! The HTTP door: `POST /v1/tenants/{tenantId}/events`, with the shared
//! HTTP edge's credential check, JSON and problem handling (`courier-http`).
//!
//! Who may publish is the API's rule ([`courier::access::scope`]): the
//! admin token, or a tenant API key or a portal session that may write, of
//! the path's own tenant. The admin token costs no store read (its digest
//! is compared in constant time), so a publish with it costs what it always
//! did; a tenant credential costs one read (`GetItem` by the token's
//! SHA-256), plus an API key's `lastUsedAt` write at most once a minute per
//! key and warm instance. Credentials are not cached: a revoked key is
//! refused at its next request.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use courier_http::access::{Credentials, require_credential};
use courier_http::json::{Json, body_limit};
use courier_http::params::TenantPath;
use courier_http::problem::ApiError;
use lambda_runtime::Context;

use crate::publish::{Intake, PublishError, PublishRequest};
use courier::fan_out::{FanOutStop, fan_out_deadline};

/// Request bodies are the event without its envelope; this leaves room for
/// formatting whitespace while the envelope size check gives the real 413.
const BODY_LIMIT_FACTOR: usize = 2;

/// The intake Lambda's complete router: [`routes`] with the problem
/// fallbacks and the `credentials` check (over the intake's store), which
/// runs first.
pub fn router(intake: Arc<Intake>, credentials: Credentials, max_payload_bytes: usize) -> Router {
    courier_http::with_fallbacks(routes(intake, max_payload_bytes)).layer(
        axum::middleware::from_fn_with_state(credentials, require_credential),
    )
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
    lambda: Option<Extension<Context>>,
    TenantPath(tenant): TenantPath,
    Json(request): Json<PublishRequest>,
) -> Result<Response, ApiError> {
    // In Lambda the invocation's deadline bounds the fan-out too.
    let lambda_deadline = lambda.map_or(0, |Extension(context)| context.deadline);
    let deadline = fan_out_deadline(Instant::now(), now_ms(), lambda_deadline);
    let event = intake
        .prepare(&tenant, request)
        .await
        .map_err(to_api_error)?;
    let published = intake.accept(event, deadline).await.map_err(to_api_error)?;
    let status = if published.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, axum::Json(published)).into_response())
}

/// The current time in unix milliseconds, as Lambda states deadlines.
pub(crate) fn now_ms() -> u64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    u64::try_from(now).unwrap_or(0)
}

/// The one mapping of intake failures to problems; once the event's id is
/// known the problem names it (`eventId`).
pub fn to_api_error(err: PublishError) -> ApiError {
    match err {
        PublishError::Invalid { field, detail } => ApiError::validation(field, detail),
        // 409, not 422: the catalogue's state refuses it, not the request.
        PublishError::NotInCatalogue(detail) => ApiError::Conflict(detail),
        PublishError::TooLarge { size, limit } => ApiError::EventTooLarge { size, limit },
        PublishError::Store(e) => e.into(),
        // Only reached without an id, which the fan-out always has.
        PublishError::FanOutIncomplete(stop) => ApiError::Unavailable(stop.to_string()),
        PublishError::ForEvent { event_id, error } => match *error {
            PublishError::FanOutIncomplete(stop) => {
                let doing = match stop {
                    FanOutStop::Busy => "is still being queued by another request",
                    _ => "was stored but not every endpoint could be queued yet",
                };
                ApiError::RetryWithSameId(format!(
                    "event '{event_id}' {doing}; send the same request again with \"id\": \"{event_id}\" to complete it"
                ))
                .for_event(event_id)
            }
            other => to_api_error(other).for_event(event_id),
        },
    }
}
