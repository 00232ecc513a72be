//! The delivery log.

use async_trait::async_trait;

use crate::attempt::{DeliveryAttempt, DeliveryQuery};
use crate::circuit::HealthRules;
use crate::ids::{DeliveryId, EndpointId, TenantId};
use crate::paging::{decode_cursor, encode_cursor, ulid_floor};
use crate::ports::*;

use crate::policy;
use crate::stats::StatsDelta;

use super::{EmbeddedStore, State, now, page_size};

#[async_trait]
impl DeliveryLog for EmbeddedStore {
    async fn record_attempt(
        &self,
        attempt: &DeliveryAttempt,
        rules: &HealthRules,
    ) -> Result<Recorded, StoreError> {
        // Copied before the lock: every delivery of the process waits on it.
        let entry = attempt.clone();
        let mut s = self.lock();
        let key = (attempt.tenant_id.clone(), attempt.endpoint_id);
        if s.log
            .get(&key)
            .is_some_and(|log| log.contains_key(&attempt.id))
        {
            return Ok(Recorded::Duplicate);
        }
        s.insert_entry(entry);
        // Counted under the same lock: the entry and its effects are one step.
        let mut counted = None;
        if let (Some(result), Some(observed)) =
            (policy::result_of(attempt), policy::observed(attempt))
        {
            let mut delta = StatsDelta::default();
            delta.count(result);
            let day = (
                attempt.tenant_id.clone(),
                attempt.endpoint_id,
                attempt.created_at.date(),
            );
            s.stats.entry(day).or_default().merge(&delta);
            counted = s.apply_outcome(&attempt.tenant_id, attempt.endpoint_id, &[observed], rules);
            if let Some(recorded) = &counted
                && let Some(reason) = recorded.disabled
            {
                crate::metrics::endpoint_disabled();
                tracing::warn!(
                    tenant_id = %attempt.tenant_id, endpoint_id = %attempt.endpoint_id,
                    consecutive_failures = recorded.consecutive_failures,
                    reason = ?reason, "endpoint disabled"
                );
            }
        }
        Ok(Recorded::Counted(counted))
    }

    async fn find_attempt(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryAttempt>, StoreError> {
        Ok(self.lock().entry(tenant, endpoint, id).cloned())
    }

    async fn record_attempts(&self, attempts: &[DeliveryAttempt]) -> Result<(), StoreError> {
        let mut s = self.lock();
        for a in attempts {
            s.insert_entry(a.clone());
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
        Ok(s.entry(tenant, endpoint, id)
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

impl State {
    /// The stored entry under `id`, expired or not.
    fn entry(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        id: DeliveryId,
    ) -> Option<&DeliveryAttempt> {
        self.log.get(&(tenant.clone(), endpoint))?.get(&id)
    }

    /// Adds an entry, first dropping expired ones like TTL would: from the
    /// oldest end only (ids are time-ordered), so an insert scans nothing.
    fn insert_entry(&mut self, a: DeliveryAttempt) {
        let t = now();
        let log = self
            .log
            .entry((a.tenant_id.clone(), a.endpoint_id))
            .or_default();
        while let Some(oldest) = log.first_entry() {
            if oldest.get().expires_at > t {
                break;
            }
            oldest.remove();
        }
        log.insert(a.id, a);
    }
}
