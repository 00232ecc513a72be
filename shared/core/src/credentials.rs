//! Tenant credentials: API keys for a tenant's apps and integrations, and
//! short-lived portal sessions for the embeddable webhooks panel, with the
//! port that stores them.
//!
//! Both are bearer secrets of 32 random bytes, shown once and stored only as
//! their SHA-256 ([`CredentialHash`]). The hash is also the lookup key, so a
//! timing difference in a lookup can only tell something about the hash of
//! the attacker's own guess, never about a stored secret. The prefixes
//! (`ck_`, `cpt_`) say which kind a presented token claims to be, so one
//! lookup decides it, and let secret scanners recognise a leaked key.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use ulid::Ulid;

use crate::ids::{IdError, TenantId};
use crate::ports::{Page, StoreError};

/// Prefix of every tenant API key.
pub const API_KEY_PREFIX: &str = "ck_";
/// Prefix of every portal session token.
pub const PORTAL_TOKEN_PREFIX: &str = "cpt_";
/// Longest API key name accepted.
pub const MAX_API_KEY_NAME: usize = 100;
/// Lifetime of a portal session when none is asked for (1 hour).
pub const DEFAULT_PORTAL_SESSION: Duration = Duration::hours(1);
/// Shortest portal session (1 minute): a shorter one expires on its way.
pub const MIN_PORTAL_SESSION: Duration = Duration::minutes(1);
/// Longest portal session (7 days): the token sits in a browser, so it is
/// never a long-lived credential; an integration uses an API key instead.
pub const MAX_PORTAL_SESSION: Duration = Duration::days(7);

/// An API key's id: `key_` + ULID (time-ordered, so lists are oldest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId(Ulid);

impl ApiKeyId {
    /// The prefix this id prints with.
    pub const PREFIX: &'static str = "key_";

    /// A fresh id.
    pub fn generate() -> Self {
        Self(Ulid::new())
    }
}

impl FromStr for ApiKeyId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let rest = s
            .strip_prefix(Self::PREFIX)
            .ok_or_else(|| IdError(format!("expected an id starting with '{}'", Self::PREFIX)))?;
        Ulid::from_string(rest)
            .map(Self)
            .map_err(|_| IdError(format!("'{s}' is not a valid {} id", Self::PREFIX)))
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::PREFIX, self.0)
    }
}

impl Serialize for ApiKeyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ApiKeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A newly made bearer secret (an API key or a portal token), held only
/// until it is shown once. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerSecret(String);

impl BearerSecret {
    /// A fresh API key: `ck_` + base64url of 32 random bytes.
    pub fn api_key() -> Self {
        Self::generate(API_KEY_PREFIX)
    }

    /// A fresh portal token: `cpt_` + base64url of 32 random bytes.
    pub fn portal_token() -> Self {
        Self::generate(PORTAL_TOKEN_PREFIX)
    }

    fn generate(prefix: &str) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The secret itself, to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored in its place.
    pub fn hash(&self) -> CredentialHash {
        CredentialHash::of(&self.0)
    }
}

impl fmt::Debug for BearerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerSecret(***)")
    }
}

/// The SHA-256 of a bearer secret: what the stores keep and look up by.
/// 32 random bytes need no slow hash: there is nothing to brute-force.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CredentialHash([u8; 32]);

impl CredentialHash {
    /// The hash of a presented token.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// As 64 lowercase hex digits (how the AWS store keys it).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for CredentialHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialHash(sha256:***)")
    }
}

/// A tenant's API key as stored and listed: everything but the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// `key_` + ULID.
    pub id: ApiKeyId,
    /// The tenant whose routes the key may call.
    pub tenant_id: TenantId,
    /// What the key is for, as its creator named it ("Zapier", "ERP sync").
    pub name: String,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was last used, to the minute (see the API's access layer).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl ApiKey {
    /// A new key of `tenant` named `name`, with its secret to show once.
    pub fn new(tenant: TenantId, name: String, now: OffsetDateTime) -> (Self, BearerSecret) {
        let key = Self {
            id: ApiKeyId::generate(),
            tenant_id: tenant,
            name,
            created_at: now,
            last_used_at: None,
        };
        (key, BearerSecret::api_key())
    }
}

/// A portal session: a short-lived credential scoped to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSession {
    /// The tenant the panel shows.
    pub tenant_id: TenantId,
    /// True when the session may only read.
    pub read_only: bool,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

impl PortalSession {
    /// True once the session may no longer be used.
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }
}

/// API keys and portal sessions.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Saves a new API key under the hash of its secret.
    async fn create_api_key(&self, key: &ApiKey, hash: &CredentialHash) -> Result<(), StoreError>;
    /// A tenant's API keys, oldest first, without their secrets.
    async fn api_keys(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ApiKey>, StoreError>;
    /// The live key whose secret hashes to `hash`; `None` once revoked.
    async fn api_key_by_hash(&self, hash: &CredentialHash) -> Result<Option<ApiKey>, StoreError>;
    /// Records a use of the key at `at`; does nothing once it is revoked.
    async fn touch_api_key(
        &self,
        tenant: &TenantId,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Revokes a key at once; false when the tenant has no such key.
    async fn revoke_api_key(&self, tenant: &TenantId, id: ApiKeyId) -> Result<bool, StoreError>;
    /// Saves a portal session under the hash of its token, until it expires.
    async fn create_portal_session(
        &self,
        session: &PortalSession,
        hash: &CredentialHash,
    ) -> Result<(), StoreError>;
    /// The session whose token hashes to `hash`, if it exists; an expired
    /// one may still be returned until storage drops it (DynamoDB TTL lags).
    async fn portal_session(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<PortalSession>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_their_prefix_and_32_random_bytes() {
        let (a, b) = (BearerSecret::api_key(), BearerSecret::api_key());
        assert_ne!(a, b);
        assert!(a.expose().starts_with("ck_"));
        let raw = URL_SAFE_NO_PAD.decode(&a.expose()[3..]).unwrap();
        assert_eq!(raw.len(), 32);
        assert!(BearerSecret::portal_token().expose().starts_with("cpt_"));
        assert_eq!(format!("{a:?}"), "BearerSecret(***)");
        assert!(!format!("{:?}", a.hash()).contains(&a.hash().to_hex()));
    }

    #[test]
    fn the_hash_is_the_sha256_of_the_text() {
        let hash = CredentialHash::of("local-admin-token");
        assert_eq!(
            hash.to_hex(),
            "bc32a9a66697ce5242e5517f4a801fa2a3dccf9960459f666fec8a166289401e"
        );
        let key = BearerSecret::api_key();
        assert_eq!(key.hash(), CredentialHash::of(key.expose()));
    }

    #[test]
    fn key_ids_round_trip_and_refuse_other_prefixes() {
        let id = ApiKeyId::generate();
        assert!(id.to_string().starts_with("key_"));
        assert_eq!(id.to_string().parse::<ApiKeyId>().unwrap(), id);
        assert!(
            id.to_string()
                .replace("key_", "ep_")
                .parse::<ApiKeyId>()
                .is_err()
        );
        assert!("key_nope".parse::<ApiKeyId>().is_err());
    }

    #[test]
    fn a_session_expires_at_its_time() {
        let now = OffsetDateTime::now_utc();
        let session = PortalSession {
            tenant_id: "store_1".parse().unwrap(),
            read_only: false,
            created_at: now,
            expires_at: now + Duration::seconds(60),
        };
        assert!(!session.expired(now + Duration::seconds(59)));
        assert!(session.expired(now + Duration::seconds(60)));
    }
}
