//! Portal sessions (`POST /v1/tenants/{tenantId}/portal-sessions`, admin
//! only) and the caller's own credential (`GET /v1/credential`), which the
//! panel reads to learn its tenant and whether it may write.

use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use courier::access::Principal;
use courier::credentials::{
    BearerSecret, DEFAULT_PORTAL_SESSION, MAX_PORTAL_SESSION, MIN_PORTAL_SESSION, PortalSession,
};
use time::{Duration, OffsetDateTime};

use crate::ApiState;
use crate::json::OptionalJson;
use crate::model::access::{
    CreatePortalSession, CredentialKind, CredentialView, PortalSessionCreated,
};
use crate::params::TenantPath;
use crate::portal::session_url;
use crate::problem::ApiError;

/// The portal session and credential routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/v1/tenants/{tenantId}/portal-sessions",
            post(create_portal_session),
        )
        .route("/v1/credential", get(credential))
}

/// Opens a portal session: a short-lived credential for this tenant alone,
/// and the URL of the panel signed in with it.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenantId}/portal-sessions",
    tag = "portal",
    params(TenantPath),
    request_body(content = Option<CreatePortalSession>, description = "Optional; an empty body opens a one-hour session that may write"),
    responses(
        (status = 201, description = "Opened", body = PortalSessionCreated),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn create_portal_session(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<CreatePortalSession>,
) -> Result<impl IntoResponse, ApiError> {
    let lifetime = match body.expires_in_seconds {
        None => DEFAULT_PORTAL_SESSION,
        Some(s)
            if (MIN_PORTAL_SESSION.whole_seconds() as u64
                ..=MAX_PORTAL_SESSION.whole_seconds() as u64)
                .contains(&s) =>
        {
            Duration::seconds(s as i64)
        }
        Some(s) => {
            return Err(ApiError::validation(
                "expiresInSeconds",
                format!(
                    "expiresInSeconds must be between {} and {} (7 days), got {s}; use an API key for a lasting credential",
                    MIN_PORTAL_SESSION.whole_seconds(),
                    MAX_PORTAL_SESSION.whole_seconds()
                ),
            ));
        }
    };
    let now = OffsetDateTime::now_utc();
    let session = PortalSession {
        tenant_id: tenant,
        read_only: body.read_only.unwrap_or(false),
        created_at: now,
        expires_at: now + lifetime,
    };
    let token = BearerSecret::portal_token();
    state
        .store
        .create_portal_session(&session, &token.hash())
        .await?;
    tracing::info!(
        tenant_id = %session.tenant_id,
        read_only = session.read_only,
        expires_in_seconds = lifetime.whole_seconds(),
        "portal session opened"
    );
    let body = PortalSessionCreated {
        url: session_url(&state.portal, &headers, token.expose()),
        token: token.expose().to_owned(),
        expires_at: session.expires_at,
        read_only: session.read_only,
    };
    Ok((StatusCode::CREATED, axum::Json(body)))
}

/// Describes the credential the request was made with.
#[utoipa::path(
    get,
    path = "/v1/credential",
    tag = "portal",
    responses(
        (status = 200, description = "The caller's credential", body = CredentialView),
        (status = 401, response = crate::openapi::Unauthorized),
    )
)]
pub async fn credential(
    principal: Option<Extension<Principal>>,
) -> Result<axum::Json<CredentialView>, ApiError> {
    // Always set by the access middleware; never assume admin without it.
    let Some(Extension(principal)) = principal else {
        return Err(ApiError::Unauthorized("no credential was checked".into()));
    };
    let tenant_id = principal.tenant().map(ToString::to_string);
    let view = match &principal {
        Principal::Admin => CredentialView {
            kind: CredentialKind::Admin,
            tenant_id,
            read_only: false,
            expires_at: None,
            api_key_id: None,
        },
        Principal::ApiKey(key) => CredentialView {
            kind: CredentialKind::ApiKey,
            tenant_id,
            read_only: false,
            expires_at: None,
            api_key_id: Some(key.id.to_string()),
        },
        Principal::Portal(session) => CredentialView {
            kind: CredentialKind::PortalSession,
            tenant_id,
            read_only: session.read_only,
            expires_at: Some(session.expires_at),
            api_key_id: None,
        },
    };
    Ok(axum::Json(view))
}
