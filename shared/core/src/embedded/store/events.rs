//! Published events, their idempotency and the fan-out lease.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::event::Event;
use crate::ids::{EndpointId, EventId, TenantId};
use crate::ports::*;

use super::{EmbeddedStore, StoredEventRow, now};

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

    async fn mark_fanned_out(
        &self,
        event: &Event,
        _expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let key = (event.tenant_id.clone(), event.id.clone());
        // Only the event stored now: not a later one under the same id.
        if let Some(row) = self.lock().events.get_mut(&key)
            && row.event.created_at == event.created_at
        {
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
