//! [`KmsSealer`]: envelope encryption of stored secrets under the stack's
//! KMS key (`SecretsKey`, named by `SECRETS_KEY_ID`).
//!
//! Sealing asks KMS for a data key (`GenerateDataKey`, AES-256), encrypts
//! locally with AES-256-GCM and stores the data key's KMS ciphertext beside
//! the secret: `0x02 || len (u16, big endian) || encrypted data key ||
//! nonce || ciphertext+tag`. Opening asks KMS to `Decrypt` the data key.
//! Both are cached in memory for [`DATA_KEY_TTL`]: the current data key
//! seals every secret of the hour, and a decrypted data key opens every
//! secret sealed under it, up to [`MAX_OPENED_KEYS`] keys.
//!
//! **Cost.** KMS charges $0.03 per 10,000 requests ($3 per million).
//! Without the caches every delivery would `Decrypt`: $3 per million
//! deliveries. With them a delivery container calls `Decrypt` once per hour
//! for each data key it meets, and an api container `GenerateDataKey` once
//! per hour in which it writes secrets, so the cost follows containers ×
//! hours × data keys, not deliveries: 10 delivery containers meeting 10
//! data keys make 72,000 calls a month ($0.22), about $0.02 per million
//! deliveries at 10 million a month. The worst case is one data key per
//! endpoint (each written in another api container-hour): one call per
//! active endpoint per container per hour, never more than one per
//! delivery. The key itself costs $1 a month.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use courier::ports::{SealError, SecretSealer};
use courier::sealing::{ENVELOPE_FORMAT, KEY_LEN, decrypt, encrypt};

use crate::error_text;

/// How long a data key seals new secrets, and a decrypted one stays cached.
pub const DATA_KEY_TTL: Duration = Duration::from_secs(3600);
/// Most decrypted data keys kept (about 300 bytes each); the oldest is
/// dropped beyond.
pub const MAX_OPENED_KEYS: usize = 4096;
/// Encryption context of every data key: KMS refuses to decrypt it under
/// another, and CloudTrail logs it with each call.
const CONTEXT: (&str, &str) = ("purpose", "courier-endpoint-secrets");

/// A data key: its plaintext, its KMS ciphertext, and when it was obtained.
struct DataKey {
    key: [u8; KEY_LEN],
    encrypted: Vec<u8>,
    since: Instant,
}

/// Envelope encryption with a KMS key; see the module docs.
pub struct KmsSealer {
    client: Client,
    key_id: String,
    current: tokio::sync::Mutex<Option<DataKey>>,
    opened: Mutex<HashMap<Vec<u8>, DataKey>>,
}

impl std::fmt::Debug for KmsSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsSealer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

fn unavailable<E, R>(e: aws_sdk_kms::error::SdkError<E, R>) -> SealError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    SealError::Unavailable(error_text(&e))
}

fn key_bytes(blob: Option<&Blob>) -> Result<[u8; KEY_LEN], SealError> {
    blob.and_then(|b| b.as_ref().try_into().ok())
        .ok_or_else(|| SealError::Unavailable("KMS returned no 256-bit data key".into()))
}

impl KmsSealer {
    /// A sealer under the KMS key `key_id` (id, ARN or alias).
    pub fn new(client: Client, key_id: &str) -> Self {
        Self {
            client,
            key_id: key_id.to_owned(),
            current: tokio::sync::Mutex::new(None),
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// The plaintext and ciphertext of the data key sealing now.
    async fn current_key(&self) -> Result<([u8; KEY_LEN], Vec<u8>), SealError> {
        // Held across the call, so concurrent seals share one new key.
        let mut current = self.current.lock().await;
        if let Some(k) = current
            .as_ref()
            .filter(|k| k.since.elapsed() < DATA_KEY_TTL)
        {
            return Ok((k.key, k.encrypted.clone()));
        }
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT.0, CONTEXT.1)
            .send()
            .await
            .map_err(unavailable)?;
        let key = key_bytes(out.plaintext())?;
        let encrypted = out
            .ciphertext_blob()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| SealError::Unavailable("KMS returned no encrypted data key".into()))?;
        *current = Some(DataKey {
            key,
            encrypted: encrypted.clone(),
            since: Instant::now(),
        });
        // What this container seals it can open without asking KMS.
        self.remember(&encrypted, key);
        Ok((key, encrypted))
    }

    /// The plaintext of an encrypted data key, from the cache or KMS.
    async fn opened_key(&self, encrypted: &[u8]) -> Result<[u8; KEY_LEN], SealError> {
        if let Some(k) = self.lock_opened().get(encrypted)
            && k.since.elapsed() < DATA_KEY_TTL
        {
            return Ok(k.key);
        }
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(encrypted))
            .encryption_context(CONTEXT.0, CONTEXT.1)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_invalid_ciphertext_exception() => SealError::Invalid,
                _ => unavailable(e),
            })?;
        let key = key_bytes(out.plaintext())?;
        self.remember(encrypted, key);
        Ok(key)
    }

    /// Caches a decrypted data key, dropping expired ones and, when full,
    /// the oldest.
    fn remember(&self, encrypted: &[u8], key: [u8; KEY_LEN]) {
        let mut opened = self.lock_opened();
        opened.retain(|_, k| k.since.elapsed() < DATA_KEY_TTL);
        if opened.len() >= MAX_OPENED_KEYS
            && let Some(oldest) = opened
                .iter()
                .min_by_key(|(_, k)| k.since)
                .map(|(e, _)| e.clone())
        {
            opened.remove(&oldest);
        }
        opened.insert(
            encrypted.to_vec(),
            DataKey {
                key,
                encrypted: Vec::new(),
                since: Instant::now(),
            },
        );
    }

    fn lock_opened(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, DataKey>> {
        // Plain data: a panic elsewhere leaves nothing half-written.
        self.opened.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many decrypted data keys are cached (tests).
    pub fn cached_keys(&self) -> usize {
        self.lock_opened().len()
    }
}

#[async_trait]
impl SecretSealer for KmsSealer {
    async fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let (key, encrypted) = self.current_key().await?;
        let len = u16::try_from(encrypted.len())
            .map_err(|_| SealError::Unavailable("encrypted data key too long".into()))?;
        let body = encrypt(&key, context, plaintext)?;
        Ok([
            &[ENVELOPE_FORMAT],
            len.to_be_bytes().as_slice(),
            &encrypted,
            &body,
        ]
        .concat())
    }

    async fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some((&ENVELOPE_FORMAT, rest)) = sealed.split_first() else {
            return Err(SealError::Invalid);
        };
        if rest.len() < 2 {
            return Err(SealError::Invalid);
        }
        let (len, rest) = rest.split_at(2);
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if rest.len() < len {
            return Err(SealError::Invalid);
        }
        let (encrypted, body) = rest.split_at(len);
        let key = self.opened_key(encrypted).await?;
        decrypt(&key, context, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sealer whose client could reach no KMS: any call would fail.
    fn offline() -> KmsSealer {
        let conf = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new("us-east-1"))
            .build();
        KmsSealer::new(Client::from_conf(conf), "alias/none")
    }

    #[tokio::test]
    async fn malformed_or_local_sealed_bytes_are_refused_before_any_kms_call() {
        let sealer = offline();
        let local = courier::sealing::LocalSealer::generate()
            .seal(b"ctx", b"secret")
            .await
            .unwrap();
        for bad in [
            &[][..],
            &[ENVELOPE_FORMAT],
            &[ENVELOPE_FORMAT, 0, 9, 1],
            &local,
        ] {
            assert!(matches!(
                sealer.open(b"ctx", bad).await,
                Err(SealError::Invalid)
            ));
        }
        assert_eq!(sealer.cached_keys(), 0);
        assert!(!format!("{sealer:?}").contains("key:"), "no key material");
    }
}
