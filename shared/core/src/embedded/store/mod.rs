//! All storage ports in one in-memory structure behind a mutex; one file
//! per port. Endpoints are kept without their secrets and custom headers,
//! which are kept sealed beside them (through the same [`SecretSealer`] port as DynamoDB,
//! with a local key), so the conformance suite covers sealing on both.

mod credentials;
mod endpoints;
mod event_types;
mod events;
mod log;
mod rate;
mod stats;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use time::{Date, OffsetDateTime};

use crate::attempt::DeliveryAttempt;
use crate::endpoint::Endpoint;
use crate::event::Event;
use crate::event_type::{EventType, EventTypeName};
use crate::ids::{DeliveryId, EndpointId, EventId, TenantId};
use crate::paging::MAX_PAGE;
use crate::ports::{SecretSealer, StoreError};
use crate::sealing::LocalSealer;
use crate::secrets_memo::SecretsMemo;
use crate::stats::StatsDelta;

#[derive(Default)]
struct State {
    /// Endpoints with empty `secrets` and `headers`: see `sealed_secrets`.
    /// Shared, so a read under the lock counts references and the copy is
    /// made after it (every delivery of the process waits on the lock).
    endpoints: BTreeMap<(TenantId, EndpointId), Arc<Endpoint>>,
    /// Each endpoint's secrets and custom headers, sealed.
    sealed_secrets: BTreeMap<(TenantId, EndpointId), Arc<[u8]>>,
    /// (tenant, filter as written) → enabled endpoints with that filter.
    subscriptions: BTreeMap<(TenantId, String), BTreeSet<EndpointId>>,
    events: HashMap<(TenantId, EventId), StoredEventRow>,
    log: BTreeMap<(TenantId, EndpointId), BTreeMap<DeliveryId, DeliveryAttempt>>,
    stats: BTreeMap<(TenantId, EndpointId, Date), StatsDelta>,
    event_types: BTreeMap<EventTypeName, EventType>,
    credentials: credentials::Credentials,
    /// Rate-limit counters: window (unix second) → (tenant, endpoint) → count.
    rate_windows: BTreeMap<i64, HashMap<(TenantId, EndpointId), u64>>,
}

struct StoredEventRow {
    event: Event,
    expires_at: OffsetDateTime,
    fanned_out: bool,
    /// Until when a request holds the fan-out (see `FAN_OUT_LEASE`).
    leased_until: OffsetDateTime,
    /// The last endpoint a stopped fan-out enqueued.
    resume_after: Option<EndpointId>,
}

impl State {
    /// An endpoint as kept (no secrets) and its sealed secrets.
    fn stored(&self, key: &(TenantId, EndpointId)) -> Option<(Arc<Endpoint>, Arc<[u8]>)> {
        let ep = self.endpoints.get(key)?.clone();
        Some((ep, self.sealed_secrets.get(key)?.clone()))
    }

    /// Keeps `ep` without its secrets and headers, and `sealed` beside it.
    fn keep(&mut self, mut ep: Endpoint, sealed: Vec<u8>) {
        let key = (ep.tenant_id.clone(), ep.id);
        ep.secrets.clear();
        ep.headers.clear();
        self.endpoints.insert(key.clone(), Arc::new(ep));
        self.sealed_secrets.insert(key, sealed.into());
    }

    fn index(&mut self, ep: &Endpoint) {
        if !ep.enabled {
            return;
        }
        for f in &ep.event_types {
            self.subscriptions
                .entry((ep.tenant_id.clone(), f.to_string()))
                .or_default()
                .insert(ep.id);
        }
    }

    fn unindex(&mut self, ep: &Endpoint) {
        for f in &ep.event_types {
            if let Some(set) = self
                .subscriptions
                .get_mut(&(ep.tenant_id.clone(), f.to_string()))
            {
                set.remove(&ep.id);
            }
        }
    }
}

/// The embedded store: every storage port, in memory.
pub struct EmbeddedStore {
    state: Mutex<State>,
    sealer: Arc<dyn SecretSealer>,
    /// What the sealer opened, by sealed value.
    secrets: SecretsMemo,
}

impl Default for EmbeddedStore {
    fn default() -> Self {
        // A key per process is enough: nothing here outlives the process.
        Self::with_sealer(Arc::new(LocalSealer::generate()))
    }
}

impl EmbeddedStore {
    /// An empty store sealing secrets with a fresh local key.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store sealing secrets with `sealer`.
    pub fn with_sealer(sealer: Arc<dyn SecretSealer>) -> Self {
        Self {
            state: Mutex::default(),
            sealer,
            secrets: SecretsMemo::new(),
        }
    }

    /// The endpoint as read from the state, its secrets and headers opened.
    async fn opened(
        &self,
        (ep, sealed): (Arc<Endpoint>, Arc<[u8]>),
    ) -> Result<Endpoint, StoreError> {
        let mut ep = Arc::unwrap_or_clone(ep);
        self.secrets
            .open(&*self.sealer, &ep.tenant_id, ep.id, &sealed)
            .await?
            .apply_to(&mut ep);
        Ok(ep)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn page_size(limit: usize) -> usize {
    limit.clamp(1, MAX_PAGE)
}
