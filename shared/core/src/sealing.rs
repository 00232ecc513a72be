//! Sealing of stored secrets with AES-256-GCM: the building blocks every
//! [`SecretSealer`] uses, the local-key sealer of the embedded backend, and
//! the conversion of an endpoint's signing secrets (the current one and
//! those still in a rotation's grace period) and its custom headers (whose
//! values may be credentials) to and from their sealed form at the storage
//! boundary.
//!
//! The sealed plaintext is the JSON object `{"secrets": [...], "headers":
//! [...]}`. Values sealed before custom headers existed hold the bare
//! secrets array; they still open, with no headers, and take the object
//! form at the endpoint's next write.
//!
//! Sealed bytes start with a format byte: [`LOCAL_FORMAT`] is
//! `nonce (12) || ciphertext+tag` under a key the process holds;
//! [`ENVELOPE_FORMAT`] (the KMS sealer of `courier-aws`) also carries the
//! encrypted data key. Each ciphertext is bound to its endpoint (tenant and
//! id as associated data), so a sealed value copied onto another endpoint
//! does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use rand::RngCore;

use serde::{Deserialize, Serialize};

use crate::endpoint::{Endpoint, SigningSecret};
use crate::headers::CustomHeader;
use crate::ids::{EndpointId, TenantId};
use crate::ports::{SealError, SecretSealer, StoreError};

/// Length of an AES-256 key.
pub const KEY_LEN: usize = 32;
/// Length of an AES-GCM nonce (random per seal).
pub const NONCE_LEN: usize = 12;
/// Format byte of [`LocalSealer`]'s output.
pub const LOCAL_FORMAT: u8 = 1;
/// Format byte of envelope encryption (a KMS data key).
pub const ENVELOPE_FORMAT: u8 = 2;

/// `nonce || ciphertext+tag` of `plaintext` under `key`, bound to `aad`.
pub fn encrypt(key: &[u8; KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    // Random nonces: 2^-32 collision odds only after 2^32 seals under one
    // key, and a data key seals for an hour at most.
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| SealError::Invalid)?;
    Ok([nonce.as_slice(), &sealed].concat())
}

/// The plaintext of what [`encrypt`] returned for the same `key` and `aad`.
pub fn decrypt(key: &[u8; KEY_LEN], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    if sealed.len() < NONCE_LEN {
        return Err(SealError::Invalid);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| SealError::Invalid)
}

/// Seals with a key held by the process: the embedded backend's, whose data
/// lives no longer than the process. `Debug` never prints the key.
pub struct LocalSealer {
    key: [u8; KEY_LEN],
}

impl LocalSealer {
    /// A sealer with a fresh random key.
    pub fn generate() -> Self {
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self { key }
    }
}

impl std::fmt::Debug for LocalSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalSealer(***)")
    }
}

#[async_trait]
impl SecretSealer for LocalSealer {
    async fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        Ok([
            &[LOCAL_FORMAT],
            encrypt(&self.key, context, plaintext)?.as_slice(),
        ]
        .concat())
    }

    async fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        match sealed.split_first() {
            Some((&LOCAL_FORMAT, rest)) => decrypt(&self.key, context, rest),
            _ => Err(SealError::Invalid),
        }
    }
}

/// Refuses to seal or open: the sealer of a function that must never read
/// secrets (the intake holds no key and no `kms:Decrypt`).
#[derive(Debug, Clone, Copy)]
pub struct NoSealer(pub &'static str);

#[async_trait]
impl SecretSealer for NoSealer {
    async fn seal(&self, _: &[u8], _: &[u8]) -> Result<Vec<u8>, SealError> {
        Err(SealError::NotConfigured(self.0))
    }

    async fn open(&self, _: &[u8], _: &[u8]) -> Result<Vec<u8>, SealError> {
        Err(SealError::NotConfigured(self.0))
    }
}

/// The associated data of an endpoint's secrets.
fn context(tenant: &TenantId, id: EndpointId) -> Vec<u8> {
    format!("courier/endpoint-secrets/{tenant}/{id}").into_bytes()
}

fn store_error(e: SealError) -> StoreError {
    StoreError::Unavailable(format!("endpoint secrets: {e}"))
}

/// What an endpoint keeps sealed, as one value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedParts {
    /// Its signing secrets: current first, then those in a grace period.
    pub secrets: Vec<SigningSecret>,
    /// Its custom headers, in order.
    #[serde(default)]
    pub headers: Vec<CustomHeader>,
}

/// The endpoint's secrets and custom headers sealed as one value.
pub async fn seal_secrets(
    sealer: &dyn SecretSealer,
    endpoint: &Endpoint,
) -> Result<Vec<u8>, StoreError> {
    let parts = SealedParts {
        secrets: endpoint.secrets.clone(),
        headers: endpoint.headers.clone(),
    };
    let plain = serde_json::to_vec(&parts)
        .map_err(|e| StoreError::Unavailable(format!("could not encode secrets: {e}")))?;
    sealer
        .seal(&context(&endpoint.tenant_id, endpoint.id), &plain)
        .await
        .map_err(store_error)
}

/// What [`seal_secrets`] sealed for the endpoint `tenant`/`id` (or, from
/// an earlier release, its secrets alone).
pub async fn open_secrets(
    sealer: &dyn SecretSealer,
    tenant: &TenantId,
    id: EndpointId,
    sealed: &[u8],
) -> Result<SealedParts, StoreError> {
    let plain = sealer
        .open(&context(tenant, id), sealed)
        .await
        .map_err(store_error)?;
    // The form is told by the first byte rather than by serde's untagged
    // enums, which buffer the whole value before trying each form.
    let opened = if plain.first() == Some(&b'[') {
        serde_json::from_slice(&plain).map(|secrets| SealedParts {
            secrets,
            headers: Vec::new(),
        })
    } else {
        serde_json::from_slice(&plain)
    };
    // No serde error text: it could quote a piece of the plaintext.
    opened.map_err(|_| StoreError::Unavailable("could not decode the sealed secrets".into()))
}

impl SealedParts {
    /// Puts the opened secrets and headers into `endpoint`.
    pub fn apply_to(self, endpoint: &mut Endpoint) {
        endpoint.secrets = self.secrets;
        endpoint.headers = self.headers;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event_type::EventTypeFilter;
    use crate::signing::Secret;

    /// An endpoint with two secrets (one in its grace period) and a
    /// credential header.
    pub(crate) fn endpoint() -> Endpoint {
        let now = time::OffsetDateTime::now_utc();
        let mut ep = Endpoint::new(
            "t1".parse().unwrap(),
            "https://example.com".into(),
            vec![EventTypeFilter::All],
            now,
        );
        ep.rotate_secret(Secret::generate(), time::Duration::hours(1), now);
        ep.headers = vec![CustomHeader {
            name: "Authorization".into(),
            value: "Bearer header-credential".into(),
        }];
        ep
    }

    #[tokio::test]
    async fn secrets_sealed_before_custom_headers_still_open() {
        let sealer = LocalSealer::generate();
        let ep = endpoint();
        let old_form = serde_json::to_vec(&ep.secrets).unwrap();
        let sealed = sealer
            .seal(&context(&ep.tenant_id, ep.id), &old_form)
            .await
            .unwrap();
        let opened = open_secrets(&sealer, &ep.tenant_id, ep.id, &sealed)
            .await
            .unwrap();
        assert_eq!(opened.secrets, ep.secrets);
        assert!(opened.headers.is_empty());
    }

    #[tokio::test]
    async fn sealed_secrets_open_only_for_their_endpoint_and_key() {
        let sealer = LocalSealer::generate();
        let ep = endpoint();
        let sealed = seal_secrets(&sealer, &ep).await.unwrap();
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("whsec_"), "no plaintext in the sealed form");
        assert!(!text.contains("header-credential"), "nor a header value");
        let opened = open_secrets(&sealer, &ep.tenant_id, ep.id, &sealed)
            .await
            .unwrap();
        assert_eq!(opened.secrets, ep.secrets);
        assert_eq!(opened.headers, ep.headers);
        // Another endpoint, another key, or a flipped bit: refused.
        let other = EndpointId::generate();
        assert!(
            open_secrets(&sealer, &ep.tenant_id, other, &sealed)
                .await
                .is_err()
        );
        let stranger = LocalSealer::generate();
        assert!(
            open_secrets(&stranger, &ep.tenant_id, ep.id, &sealed)
                .await
                .is_err()
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(
            open_secrets(&sealer, &ep.tenant_id, ep.id, &tampered)
                .await
                .is_err()
        );
        // Two seals of the same secrets differ (random nonce).
        assert_ne!(seal_secrets(&sealer, &ep).await.unwrap(), sealed);
    }

    #[tokio::test]
    async fn no_sealer_refuses_and_says_why() {
        let err = NoSealer("SECRETS_KEY_ID is not set")
            .seal(b"c", b"p")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("SECRETS_KEY_ID"));
        assert!(format!("{:?}", LocalSealer::generate()).contains("***"));
    }
}
