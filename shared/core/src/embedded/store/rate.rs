//! Rate-limit counters: one per endpoint and second, dropped a minute after
//! their second as DynamoDB's TTL would.

use async_trait::async_trait;

use super::EmbeddedStore;
use crate::ids::{EndpointId, TenantId};
use crate::ports::{RateLimits, StoreError};
use crate::rate::WINDOW_RETENTION;

#[async_trait]
impl RateLimits for EmbeddedStore {
    async fn take_rate_slot(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        window: i64,
    ) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let windows = &mut state.rate_windows;
        // Windows are taken in about time order, so the oldest go first.
        let oldest_kept = window - WINDOW_RETENTION.as_secs() as i64;
        while windows
            .first_key_value()
            .is_some_and(|(w, _)| *w < oldest_kept)
        {
            windows.pop_first();
        }
        let count = windows
            .entry(window)
            .or_default()
            .entry((tenant.clone(), endpoint))
            .or_default();
        *count += 1;
        Ok(*count)
    }
}
