//! Who presents a bearer credential, and what it may call: the one place
//! the api and the intake functions decide it (their HTTP edge,
//! `courier-http`, only reads the header and maps the answer to a problem).
//!
//! - The platform's admin token is recognised by the caller first, by
//!   comparing digests in constant time: it costs no store read, so
//!   publishing with it costs what it always did.
//! - A tenant API key (`ck_…`) or portal token (`cpt_…`) costs one read
//!   ([`tenant_credential`]): a `GetItem` by the token's SHA-256 on
//!   DynamoDB. Nothing is cached, because revoking a key takes effect at
//!   its next request. A key's use is also written (`lastUsedAt`), at most
//!   once a minute per key and process ([`KeyUses`]).
//! - [`scope::check`] then decides the route.
//!
//! Tokens are never logged; only a key's id is.

pub mod scope;

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

use crate::credentials::{
    API_KEY_PREFIX, ApiKey, ApiKeyId, CredentialHash, CredentialStore, PORTAL_TOKEN_PREFIX,
    PortalSession,
};
use crate::ids::TenantId;
use crate::ports::StoreError;

pub use scope::{Scope, check};

/// How stale a key's `lastUsedAt` may get: a key used all day costs one
/// write a minute per warm function instance, not one per request.
const LAST_USED_PRECISION: Duration = Duration::minutes(1);

/// Keys tracked by [`KeyUses`] before it starts over (bounded memory).
const MAX_TRACKED_KEYS: usize = 10_000;

/// Why a credential is refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// No valid credential: missing, unknown, revoked or expired (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid credential that may not call this route (403).
    #[error("{0}")]
    Forbidden(String),
    /// The credential could not be looked up.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The credential a request was authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The platform's admin token.
    Admin,
    /// A tenant API key.
    ApiKey(ApiKey),
    /// A portal session.
    Portal(PortalSession),
}

impl Principal {
    /// What [`scope::check`] needs to know.
    pub fn scope(&self) -> Scope<'_> {
        match self {
            Self::Admin => Scope::Admin,
            Self::ApiKey(key) => Scope::Tenant {
                tenant: &key.tenant_id,
                read_only: false,
            },
            Self::Portal(session) => Scope::Tenant {
                tenant: &session.tenant_id,
                read_only: session.read_only,
            },
        }
    }

    /// The tenant a tenant credential is bound to.
    pub fn tenant(&self) -> Option<&TenantId> {
        match self.scope() {
            Scope::Admin => None,
            Scope::Tenant { tenant, .. } => Some(tenant),
        }
    }
}

/// When each API key's use was last written, so `lastUsedAt` costs a write
/// a minute rather than one per request. One per process.
#[derive(Debug, Default)]
pub struct KeyUses(Mutex<HashMap<ApiKeyId, OffsetDateTime>>);

impl KeyUses {
    /// True when a use at `now` should be written (and notes that it is).
    fn due(&self, id: ApiKeyId, now: OffsetDateTime) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen
            .get(&id)
            .is_some_and(|last| now - *last < LAST_USED_PRECISION)
        {
            return false;
        }
        if seen.len() >= MAX_TRACKED_KEYS {
            seen.clear();
        }
        seen.insert(id, now);
        true
    }
}

/// The tenant credential `token` is, at `now`: a live API key (its use
/// noted in `uses`, and written when due) or an unexpired portal session.
/// Anything else is [`AccessError::Unauthenticated`]. Call it only once the
/// token is known not to be the admin token. One store read.
pub async fn tenant_credential(
    store: &dyn CredentialStore,
    uses: &KeyUses,
    token: &str,
    now: OffsetDateTime,
) -> Result<Principal, AccessError> {
    if token.starts_with(API_KEY_PREFIX) {
        let Some(key) = store.api_key_by_hash(&CredentialHash::of(token)).await? else {
            return Err(AccessError::Unauthenticated(
                "the API key is not valid: it was revoked or never issued".into(),
            ));
        };
        // `lastUsedAt` is a hint: a failed write must not fail the request.
        if uses.due(key.id, now)
            && let Err(err) = store.touch_api_key(&key.tenant_id, key.id, now).await
        {
            tracing::warn!(api_key_id = %key.id, error = %err, "could not record the API key's use");
        }
        tracing::debug!(api_key_id = %key.id, tenant_id = %key.tenant_id, "request with an API key");
        return Ok(Principal::ApiKey(key));
    }
    if token.starts_with(PORTAL_TOKEN_PREFIX) {
        let session = store
            .portal_session(&CredentialHash::of(token))
            .await?
            .ok_or_else(|| {
                AccessError::Unauthenticated(
                    "the portal token is not valid; open the panel again from the platform".into(),
                )
            })?;
        if session.expired(now) {
            return Err(AccessError::Unauthenticated(
                "the portal session has expired; open the panel again from the platform".into(),
            ));
        }
        return Ok(Principal::Portal(session));
    }
    Err(AccessError::Unauthenticated(
        "the bearer token is not the admin token, an API key or a portal token".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::BearerSecret;
    use crate::embedded::EmbeddedStore;

    #[test]
    fn a_key_use_is_written_once_a_minute() {
        let uses = KeyUses::default();
        let (a, b) = (ApiKeyId::generate(), ApiKeyId::generate());
        let t = OffsetDateTime::now_utc();
        assert!(uses.due(a, t));
        assert!(!uses.due(a, t + Duration::seconds(59)));
        assert!(uses.due(b, t + Duration::seconds(1)));
        assert!(uses.due(a, t + Duration::seconds(60)));
    }

    fn refused(result: Result<Principal, AccessError>) -> String {
        match result {
            Err(AccessError::Unauthenticated(why)) => why,
            other => panic!("expected a 401, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_key_is_its_tenants_until_revoked_and_its_use_is_recorded() {
        let store = EmbeddedStore::new();
        let uses = KeyUses::default();
        let now = OffsetDateTime::now_utc();
        let (key, secret) = ApiKey::new("store_1".parse().unwrap(), "ci".into(), now);
        store.create_api_key(&key, &secret.hash()).await.unwrap();

        let found = tenant_credential(&store, &uses, secret.expose(), now)
            .await
            .unwrap();
        assert_eq!(found.tenant().map(TenantId::as_str), Some("store_1"));
        assert_eq!(
            found.scope(),
            Scope::Tenant {
                tenant: &key.tenant_id,
                read_only: false
            }
        );
        let listed = store.api_keys(&key.tenant_id, 10, None).await.unwrap();
        assert_eq!(listed.items[0].last_used_at, Some(now));

        assert!(store.revoke_api_key(&key.tenant_id, key.id).await.unwrap());
        let why = refused(tenant_credential(&store, &uses, secret.expose(), now).await);
        assert!(why.contains("revoked"), "{why}");
    }

    #[tokio::test]
    async fn a_portal_session_works_until_it_expires() {
        let store = EmbeddedStore::new();
        let uses = KeyUses::default();
        let now = OffsetDateTime::now_utc();
        let session = PortalSession {
            tenant_id: "store_1".parse().unwrap(),
            read_only: true,
            created_at: now,
            expires_at: now + Duration::seconds(60),
        };
        let token = BearerSecret::portal_token();
        store
            .create_portal_session(&session, &token.hash())
            .await
            .unwrap();
        let found = tenant_credential(&store, &uses, token.expose(), now)
            .await
            .unwrap();
        assert_eq!(found, Principal::Portal(session.clone()));
        assert!(matches!(
            found.scope(),
            Scope::Tenant {
                read_only: true,
                ..
            }
        ));
        let later = now + Duration::seconds(60);
        let why = refused(tenant_credential(&store, &uses, token.expose(), later).await);
        assert!(why.contains("expired"), "{why}");
    }

    #[tokio::test]
    async fn unknown_tokens_are_refused_by_kind() {
        let store = EmbeddedStore::new();
        let uses = KeyUses::default();
        let now = OffsetDateTime::now_utc();
        for (token, says) in [
            (BearerSecret::api_key(), "API key"),
            (BearerSecret::portal_token(), "portal token"),
        ] {
            let why = refused(tenant_credential(&store, &uses, token.expose(), now).await);
            assert!(why.contains(says), "{why}");
        }
        let why = refused(tenant_credential(&store, &uses, "local-admin-token", now).await);
        assert!(why.contains("not the admin token"), "{why}");
    }
}
