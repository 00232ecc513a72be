//! What each credential may call. The rule table is
//! [`courier::access::scope`], shared with the intake function; the
//! middleware in [`super`] applies it before every handler, and the OpenAPI
//! document derives each route's security schemes from [`check`].

pub use courier::access::Scope;
pub use courier_http::access::check;
