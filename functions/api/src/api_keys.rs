//! Tenant API keys: `/v1/tenants/{tenantId}/api-keys[/{keyId}]`, admin only
//! (see [`courier::access::scope`]). A key is shown once, in the 201, and
//! stored only as its SHA-256; revoking it refuses its next request.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use courier::credentials::{ApiKey, ApiKeyId, MAX_API_KEY_NAME};
use courier::ids::TenantId;
use time::OffsetDateTime;
use utoipa::IntoParams;

use crate::ApiState;
use crate::json::Json;
use crate::model::access::{ApiKeyList, ApiKeyView, CreateApiKey, CreatedApiKey};
use crate::params::{PageQuery, Query, TenantPath};
use crate::problem::ApiError;

/// The API key routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/v1/tenants/{tenantId}/api-keys",
            get(list_api_keys).post(create_api_key),
        )
        .route(
            "/v1/tenants/{tenantId}/api-keys/{keyId}",
            delete(revoke_api_key),
        )
}

/// The `{tenantId}` and `{keyId}` of a path; a malformed key id is a 404,
/// like a key that does not exist.
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ApiKeyPath {
    /// The tenant: 1 to 64 of `A-Z a-z 0-9 _ -`.
    #[param(rename = "tenantId", value_type = String, pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub tenant: TenantId,
    /// The key: `key_` + ULID.
    #[param(rename = "keyId", value_type = String, example = "key_01J9Z3W5Q8R7T6Y5X4V3B2N1M0")]
    pub id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ApiKeyPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let TenantPath(tenant) = TenantPath::from_request_parts(parts, state).await?;
        let id = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|p| {
                p.iter()
                    .find(|(k, _)| *k == "keyId")
                    .map(|(_, v)| v.to_owned())
            })
            .unwrap_or_default();
        Ok(Self { tenant, id })
    }
}

/// Issues an API key for the tenant's apps and integrations.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenantId}/api-keys",
    tag = "api-keys",
    params(TenantPath),
    request_body = CreateApiKey,
    responses(
        (status = 201, description = "Issued; `key` is shown this once", body = CreatedApiKey),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn create_api_key(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
    Json(body): Json<CreateApiKey>,
) -> Result<impl IntoResponse, ApiError> {
    // ASCII whitespace only, as the document's pattern states it: Unicode
    // spaces differ between regex dialects, ASCII ones do not.
    let name = body
        .name
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .to_owned();
    let len = name.chars().count();
    if len == 0 || len > MAX_API_KEY_NAME {
        return Err(ApiError::validation(
            "name",
            format!(
                "name must be 1 to {MAX_API_KEY_NAME} characters saying what the key is for, got {len}"
            ),
        ));
    }
    let (key, secret) = ApiKey::new(tenant, name, OffsetDateTime::now_utc());
    state.store.create_api_key(&key, &secret.hash()).await?;
    tracing::info!(tenant_id = %key.tenant_id, api_key_id = %key.id, "API key issued");
    let location = format!("/v1/tenants/{}/api-keys/{}", key.tenant_id, key.id);
    let body = CreatedApiKey {
        api_key: ApiKeyView::from(&key),
        key: secret.expose().to_owned(),
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(body),
    ))
}

/// Lists the tenant's API keys, oldest first, without the keys.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenantId}/api-keys",
    tag = "api-keys",
    params(TenantPath, PageQuery),
    responses(
        (status = 200, description = "One page", body = ApiKeyList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list_api_keys(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<ApiKeyList>, ApiError> {
    let page = state
        .store
        .api_keys(&tenant, query.page_size()?, query.cursor())
        .await?;
    Ok(axum::Json(ApiKeyList {
        data: page.items.iter().map(ApiKeyView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Revokes an API key: its next request is refused.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{tenantId}/api-keys/{keyId}",
    tag = "api-keys",
    params(ApiKeyPath),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn revoke_api_key(
    State(state): State<ApiState>,
    path: ApiKeyPath,
) -> Result<StatusCode, ApiError> {
    let not_found = || {
        ApiError::NotFound(format!(
            "tenant '{}' has no API key '{}'",
            path.tenant, path.id
        ))
    };
    let id: ApiKeyId = path.id.parse().map_err(|_| not_found())?;
    if !state.store.revoke_api_key(&path.tenant, id).await? {
        return Err(not_found());
    }
    tracing::info!(tenant_id = %path.tenant, api_key_id = %id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}
