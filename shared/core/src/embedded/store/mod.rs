//! All storage ports in one in-memory structure behind a mutex; one file
//! per port.

mod credentials;
mod endpoints;
mod event_types;
mod events;
mod log;
mod stats;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use time::{Date, OffsetDateTime};

use crate::attempt::DeliveryAttempt;
use crate::endpoint::Endpoint;
use crate::event::Event;
use crate::event_type::{EventType, EventTypeName};
use crate::ids::{DeliveryId, EndpointId, EventId, TenantId};
use crate::paging::MAX_PAGE;
use crate::stats::StatsDelta;

#[derive(Default)]
struct State {
    endpoints: BTreeMap<(TenantId, EndpointId), Endpoint>,
    /// (tenant, filter as written) → enabled endpoints with that filter.
    subscriptions: BTreeMap<(TenantId, String), BTreeSet<EndpointId>>,
    events: HashMap<(TenantId, EventId), StoredEventRow>,
    log: BTreeMap<(TenantId, EndpointId), BTreeMap<DeliveryId, DeliveryAttempt>>,
    stats: BTreeMap<(TenantId, EndpointId, Date), StatsDelta>,
    event_types: BTreeMap<EventTypeName, EventType>,
    credentials: credentials::Credentials,
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
#[derive(Default)]
pub struct EmbeddedStore {
    state: Mutex<State>,
}

impl EmbeddedStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
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
