//! Courier's API (DESIGN §4): event types, endpoints and their secrets, the
//! delivery log with resends, test events and recovery, daily statistics,
//! tenant API keys and portal sessions, and the embeddable webhooks panel
//! at `/portal`, as an axum router that the Lambda, the local server and
//! the tests all mount.
//!
//! Every route but the panel's static files needs a bearer credential: the
//! admin token, a tenant API key or a portal token, checked by the
//! credential check the intake function uses too
//! ([`courier_http::access`]), whose rule table
//! ([`courier::access::scope`]) decides what each may call. Tokens are
//! never logged; only a key's id is. Errors are RFC 9457
//! problems ([`problem`]); request bodies are JSON of at most 256 KiB with
//! unknown fields refused ([`json`]). That HTTP edge lives in
//! `courier-http`, shared with the intake function, and is re-exported here
//! under the same names.

#![warn(missing_docs)]

pub mod api_keys;
pub mod deliveries;
pub mod endpoints;
pub mod event_types;
pub mod events;
pub mod model;
pub mod openapi;
pub mod portal;
pub mod portal_sessions;
pub mod recover;
pub mod resend;
pub mod secrets;
pub mod stats;
pub mod test_events;

pub use courier_http::{auth, json, params, problem};

use std::sync::Arc;

use axum::Router;
use courier::config::Settings;
use courier::operational::Operations;
use courier::ports::{DeliveryQueue, Store};
use courier_http::access::{Credentials, require_credential};

use crate::auth::AdminAuth;
use crate::portal::PortalSettings;

/// What the handlers share: storage, the delivery queue (for test events,
/// resends and recoveries), the deployment's settings and the credential checks.
#[derive(Clone)]
pub struct ApiState {
    /// All storage ports.
    pub store: Arc<dyn Store>,
    /// Where deliveries are enqueued.
    pub queue: Arc<dyn DeliveryQueue>,
    /// Deployment settings (e.g. whether private targets are allowed).
    pub settings: Settings,
    /// The panel's settings.
    pub portal: PortalSettings,
    /// The credential check: the admin token, then tenant credentials in
    /// `store`; the panel's files need none.
    pub credentials: Credentials,
    /// Publishes the operational webhooks (`webhooks.endpoint.enabled`).
    pub operations: Operations,
}

impl ApiState {
    /// The state with the panel's default settings.
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn DeliveryQueue>,
        settings: Settings,
        auth: AdminAuth,
    ) -> Self {
        let credentials = Credentials::new(auth, store.clone()).with_public(portal::is_public);
        let operations = Operations::new(store.clone(), queue.clone(), &settings);
        Self {
            store,
            queue,
            settings,
            portal: PortalSettings::default(),
            credentials,
            operations,
        }
    }

    /// The same state with the panel's `portal` settings.
    pub fn with_portal(mut self, portal: PortalSettings) -> Self {
        self.portal = portal;
        self
    }
}

/// The complete API: [`routes`] finished by [`finish`].
pub fn router(state: ApiState) -> Router {
    finish(routes(state.clone()), state)
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
        .merge(recover::routes())
        .merge(test_events::routes())
        .merge(stats::routes())
        .merge(api_keys::routes())
        .merge(portal_sessions::routes())
        .merge(portal::routes())
        .with_state(state)
}

/// Adds what every route shares: problem answers for unknown paths and
/// methods, the body limit, and the credential check with its scopes
/// ([`require_credential`]), which runs first so nothing about the API is
/// revealed without a credential.
pub fn finish(routes: Router, state: ApiState) -> Router {
    courier_http::with_fallbacks(routes).layer(axum::middleware::from_fn_with_state(
        state.credentials,
        require_credential,
    ))
}
