//! Delivery progress records.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::ids::MessageId;
use crate::ports::*;

use super::{EmbeddedStore, now};

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
