//! Who is calling, and whether they may: the bearer token is the admin
//! token (compared in constant time against its configured SHA-256), a
//! tenant API key (`ck_…`) or a portal token (`cpt_…`), both looked up by
//! their SHA-256; [`scope::check`] then decides the route. Tokens are never
//! logged; only a key's id is.

pub mod scope;

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use courier::credentials::{
    API_KEY_PREFIX, ApiKey, ApiKeyId, CredentialHash, PORTAL_TOKEN_PREFIX, PortalSession,
};
use courier::ids::TenantId;
use time::{Duration, OffsetDateTime};

use crate::ApiState;
use crate::auth::bearer_token;
use crate::problem::ApiError;
use scope::Scope;

/// How stale a key's `lastUsedAt` may get: a key used all day costs one
/// write a minute per warm function instance, not one per request.
const LAST_USED_PRECISION: Duration = Duration::minutes(1);

/// Keys tracked by [`KeyUses`] before it starts over (bounded memory).
const MAX_TRACKED_KEYS: usize = 10_000;

/// The credential a request was authenticated with, put into the request's
/// extensions for the handlers that describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The platform's admin token.
    Admin,
    /// A tenant API key.
    ApiKey(ApiKey),
    /// A portal session.
    Portal(PortalSession),
}

impl Principal {
    /// What [`scope::check`] needs to know.
    pub fn scope(&self) -> Scope<'_> {
        match self {
            Self::Admin => Scope::Admin,
            Self::ApiKey(key) => Scope::Tenant {
                tenant: &key.tenant_id,
                read_only: false,
            },
            Self::Portal(session) => Scope::Tenant {
                tenant: &session.tenant_id,
                read_only: session.read_only,
            },
        }
    }

    /// The tenant a tenant credential is bound to.
    pub fn tenant(&self) -> Option<&TenantId> {
        match self.scope() {
            Scope::Admin => None,
            Scope::Tenant { tenant, .. } => Some(tenant),
        }
    }
}

/// When each API key's use was last written, so `lastUsedAt` costs a write
/// per [`LAST_USED_PRECISION`] rather than per request.
#[derive(Debug, Default)]
pub struct KeyUses(Mutex<HashMap<ApiKeyId, OffsetDateTime>>);

impl KeyUses {
    /// True when a use at `now` should be written (and notes that it is).
    fn due(&self, id: ApiKeyId, now: OffsetDateTime) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen
            .get(&id)
            .is_some_and(|last| now - *last < LAST_USED_PRECISION)
        {
            return false;
        }
        if seen.len() >= MAX_TRACKED_KEYS {
            seen.clear();
        }
        seen.insert(id, now);
        true
    }
}

/// The principal behind an `Authorization` header; 401 when there is none.
pub async fn authenticate(
    state: &ApiState,
    authorization: Option<&str>,
) -> Result<Principal, ApiError> {
    let token = bearer_token(authorization, "admin token, API key or portal token")?;
    if state.auth.accepts(token) {
        return Ok(Principal::Admin);
    }
    let now = OffsetDateTime::now_utc();
    if token.starts_with(API_KEY_PREFIX) {
        let Some(key) = state
            .store
            .api_key_by_hash(&CredentialHash::of(token))
            .await?
        else {
            return Err(ApiError::Unauthorized(
                "the API key is not valid: it was revoked or never issued".into(),
            ));
        };
        // `lastUsedAt` is a hint: a failed write must not fail the request.
        if state.key_uses.due(key.id, now)
            && let Err(err) = state.store.touch_api_key(&key.tenant_id, key.id, now).await
        {
            tracing::warn!(api_key_id = %key.id, error = %err, "could not record the API key's use");
        }
        return Ok(Principal::ApiKey(key));
    }
    if token.starts_with(PORTAL_TOKEN_PREFIX) {
        let session = state
            .store
            .portal_session(&CredentialHash::of(token))
            .await?
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "the portal token is not valid; open the panel again from the platform".into(),
                )
            })?;
        if session.expired(now) {
            return Err(ApiError::Unauthorized(
                "the portal session has expired; open the panel again from the platform".into(),
            ));
        }
        return Ok(Principal::Portal(session));
    }
    Err(ApiError::Unauthorized(
        "the bearer token is not the admin token, an API key or a portal token".into(),
    ))
}

/// Middleware on every route but the panel's static files: authenticates
/// the request (401), checks its scope (403), and hands the [`Principal`]
/// on in the request's extensions.
pub async fn require_credential(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    if crate::portal::is_public(request.uri().path()) {
        return next.run(request).await;
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let principal = match authenticate(&state, authorization.as_deref()).await {
        Ok(p) => p,
        Err(err) => return err.into_response(),
    };
    let (mut parts, body) = request.into_parts();
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let path_tenant = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(name, _)| *name == "tenantId")
                .map(|(_, value)| value.to_owned())
        });
    if let Err(err) = scope::check(
        principal.scope(),
        &parts.method,
        route.as_deref(),
        path_tenant.as_deref(),
    ) {
        return err.into_response();
    }
    if let Principal::ApiKey(key) = &principal {
        tracing::debug!(api_key_id = %key.id, tenant_id = %key.tenant_id, "request with an API key");
    }
    parts.extensions.insert(principal);
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_use_is_written_once_a_minute() {
        let uses = KeyUses::default();
        let (a, b) = (ApiKeyId::generate(), ApiKeyId::generate());
        let t = OffsetDateTime::now_utc();
        assert!(uses.due(a, t));
        assert!(!uses.due(a, t + Duration::seconds(59)));
        assert!(uses.due(b, t + Duration::seconds(1)));
        assert!(uses.due(a, t + Duration::seconds(60)));
    }
}
