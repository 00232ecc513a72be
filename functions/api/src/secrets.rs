//! An endpoint's signing secret: reveal and rotate.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use courier::endpoint::{DEFAULT_ROTATION_GRACE, MAX_ROTATION_GRACE};
use courier::signing::Secret;
use time::Duration;

use crate::ApiState;
use crate::endpoints::{load, modify};
use crate::json::OptionalJson;
use crate::model::{RotateSecret, SecretView};
use crate::params::EndpointPath;
use crate::problem::ApiError;

/// The secret routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/secret",
            get(reveal_secret),
        )
        .route(
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/secret/rotate",
            post(rotate_secret),
        )
}

/// Reveals the secret new deliveries are signed with.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenantId}/endpoints/{endpointId}/secret",
    tag = "secrets",
    params(EndpointPath),
    responses(
        (status = 200, description = "The current secret", body = SecretView),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn reveal_secret(
    State(state): State<ApiState>,
    path: EndpointPath,
) -> Result<axum::Json<SecretView>, ApiError> {
    let endpoint = load(&state, &path).await?;
    Ok(axum::Json(SecretView {
        secret: endpoint.current_secret().expose().to_owned(),
    }))
}

/// Replaces the secret. The old one keeps signing alongside the new one for
/// `gracePeriodSeconds`, so receivers can switch without losing deliveries.
/// An endpoint keeps at most three secrets, the current and two old ones;
/// a further rotation within their grace periods drops the oldest.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenantId}/endpoints/{endpointId}/secret/rotate",
    tag = "secrets",
    params(EndpointPath),
    request_body(content = Option<RotateSecret>, description = "Optional; an empty body generates a secret and keeps the old one for 24 hours"),
    responses(
        (status = 200, description = "The new current secret", body = SecretView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn rotate_secret(
    State(state): State<ApiState>,
    path: EndpointPath,
    OptionalJson(body): OptionalJson<RotateSecret>,
) -> Result<axum::Json<SecretView>, ApiError> {
    let grace = match body.grace_period_seconds {
        None => DEFAULT_ROTATION_GRACE,
        Some(s) if s <= MAX_ROTATION_GRACE.whole_seconds() as u64 => Duration::seconds(s as i64),
        Some(s) => {
            return Err(ApiError::validation(
                "gracePeriodSeconds",
                format!(
                    "gracePeriodSeconds must be between 0 and {} (7 days), got {s}",
                    MAX_ROTATION_GRACE.whole_seconds()
                ),
            ));
        }
    };
    let new = match body.secret.as_deref() {
        Some(text) => {
            Secret::parse(text).map_err(|e| ApiError::validation("secret", e.to_string()))?
        }
        None => Secret::generate(),
    };
    let current = load(&state, &path).await?;
    // 409, not 422: the same secret is a fine rotation for another
    // endpoint, or for this one after it rotates; its state decides.
    if current.current_secret() == &new {
        return Err(ApiError::Conflict(
            "secret is already the endpoint's current secret; choose a new one".into(),
        ));
    }
    let rotated = modify(&state, &path, |ep, now| {
        ep.rotate_secret(new.clone(), grace, now)
    })
    .await?;
    tracing::info!(
        tenant_id = %path.tenant,
        endpoint_id = %path.id,
        grace_period_seconds = grace.whole_seconds(),
        "endpoint secret rotated"
    );
    Ok(axum::Json(SecretView {
        secret: rotated.current_secret().expose().to_owned(),
    }))
}
