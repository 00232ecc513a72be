//! API keys and portal sessions.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::credentials::{ApiKey, ApiKeyId, CredentialHash, CredentialStore, PortalSession};
use crate::ids::TenantId;
use crate::paging::{decode_cursor, encode_cursor};
use crate::ports::*;

use super::{EmbeddedStore, now, page_size};

/// The credentials part of the embedded store's state.
#[derive(Default)]
pub(super) struct Credentials {
    /// (tenant, key id) → the key and the hash of its secret.
    keys: BTreeMap<(TenantId, ApiKeyId), (ApiKey, CredentialHash)>,
    /// The lookup index: hash of a live key's secret → its place in `keys`.
    by_hash: HashMap<CredentialHash, (TenantId, ApiKeyId)>,
    sessions: HashMap<CredentialHash, PortalSession>,
}

#[async_trait]
impl CredentialStore for EmbeddedStore {
    async fn create_api_key(&self, key: &ApiKey, hash: &CredentialHash) -> Result<(), StoreError> {
        let mut s = self.lock();
        let c = &mut s.credentials;
        let place = (key.tenant_id.clone(), key.id);
        if c.keys.contains_key(&place) || c.by_hash.contains_key(hash) {
            return Err(StoreError::AlreadyExists);
        }
        c.by_hash.insert(*hash, place.clone());
        c.keys.insert(place, (key.clone(), *hash));
        Ok(())
    }

    async fn api_keys(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ApiKey>, StoreError> {
        let after: Option<ApiKeyId> = match cursor {
            Some(c) => Some(
                decode_cursor(c)?
                    .parse()
                    .map_err(|_| StoreError::InvalidCursor)?,
            ),
            None => None,
        };
        let limit = page_size(limit);
        let s = self.lock();
        let mut items: Vec<ApiKey> = s
            .credentials
            .keys
            .iter()
            .filter(|((t, id), _)| t == tenant && after.is_none_or(|a| *id > a))
            .take(limit + 1)
            .map(|(_, (key, _))| key.clone())
            .collect();
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|k| encode_cursor(&k.id.to_string()))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn api_key_by_hash(&self, hash: &CredentialHash) -> Result<Option<ApiKey>, StoreError> {
        let s = self.lock();
        let c = &s.credentials;
        Ok(c.by_hash
            .get(hash)
            .and_then(|place| c.keys.get(place))
            .map(|(key, _)| key.clone()))
    }

    async fn touch_api_key(
        &self,
        tenant: &TenantId,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if let Some((key, _)) = self.lock().credentials.keys.get_mut(&(tenant.clone(), id)) {
            key.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn revoke_api_key(&self, tenant: &TenantId, id: ApiKeyId) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let c = &mut s.credentials;
        match c.keys.remove(&(tenant.clone(), id)) {
            Some((_, hash)) => {
                c.by_hash.remove(&hash);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn create_portal_session(
        &self,
        session: &PortalSession,
        hash: &CredentialHash,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let sessions = &mut s.credentials.sessions;
        // Expired sessions go as new ones come, as DynamoDB's TTL would drop them.
        let now = now();
        sessions.retain(|_, existing| !existing.expired(now));
        if sessions.contains_key(hash) {
            return Err(StoreError::AlreadyExists);
        }
        sessions.insert(*hash, session.clone());
        Ok(())
    }

    async fn portal_session(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<PortalSession>, StoreError> {
        Ok(self.lock().credentials.sessions.get(hash).cloned())
    }
}
