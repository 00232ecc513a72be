//! All storage ports in one in-memory structure behind a mutex.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use time::{Date, OffsetDateTime};

use crate::attempt::{DeliveryAttempt, DeliveryQuery};
use crate::endpoint::{DisabledReason, Endpoint};
use crate::event::Event;
use crate::event_type::{EventType, EventTypeName};
use crate::ids::{DeliveryId, EndpointId, EventId, MessageId, TenantId};
use crate::paging::{MAX_PAGE, decode_cursor, encode_cursor, ulid_floor};
use crate::ports::*;
use crate::stats::{DailyStats, STATS_RETENTION_DAYS, StatsDelta};

#[derive(Default)]
struct State {
    endpoints: BTreeMap<(TenantId, EndpointId), Endpoint>,
    /// (tenant, filter as written) → enabled endpoints with that filter.
    subscriptions: BTreeMap<(TenantId, String), BTreeSet<EndpointId>>,
    events: HashMap<(TenantId, EventId), StoredEventRow>,
    log: BTreeMap<(TenantId, EndpointId), BTreeMap<DeliveryId, DeliveryAttempt>>,
    progress: HashMap<MessageId, (MessageProgress, OffsetDateTime)>,
    stats: BTreeMap<(TenantId, EndpointId, Date), StatsDelta>,
    event_types: BTreeMap<EventTypeName, EventType>,
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

#[async_trait]
impl EndpointStore for EmbeddedStore {
    async fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let mut s = self.lock();
        let key = (endpoint.tenant_id.clone(), endpoint.id);
        if s.endpoints.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        s.index(endpoint);
        s.endpoints.insert(key, endpoint.clone());
        Ok(())
    }

    async fn endpoint(
        &self,
        tenant: &TenantId,
        id: EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        Ok(self.lock().endpoints.get(&(tenant.clone(), id)).cloned())
    }

    async fn list_endpoints(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Endpoint>, StoreError> {
        let after = cursor.map(decode_cursor).transpose()?;
        let after: Option<EndpointId> = match after {
            Some(k) => Some(k.parse().map_err(|_| StoreError::InvalidCursor)?),
            None => None,
        };
        let s = self.lock();
        let limit = page_size(limit);
        let mut items: Vec<Endpoint> = s
            .endpoints
            .range(
                (
                    tenant.clone(),
                    after.unwrap_or(EndpointId::from_ulid(ulid::Ulid::nil())),
                )..,
            )
            .take_while(|((t, _), _)| t == tenant)
            .filter(|((_, id), _)| after.is_none_or(|a| *id > a))
            .take(limit + 1)
            .map(|(_, ep)| ep.clone())
            .collect();
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|ep| encode_cursor(&ep.id.to_string()))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn update_endpoint(
        &self,
        previous: &Endpoint,
        updated: &Endpoint,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let key = (previous.tenant_id.clone(), previous.id);
        let current = match s.endpoints.get(&key) {
            Some(ep) if ep.revision == previous.revision => ep.clone(),
            _ => return Err(StoreError::Conflict),
        };
        s.unindex(&current);
        s.index(updated);
        // Delivery bookkeeping is owned by record_outcome, except that a
        // re-enable (reflected in `updated`) resets it.
        let mut stored = updated.clone();
        if current.enabled == updated.enabled || !updated.enabled {
            stored.consecutive_failures = current.consecutive_failures;
        }
        stored.last_attempt_at = current.last_attempt_at;
        s.endpoints.insert(key, stored);
        Ok(())
    }

    async fn delete_endpoint(&self, tenant: &TenantId, id: EndpointId) -> Result<bool, StoreError> {
        let mut s = self.lock();
        match s.endpoints.remove(&(tenant.clone(), id)) {
            Some(ep) => {
                s.unindex(&ep);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn subscribed_endpoints_after(
        &self,
        tenant: &TenantId,
        event_type: &EventTypeName,
        after: Option<EndpointId>,
        limit: usize,
    ) -> Result<Vec<EndpointId>, StoreError> {
        let s = self.lock();
        let mut ids = BTreeSet::new();
        for filter in event_type.matching_filters() {
            if let Some(set) = s.subscriptions.get(&(tenant.clone(), filter.to_string())) {
                let later = set.iter().filter(|id| after.is_none_or(|a| **id > a));
                ids.extend(later.take(limit).copied());
            }
        }
        Ok(ids.into_iter().take(limit).collect())
    }

    async fn endpoint_count(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let s = self.lock();
        Ok(s.endpoints.keys().filter(|(t, _)| t == tenant).count())
    }

    async fn record_outcome(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        outcome: &EndpointOutcome,
        disable_after: u32,
    ) -> Result<Option<OutcomeRecorded>, StoreError> {
        let mut s = self.lock();
        let Some(ep) = s.endpoints.get_mut(&(tenant.clone(), id)) else {
            return Ok(None);
        };
        ep.consecutive_failures = if outcome.succeeded {
            outcome.failures
        } else {
            ep.consecutive_failures.saturating_add(outcome.failures)
        };
        if ep.last_attempt_at.is_none_or(|t| t < outcome.attempted_at) {
            ep.last_attempt_at = Some(outcome.attempted_at);
        }
        let reason = if outcome.gone {
            Some(DisabledReason::Gone)
        } else if ep.consecutive_failures >= disable_after {
            Some(DisabledReason::ConsecutiveFailures)
        } else {
            None
        };
        let mut disabled = None;
        if let Some(reason) = reason.filter(|_| ep.enabled) {
            ep.enabled = false;
            ep.disabled_reason = Some(reason);
            ep.revision += 1;
            disabled = Some(reason);
        }
        let recorded = OutcomeRecorded {
            consecutive_failures: ep.consecutive_failures,
            disabled,
        };
        if disabled.is_some() {
            let ep = ep.clone();
            s.unindex(&ep);
        }
        Ok(Some(recorded))
    }
}

#[async_trait]
impl EventStore for EmbeddedStore {
    async fn store_event(
        &self,
        event: &Event,
        expires_at: OffsetDateTime,
    ) -> Result<StoredEvent, StoreError> {
        let mut s = self.lock();
        let key = (event.tenant_id.clone(), event.id.clone());
        if let Some(row) = s.events.get(&key).filter(|r| r.expires_at > now()) {
            return Ok(if row.fanned_out {
                StoredEvent::Duplicate(row.event.clone())
            } else {
                StoredEvent::Unfinished(row.event.clone())
            });
        }
        s.events.insert(
            key,
            StoredEventRow {
                event: event.clone(),
                expires_at,
                fanned_out: false,
                leased_until: now() + FAN_OUT_LEASE,
                resume_after: None,
            },
        );
        Ok(StoredEvent::New)
    }

    async fn claim_fan_out(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<FanOutClaim, StoreError> {
        let mut s = self.lock();
        let now = now();
        let Some(row) = s
            .events
            .get_mut(&(tenant.clone(), id.clone()))
            .filter(|r| r.expires_at > now && !r.fanned_out)
        else {
            return Ok(FanOutClaim::Finished);
        };
        if row.leased_until > now {
            return Ok(FanOutClaim::Held);
        }
        row.leased_until = now + FAN_OUT_LEASE;
        Ok(FanOutClaim::Claimed {
            resume_after: row.resume_after,
        })
    }

    async fn release_fan_out(
        &self,
        tenant: &TenantId,
        id: &EventId,
        resume_after: Option<EndpointId>,
    ) -> Result<(), StoreError> {
        if let Some(row) = self.lock().events.get_mut(&(tenant.clone(), id.clone())) {
            row.leased_until = now();
            row.resume_after = resume_after;
        }
        Ok(())
    }

    async fn mark_fanned_out(&self, tenant: &TenantId, id: &EventId) -> Result<(), StoreError> {
        if let Some(row) = self.lock().events.get_mut(&(tenant.clone(), id.clone())) {
            row.fanned_out = true;
        }
        Ok(())
    }

    async fn event(&self, tenant: &TenantId, id: &EventId) -> Result<Option<Event>, StoreError> {
        let s = self.lock();
        Ok(s.events
            .get(&(tenant.clone(), id.clone()))
            .filter(|r| r.expires_at > now())
            .map(|r| r.event.clone()))
    }
}

#[async_trait]
impl DeliveryLog for EmbeddedStore {
    async fn record_attempts(&self, attempts: &[DeliveryAttempt]) -> Result<(), StoreError> {
        let mut s = self.lock();
        let t = now();
        for a in attempts {
            let log = s
                .log
                .entry((a.tenant_id.clone(), a.endpoint_id))
                .or_default();
            // Like TTL, expired entries eventually vanish; do it on write.
            log.retain(|_, e| e.expires_at > t);
            log.insert(a.id, a.clone());
        }
        Ok(())
    }

    async fn delivery(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryAttempt>, StoreError> {
        let s = self.lock();
        Ok(s.log
            .get(&(tenant.clone(), endpoint))
            .and_then(|log| log.get(&id))
            .filter(|a| a.expires_at > now())
            .cloned())
    }

    async fn recent_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        query: &DeliveryQuery,
    ) -> Result<Page<DeliveryAttempt>, StoreError> {
        let before: Option<DeliveryId> = match &query.cursor {
            Some(c) => Some(
                decode_cursor(c)?
                    .parse()
                    .map_err(|_| StoreError::InvalidCursor)?,
            ),
            None => None,
        };
        let limit = page_size(query.limit);
        let s = self.lock();
        let Some(log) = s.log.get(&(tenant.clone(), endpoint)) else {
            return Ok(Page {
                items: vec![],
                next_cursor: None,
            });
        };
        let t = now();
        let lower = DeliveryId::from_ulid(query.since.map(ulid_floor).unwrap_or(ulid::Ulid::nil()));
        let mut upper = query.until.map(|u| DeliveryId::from_ulid(ulid_floor(u)));
        if let Some(b) = before {
            upper = Some(upper.map_or(b, |u| u.min(b)));
        }
        let range = match upper {
            Some(u) if u <= lower => {
                return Ok(Page {
                    items: vec![],
                    next_cursor: None,
                });
            }
            Some(u) => log.range(lower..u),
            None => log.range(lower..),
        };
        let mut items: Vec<DeliveryAttempt> = range
            .rev()
            .map(|(_, a)| a)
            .filter(|a| a.expires_at > t && query.matches(a))
            .take(limit + 1)
            .cloned()
            .collect();
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|a| encode_cursor(&a.id.to_string()))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl DeliveryProgress for EmbeddedStore {
    async fn progress(&self, id: MessageId) -> Result<Option<MessageProgress>, StoreError> {
        let s = self.lock();
        Ok(s.progress
            .get(&id)
            .filter(|(_, exp)| *exp > now())
            .map(|(p, _)| *p))
    }

    async fn advance_progress(
        &self,
        id: MessageId,
        previous_attempts: u32,
        progress: MessageProgress,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let stored = s
            .progress
            .get(&id)
            .filter(|(_, exp)| *exp > now())
            .map(|(p, _)| p.attempts);
        if stored.unwrap_or(0) != previous_attempts {
            return Ok(false);
        }
        s.progress.insert(id, (progress, expires_at));
        Ok(true)
    }
}

#[async_trait]
impl StatsStore for EmbeddedStore {
    async fn add_stats(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        day: Date,
        delta: &StatsDelta,
    ) -> Result<(), StoreError> {
        self.lock()
            .stats
            .entry((tenant.clone(), endpoint, day))
            .or_default()
            .merge(delta);
        Ok(())
    }

    async fn daily_stats(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        from: Date,
        to: Date,
    ) -> Result<Vec<DailyStats>, StoreError> {
        // Like the TTL of the DynamoDB items: days past retention are gone.
        let oldest_kept = now().date() - time::Duration::days(STATS_RETENTION_DAYS - 1);
        let from = from.max(oldest_kept);
        if to < from {
            return Ok(vec![]);
        }
        let s = self.lock();
        Ok(s.stats
            .range((tenant.clone(), endpoint, from)..=(tenant.clone(), endpoint, to))
            .map(|((_, _, day), counts)| DailyStats {
                day: *day,
                counts: counts.clone(),
            })
            .collect())
    }
}

#[async_trait]
impl EventTypeStore for EmbeddedStore {
    async fn create_event_type(&self, event_type: &EventType) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.event_types.contains_key(&event_type.name) {
            return Err(StoreError::AlreadyExists);
        }
        s.event_types
            .insert(event_type.name.clone(), event_type.clone());
        Ok(())
    }

    async fn event_type(&self, name: &EventTypeName) -> Result<Option<EventType>, StoreError> {
        Ok(self.lock().event_types.get(name).cloned())
    }

    async fn list_event_types(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<EventType>, StoreError> {
        let after: Option<EventTypeName> = match cursor {
            Some(c) => Some(
                decode_cursor(c)?
                    .parse()
                    .map_err(|_| StoreError::InvalidCursor)?,
            ),
            None => None,
        };
        let limit = page_size(limit);
        let s = self.lock();
        let mut items: Vec<EventType> = s
            .event_types
            .values()
            .filter(|t| after.as_ref().is_none_or(|a| &t.name > a))
            .take(limit + 1)
            .cloned()
            .collect();
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|t| encode_cursor(t.name.as_str()))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn delete_event_type(&self, name: &EventTypeName) -> Result<bool, StoreError> {
        Ok(self.lock().event_types.remove(name).is_some())
    }
}
