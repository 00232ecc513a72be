//! Opened endpoint secrets, remembered by their sealed bytes, so that
//! reading an endpoint again (every batch of its deliveries does) costs a
//! lookup instead of an AES-GCM open and a JSON decode.
//!
//! The memo is exact: a sealed value is immutable (every write seals anew,
//! with a fresh nonce), so the same bytes for the same endpoint always open
//! to the same secrets, and a rotation or a header change writes new bytes
//! that miss. A hit also needs the same tenant and endpoint: a sealed value
//! copied onto another endpoint is opened (and refused) as before. What is
//! remembered is what the endpoints read from the store hold anyway; it
//! never reaches a log (`Debug` prints a count). A store whose sealer's
//! key can be revoked (KMS) remembers for as long as that sealer caches
//! its keys, so revoking the key stops reads as soon as it did before.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ids::{EndpointId, TenantId};
use crate::ports::{SecretSealer, StoreError};
use crate::sealing::{SealedParts, open_secrets};

/// Opened secrets remembered at most; the memo starts afresh when full, so
/// a process that sees more endpoints than this opens some again.
pub const MAX_REMEMBERED: usize = 4_096;

/// Sealed bytes → the endpoint they were opened for, when, and what they hold.
type Opened = HashMap<Vec<u8>, (TenantId, EndpointId, Instant, SealedParts)>;

/// The memo of one store and its sealer.
#[derive(Default)]
pub struct SecretsMemo {
    opened: Mutex<Opened>,
    /// How long an opened value is remembered; for ever when `None`.
    max_age: Option<Duration>,
}

impl SecretsMemo {
    /// An empty memo that remembers for as long as the store lives (a
    /// sealer whose key cannot be revoked).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty memo that opens a value again once `max_age` has passed.
    pub fn with_max_age(max_age: Duration) -> Self {
        Self {
            opened: Mutex::default(),
            max_age: Some(max_age),
        }
    }

    /// What `sealed` holds for the endpoint `tenant`/`id`: remembered, or
    /// opened with `sealer` (see [`open_secrets`]) and remembered.
    pub async fn open(
        &self,
        sealer: &dyn SecretSealer,
        tenant: &TenantId,
        id: EndpointId,
        sealed: &[u8],
    ) -> Result<SealedParts, StoreError> {
        if let Some((t, i, at, parts)) = self.lock().get(sealed)
            && t == tenant
            && *i == id
            && self.max_age.is_none_or(|max| at.elapsed() < max)
        {
            return Ok(parts.clone());
        }
        let parts = open_secrets(sealer, tenant, id, sealed).await?;
        let mut opened = self.lock();
        if opened.len() >= MAX_REMEMBERED {
            opened.clear();
        }
        opened.insert(
            sealed.to_vec(),
            (tenant.clone(), id, Instant::now(), parts.clone()),
        );
        Ok(parts)
    }

    /// How many opened values are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Opened> {
        // Plain data: a panic elsewhere while holding it leaves nothing torn.
        self.opened.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for SecretsMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The count only: never what is remembered.
        write!(f, "SecretsMemo({} remembered)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::SealError;
    use crate::sealing::tests::endpoint;
    use crate::sealing::{LocalSealer, seal_secrets};
    use crate::signing::Secret;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A local sealer that counts its opens.
    #[derive(Debug)]
    struct Counting(LocalSealer, AtomicUsize);

    #[async_trait]
    impl SecretSealer for Counting {
        async fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
            self.0.seal(context, plaintext).await
        }

        async fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
            self.1.fetch_add(1, Ordering::Relaxed);
            self.0.open(context, sealed).await
        }
    }

    #[tokio::test]
    async fn the_same_sealed_value_is_opened_once_and_a_new_one_again() {
        let sealer = Counting(LocalSealer::generate(), AtomicUsize::new(0));
        let memo = SecretsMemo::new();
        let mut ep = endpoint();
        let sealed = seal_secrets(&sealer, &ep).await.unwrap();
        for _ in 0..3 {
            let parts = memo
                .open(&sealer, &ep.tenant_id, ep.id, &sealed)
                .await
                .unwrap();
            assert_eq!(parts.secrets, ep.secrets);
        }
        assert_eq!(sealer.1.load(Ordering::Relaxed), 1);
        // A rotation seals anew: the new secrets are opened, not the old.
        ep.rotate_secret(
            Secret::generate(),
            time::Duration::hours(1),
            time::OffsetDateTime::now_utc(),
        );
        let rotated = seal_secrets(&sealer, &ep).await.unwrap();
        let parts = memo
            .open(&sealer, &ep.tenant_id, ep.id, &rotated)
            .await
            .unwrap();
        assert_eq!(parts.secrets, ep.secrets);
        assert_eq!(sealer.1.load(Ordering::Relaxed), 2);
        assert_eq!(memo.len(), 2);
    }

    #[tokio::test]
    async fn a_remembered_value_copied_onto_another_endpoint_is_still_refused() {
        let sealer = LocalSealer::generate();
        let memo = SecretsMemo::new();
        let ep = endpoint();
        let sealed = seal_secrets(&sealer, &ep).await.unwrap();
        memo.open(&sealer, &ep.tenant_id, ep.id, &sealed)
            .await
            .unwrap();
        let other = EndpointId::generate();
        assert!(
            memo.open(&sealer, &ep.tenant_id, other, &sealed)
                .await
                .is_err()
        );
        let stranger: TenantId = "t2".parse().unwrap();
        assert!(memo.open(&sealer, &stranger, ep.id, &sealed).await.is_err());
        // And a value that does not open is not remembered.
        assert_eq!(memo.len(), 1);
    }

    #[tokio::test]
    async fn a_value_older_than_the_max_age_is_opened_again() {
        let sealer = Counting(LocalSealer::generate(), AtomicUsize::new(0));
        let ep = endpoint();
        let sealed = seal_secrets(&sealer, &ep).await.unwrap();
        let memo = SecretsMemo::with_max_age(Duration::from_millis(30));
        for _ in 0..2 {
            memo.open(&sealer, &ep.tenant_id, ep.id, &sealed)
                .await
                .unwrap();
        }
        assert_eq!(sealer.1.load(Ordering::Relaxed), 1);
        std::thread::sleep(Duration::from_millis(40));
        memo.open(&sealer, &ep.tenant_id, ep.id, &sealed)
            .await
            .unwrap();
        assert_eq!(sealer.1.load(Ordering::Relaxed), 2, "too old: opened again");
    }

    #[tokio::test]
    async fn a_full_memo_starts_afresh() {
        let sealer = LocalSealer::generate();
        let memo = SecretsMemo::new();
        let ep = endpoint();
        for _ in 0..=MAX_REMEMBERED {
            let sealed = seal_secrets(&sealer, &ep).await.unwrap();
            memo.open(&sealer, &ep.tenant_id, ep.id, &sealed)
                .await
                .unwrap();
        }
        assert_eq!(memo.len(), 1, "cleared at {MAX_REMEMBERED}, then one");
    }
}
