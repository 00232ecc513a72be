//! The HTTP edge the `api` and `intake` functions share: the admin bearer
//! token check ([`auth`]), RFC 9457 problem responses ([`problem`]), JSON
//! bodies with their size limits ([`json`]), and path and query extraction
//! ([`params`]). A crate of its own so that no function crate depends on
//! another.

#![warn(missing_docs)]

pub mod auth;
pub mod json;
pub mod params;
pub mod problem;

use axum::Router;

use crate::auth::AdminAuth;

/// Adds what every route shares: problem answers for unknown paths (404)
/// and unsupported methods (405), the 256 KiB body limit (a route may set
/// its own with [`json::body_limit`]) and the admin token check, which runs
/// first so nothing about the API is revealed without it.
pub fn finish(routes: Router, auth: AdminAuth) -> Router {
    with_fallbacks(routes).layer(axum::middleware::from_fn_with_state(
        auth,
        auth::require_admin,
    ))
}

/// [`finish`] without the authentication layer, for a router that brings
/// its own (the admin API, which also takes tenant credentials).
pub fn with_fallbacks(routes: Router) -> Router {
    routes
        .method_not_allowed_fallback(problem::method_not_allowed)
        .fallback(problem::not_found)
        .layer(json::body_limit(json::API_BODY_LIMIT))
}
