//! Bearer credentials at the HTTP edge, for the api and the intake
//! functions alike: [`require_credential`] reads `Authorization`,
//! recognises the admin token ([`AdminAuth`], constant time, no store
//! read), hands any other token to [`courier::access::tenant_credential`]
//! (one store read), checks the matched route with
//! [`courier::access::check`], and answers 401 or 403 as problems. The
//! decisions themselves live in `courier::access`.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use courier::access::{self, KeyUses, Principal, Scope};
use courier::credentials::CredentialStore;
use time::OffsetDateTime;

use crate::auth::{AdminAuth, bearer_token};
use crate::problem::ApiError;

/// What checking a request's credential needs, built once in a function's
/// wiring and handed to [`require_credential`] as its state.
#[derive(Clone)]
pub struct Credentials {
    /// The admin token's check.
    admin: AdminAuth,
    /// Where API keys and portal sessions are looked up.
    store: Arc<dyn CredentialStore>,
    /// When each API key's use was last written (one per process).
    key_uses: Arc<KeyUses>,
    /// Paths that need no credential (the api's panel files).
    public: fn(&str) -> bool,
}

impl Credentials {
    /// The check of the admin token `admin` and of the tenant credentials
    /// in `store`, for every path.
    pub fn new(admin: AdminAuth, store: Arc<dyn CredentialStore>) -> Self {
        Self {
            admin,
            store,
            key_uses: Arc::default(),
            public: |_| false,
        }
    }

    /// The same check, letting the paths `public` accepts through without
    /// a credential.
    pub fn with_public(mut self, public: fn(&str) -> bool) -> Self {
        self.public = public;
        self
    }

    /// The principal behind an `Authorization` header; 401 when there is
    /// none, or it is not a live credential.
    async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, ApiError> {
        let token = bearer_token(authorization, "admin token, API key or portal token")?;
        if self.admin.accepts(token) {
            return Ok(Principal::Admin);
        }
        let now = OffsetDateTime::now_utc();
        Ok(access::tenant_credential(&*self.store, &self.key_uses, token, now).await?)
    }

    /// Authenticates a request (401) and checks its matched route and
    /// `{tenantId}` against the principal's scope (403).
    async fn authorize(&self, parts: &mut Parts) -> Result<Principal, ApiError> {
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default());
        let principal = self.authenticate(authorization).await?;
        let route = parts.extensions.get::<MatchedPath>().cloned();
        let path_tenant = RawPathParams::from_request_parts(parts, &())
            .await
            .ok()
            .and_then(|params| {
                params
                    .iter()
                    .find(|(name, _)| *name == "tenantId")
                    .map(|(_, value)| value.to_owned())
            });
        check(
            principal.scope(),
            &parts.method,
            route.as_ref().map(MatchedPath::as_str),
            path_tenant.as_deref(),
        )?;
        Ok(principal)
    }
}

/// The credential check as middleware, layered over every route of a
/// function with its [`Credentials`] as state: runs `next` with the
/// [`Principal`] in the request's extensions when the request may go
/// through (or its path is public), else answers its 401 or 403 problem.
pub async fn require_credential(
    State(credentials): State<Credentials>,
    request: Request,
    next: Next,
) -> Response {
    if (credentials.public)(request.uri().path()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    match credentials.authorize(&mut parts).await {
        Ok(principal) => {
            parts.extensions.insert(principal);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(err) => err.into_response(),
    }
}

/// [`courier::access::check`] for an HTTP method (`GET` and `HEAD` read),
/// refusing with a 403 problem.
pub fn check(
    scope: Scope<'_>,
    method: &Method,
    route: Option<&str>,
    path_tenant: Option<&str>,
) -> Result<(), ApiError> {
    let reads = method == Method::GET || method == Method::HEAD;
    Ok(access::check(scope, reads, route, path_tenant)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::post;
    use courier::credentials::{ApiKey, ApiKeyId, CredentialHash, PortalSession};
    use courier::embedded::EmbeddedStore;
    use courier::ids::TenantId;
    use courier::ports::{Page, StoreError};
    use tower::ServiceExt;

    const ADMIN: &str = "admin-t0k";

    /// A publish-shaped route behind [`require_credential`].
    fn app(store: Arc<EmbeddedStore>) -> Router {
        let credentials = Credentials::new(AdminAuth::from_token(ADMIN), store);
        Router::new()
            .route(
                "/v1/tenants/{tenantId}/events",
                post(|principal: axum::Extension<Principal>| async move {
                    principal
                        .0
                        .tenant()
                        .map_or("admin".into(), |t| t.to_string())
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                credentials,
                require_credential,
            ))
    }

    async fn status(app: &Router, tenant: &str, authorization: Option<&str>) -> (u16, String) {
        let mut request = Request::post(format!("/v1/tenants/{tenant}/events"));
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_admin_a_key_of_the_tenant_and_nothing_else_get_through() {
        let store = Arc::new(EmbeddedStore::new());
        let (key, secret) = ApiKey::new(
            "store_1".parse().unwrap(),
            "ci".into(),
            OffsetDateTime::now_utc(),
        );
        store.create_api_key(&key, &secret.hash()).await.unwrap();
        let app = app(store);
        let bearer = |t: &str| format!("Bearer {t}");
        assert_eq!(
            status(&app, "store_1", Some(&bearer(ADMIN))).await,
            (200, "admin".into())
        );
        assert_eq!(
            status(&app, "store_1", Some(&bearer(secret.expose()))).await,
            (200, "store_1".into())
        );
        let (other, body) = status(&app, "store_2", Some(&bearer(secret.expose()))).await;
        assert_eq!(other, 403, "{body}");
        assert!(body.contains("tenant 'store_1'"), "{body}");
        for bad in [
            None,
            Some("Basic x".to_owned()),
            Some(bearer("nope")),
            Some(bearer(&format!("{ADMIN}x"))),
        ] {
            let (code, body) = status(&app, "store_1", bad.as_deref()).await;
            assert_eq!(code, 401, "{bad:?}: {body}");
            assert!(body.contains("\"status\":401"), "{body}");
        }
    }

    /// A credential store that fails the test when it is asked anything.
    struct Untouchable;

    #[async_trait::async_trait]
    impl CredentialStore for Untouchable {
        async fn create_api_key(&self, _: &ApiKey, _: &CredentialHash) -> Result<(), StoreError> {
            panic!("create_api_key")
        }
        async fn api_keys(
            &self,
            _: &TenantId,
            _: usize,
            _: Option<&str>,
        ) -> Result<Page<ApiKey>, StoreError> {
            panic!("api_keys")
        }
        async fn api_key_by_hash(&self, _: &CredentialHash) -> Result<Option<ApiKey>, StoreError> {
            panic!("api_key_by_hash")
        }
        async fn touch_api_key(
            &self,
            _: &TenantId,
            _: ApiKeyId,
            _: OffsetDateTime,
        ) -> Result<(), StoreError> {
            panic!("touch_api_key")
        }
        async fn revoke_api_key(&self, _: &TenantId, _: ApiKeyId) -> Result<bool, StoreError> {
            panic!("revoke_api_key")
        }
        async fn create_portal_session(
            &self,
            _: &PortalSession,
            _: &CredentialHash,
        ) -> Result<(), StoreError> {
            panic!("create_portal_session")
        }
        async fn portal_session(
            &self,
            _: &CredentialHash,
        ) -> Result<Option<PortalSession>, StoreError> {
            panic!("portal_session")
        }
    }

    #[tokio::test]
    async fn the_admin_token_costs_no_store_read() {
        // Shaped like a key, so only checking the admin token first avoids a lookup.
        let token = "ck_the-admin-token";
        let credentials = Credentials::new(AdminAuth::from_token(token), Arc::new(Untouchable));
        let principal = credentials
            .authenticate(Some(&format!("Bearer {token}")))
            .await
            .unwrap();
        assert_eq!(principal, Principal::Admin);
    }
}
