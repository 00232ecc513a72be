//! Endpoints and their subscription index.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::circuit::{CircuitState, HealthRules, Observed};
use crate::endpoint::Endpoint;
use crate::event_type::EventTypeName;
use crate::ids::{EndpointId, TenantId};
use crate::paging::{decode_cursor, encode_cursor};
use crate::ports::*;
use crate::sealing::seal_secrets;

use super::{EmbeddedStore, State, page_size};

#[async_trait]
impl EndpointStore for EmbeddedStore {
    async fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        // Sealed before the lock is taken: sealing may await.
        let sealed = seal_secrets(&*self.sealer, endpoint).await?;
        let mut s = self.lock();
        let key = (endpoint.tenant_id.clone(), endpoint.id);
        if s.endpoints.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        s.index(endpoint);
        s.keep(endpoint.clone(), sealed);
        Ok(())
    }

    async fn endpoint(
        &self,
        tenant: &TenantId,
        id: EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        let stored = self.lock().stored(&(tenant.clone(), id));
        match stored {
            Some(stored) => Ok(Some(self.opened(stored).await?)),
            None => Ok(None),
        }
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
        let limit = page_size(limit);
        let stored: Vec<_> = {
            let s = self.lock();
            s.endpoints
                .range(
                    (
                        tenant.clone(),
                        after.unwrap_or(EndpointId::from_ulid(ulid::Ulid::nil())),
                    )..,
                )
                .take_while(|((t, _), _)| t == tenant)
                .filter(|((_, id), _)| after.is_none_or(|a| *id > a))
                .take(limit + 1)
                .filter_map(|(key, _)| s.stored(key))
                .collect()
        };
        let mut items = Vec::with_capacity(stored.len());
        for ep in stored {
            items.push(self.opened(ep).await?);
        }
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
        let sealed = seal_secrets(&*self.sealer, updated).await?;
        let mut s = self.lock();
        let key = (previous.tenant_id.clone(), previous.id);
        let current = match s.endpoints.get(&key) {
            Some(ep) if ep.revision == previous.revision => Endpoint::clone(ep),
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
        if current.enabled == updated.enabled || !updated.enabled {
            stored.circuit = current.circuit.clone();
            stored.probe_lease_until = current.probe_lease_until;
        }
        s.keep(stored, sealed);
        Ok(())
    }

    async fn delete_endpoint(&self, tenant: &TenantId, id: EndpointId) -> Result<bool, StoreError> {
        let mut s = self.lock();
        s.sealed_secrets.remove(&(tenant.clone(), id));
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
        attempts: &[Observed],
        rules: &HealthRules,
    ) -> Result<Option<OutcomeRecorded>, StoreError> {
        Ok(self.lock().apply_outcome(tenant, id, attempts, rules))
    }

    async fn claim_probe(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        seen: Option<OffsetDateTime>,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let Some(ep) = s.endpoints.get_mut(&(tenant.clone(), id)) else {
            return Ok(false);
        };
        let ep = Arc::make_mut(ep);
        let free = ep.probe_lease_until.is_none_or(|t| t < now);
        if ep.circuit.state != CircuitState::Open || ep.circuit.next_attempt_at != seen || !free {
            return Ok(false);
        }
        ep.probe_lease_until = Some(until);
        Ok(true)
    }
}

impl State {
    /// [`EndpointStore::record_outcome`] on the locked state, so a log entry
    /// and its effect on the endpoint can be one step.
    pub(super) fn apply_outcome(
        &mut self,
        tenant: &TenantId,
        id: EndpointId,
        attempts: &[Observed],
        rules: &HealthRules,
    ) -> Option<OutcomeRecorded> {
        let ep = Arc::make_mut(self.endpoints.get_mut(&(tenant.clone(), id))?);
        let mut disabled = None;
        for o in attempts {
            let enabled = ep.enabled;
            let seen = ep
                .circuit
                .observe(&mut ep.consecutive_failures, enabled, o, rules);
            if let Some(reason) = seen.disable.filter(|_| enabled) {
                ep.enabled = false;
                ep.disabled_reason = Some(reason);
                ep.revision += 1;
                disabled = Some(reason);
            }
            if let Some(state) = seen.changed {
                crate::circuit::report_change(tenant, id, state, ep.consecutive_failures);
            }
            if o.probe {
                ep.probe_lease_until = None;
            }
            if ep.last_attempt_at.is_none_or(|t| t < o.logged_at) {
                ep.last_attempt_at = Some(o.logged_at);
            }
        }
        let recorded = OutcomeRecorded {
            consecutive_failures: ep.consecutive_failures,
            disabled,
        };
        if disabled.is_some() {
            let ep = ep.clone();
            self.unindex(&ep);
        }
        Some(recorded)
    }
}
