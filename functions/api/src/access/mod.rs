//! Who is calling, and whether they may: the admin token, a tenant API key
//! (`ck_…`) or a portal token (`cpt_…`), checked for every route but the
//! panel's static files by the credential check the intake function uses
//! too ([`courier_http::access`], over the decisions of
//! [`courier::access`]); [`scope`] is its rule table. Tokens are never
//! logged; only a key's id is.

pub mod scope;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use courier_http::access::Credentials;

use crate::ApiState;

pub use courier::access::{KeyUses, Principal};

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
    let credentials = Credentials {
        admin: &state.auth,
        store: &*state.store,
        key_uses: &state.key_uses,
    };
    credentials.admit(request, next).await
}
