//! Daily statistics.

use async_trait::async_trait;
use time::Date;

use crate::ids::{EndpointId, TenantId};
use crate::ports::*;
use crate::stats::{DailyStats, STATS_RETENTION_DAYS, StatsDelta};

use super::{EmbeddedStore, now};

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
