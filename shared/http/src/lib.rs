//! The HTTP edge the `api` and `intake` functions share: the admin bearer
//! token check ([`auth`]), bearer credentials and their scopes for every
//! route ([`access`], over the decisions of `courier::access`), RFC 9457
//! problem responses ([`problem`]), JSON bodies with their size limits
//! ([`json`]), and path and query extraction ([`params`]). A crate of its
//! own so that no function crate depends on another.

#![warn(missing_docs)]

pub mod access;
pub mod auth;
pub mod json;
pub mod params;
pub mod problem;

use axum::Router;

/// Adds what every route shares: problem answers for unknown paths (404)
/// and unsupported methods (405), and the 256 KiB body limit (a route may
/// set its own with [`json::body_limit`]). The credential check
/// ([`access::require_credential`]) is layered on top by each function, so
/// that it runs first and nothing about the API is revealed without it.
pub fn with_fallbacks(routes: Router) -> Router {
    routes
        .method_not_allowed_fallback(problem::method_not_allowed)
        .fallback(problem::not_found)
        .layer(json::body_limit(json::API_BODY_LIMIT))
}
