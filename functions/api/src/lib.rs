//! Courier's admin API (DESIGN §4): event types, endpoints and their
//! secrets, the delivery log with resends and test events, and daily
//! statistics, as an axum router that the Lambda, the local server and the
//! tests all mount.
//!
//! Every route needs the admin bearer token; errors are RFC 9457 problems
//! ([`problem`]); request bodies are JSON of at most 256 KiB with unknown
//! fields refused ([`json`]). That HTTP edge lives in `courier-http`, shared
//! with the intake function, and is re-exported here under the same names.

#![warn(missing_docs)]

pub mod deliveries;
pub mod endpoints;
pub mod event_types;
pub mod model;
pub mod openapi;
pub mod resend;
pub mod secrets;
pub mod stats;
pub mod test_events;

pub use courier_http::{auth, finish, json, params, problem};

use std::sync::Arc;

use axum::Router;
use courier::config::Settings;
use courier::ports::{DeliveryQueue, Store};

use crate::auth::AdminAuth;

/// What the handlers share: storage, the delivery queue (for test events
/// and resends), the deployment's settings and the admin token check.
#[derive(Clone)]
pub struct ApiState {
    /// All storage ports.
    pub store: Arc<dyn Store>,
    /// Where deliveries are enqueued.
    pub queue: Arc<dyn DeliveryQueue>,
    /// Deployment settings (e.g. whether private targets are allowed).
    pub settings: Settings,
    /// The admin token check.
    pub auth: AdminAuth,
}

/// The complete admin API: [`routes`] finished by [`finish`].
pub fn router(state: ApiState) -> Router {
    let auth = state.auth.clone();
    finish(routes(state), auth)
}

/// The API's routes with their state, without authentication or
/// fallbacks, so a server can merge other routes (intake) before calling
/// [`finish`] once on the whole.
pub fn routes(state: ApiState) -> Router {
    Router::new()
        .merge(event_types::routes())
        .merge(endpoints::routes())
        .merge(secrets::routes())
        .merge(deliveries::routes())
        .merge(resend::routes())
        .merge(test_events::routes())
        .merge(stats::routes())
        .with_state(state)
}
