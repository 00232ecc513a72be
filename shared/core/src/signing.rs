//! Webhook signatures (DESIGN §3): Standard Webhooks v1 and the simple
//! `x-webhook-signature: sha256=<hex>` header for no-code tools. Both carry
//! one space-separated value per valid secret during a rotation's grace
//! period, current first, so a receiver holding either secret verifies.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every endpoint secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// How far a `webhook-timestamp` may be from now when verifying (5 minutes).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a secret or a signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The secret is not `whsec_` + base64 of 24 to 64 bytes.
    #[error("secret must be 'whsec_' followed by base64 of 24 to 64 random bytes")]
    MalformedSecret,
    /// A required header is absent or not parseable.
    #[error("missing or malformed header {0}")]
    BadHeader(&'static str),
    /// The timestamp is outside the tolerance window (replay protection).
    #[error("timestamp is more than {0} seconds away from now")]
    StaleTimestamp(i64),
    /// No signature in the header matches.
    #[error("no matching signature")]
    Mismatch,
}

/// An endpoint's signing secret. `Debug` never prints it. Shared: every
/// read of an endpoint carries its secrets, and a clone counts references.
#[derive(Clone)]
pub struct Secret(std::sync::Arc<Keyed>);

/// A secret and its two HMAC-SHA256 states, keyed once: a signature starts
/// from a copy of one instead of hashing the key's inner and outer pads.
struct Keyed {
    text: String,
    /// Keyed with the decoded bytes (Standard Webhooks `v1`).
    v1: HmacSha256,
    /// Keyed with the whole secret string (the simple header).
    simple: HmacSha256,
}

impl Secret {
    fn keyed(text: String, key: &[u8]) -> Self {
        Self(std::sync::Arc::new(Keyed {
            v1: HmacSha256::new_from_slice(key).expect("HMAC takes any key length"),
            simple: HmacSha256::new_from_slice(text.as_bytes()).expect("HMAC takes any key length"),
            text,
        }))
    }
}

impl PartialEq for Secret {
    /// The same secret: the same text (which determines the key).
    fn eq(&self, other: &Self) -> bool {
        self.0.text == other.0.text
    }
}

impl Eq for Secret {}

impl Secret {
    /// A new secret from 32 bytes of the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self::keyed(format!("{SECRET_PREFIX}{}", B64.encode(&key)), &key)
    }

    /// Parses `whsec_<base64>`; the HMAC key is the decoded bytes.
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let b64 = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SignatureError::MalformedSecret)?;
        let key = B64
            .decode(b64)
            .map_err(|_| SignatureError::MalformedSecret)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SignatureError::MalformedSecret);
        }
        Ok(Self::keyed(text.to_owned(), &key))
    }

    /// The secret exactly as shown to its owner (`whsec_...`).
    pub fn expose(&self) -> &str {
        &self.0.text
    }

    /// `v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>`.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        format!(
            "v1,{}",
            B64.encode(self.raw_signature(msg_id, timestamp, body))
        )
    }

    fn raw_signature(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        let mut mac = self.0.v1.clone();
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// The no-code header value: `sha256=<hex(HMAC-SHA256(secret string, body))>`,
    /// keyed with the whole secret string, `whsec_` included, as shown.
    pub fn simple_signature(&self, body: &[u8]) -> String {
        let mut mac = self.0.simple.clone();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(whsec_***)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.text)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Secret::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The `webhook-signature` value for a message: one `v1,<sig>` per secret,
/// space-separated (several during a rotation's grace period).
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a Secret>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .into_iter()
        .map(|s| s.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Verifies a received webhook the way a receiver should: the timestamp is
/// within `tolerance_secs` of `now_unix`, and at least one `v1` signature in
/// the header matches (compared in constant time).
pub fn verify(
    secret: &Secret,
    msg_id: &str,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let timestamp: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadHeader("webhook-timestamp"))?;
    if (now_unix - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::StaleTimestamp(tolerance_secs));
    }
    let expected = secret.raw_signature(msg_id, timestamp, body);
    let mut matched = false;
    for candidate in signature_header.split_whitespace() {
        let Some(b64) = candidate.strip_prefix("v1,") else {
            continue;
        };
        if let Ok(sig) = B64.decode(b64) {
            // Fold with `|` rather than returning early, so timing does not
            // reveal which of several signatures matched.
            matched |= bool::from(sig.ct_eq(&expected));
        }
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The simple `x-webhook-signature` value: one `sha256=<hex>` per secret,
/// space-separated as in `webhook-signature`. Outside a rotation it is one
/// value, exactly what it always was.
pub fn simple_signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a Secret>,
    body: &[u8],
) -> String {
    secrets
        .into_iter()
        .map(|s| s.simple_signature(body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Verifies the simple `x-webhook-signature` header: accepts when any of its
/// space-separated values matches `secret` (each compared in constant time).
pub fn verify_simple(secret: &Secret, header: &str, body: &[u8]) -> Result<(), SignatureError> {
    let expected = secret.simple_signature(body);
    let mut matched = false;
    for candidate in header.split_whitespace() {
        // Folded as in `verify`: timing does not tell which value matched.
        matched |= bool::from(expected.as_bytes().ct_eq(candidate.as_bytes()));
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Published test vector of the Standard Webhooks specification.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_specification_test_vector() {
        let secret = Secret::parse(SPEC_SECRET).unwrap();
        assert_eq!(
            secret.sign(SPEC_ID, SPEC_TS, SPEC_BODY.as_bytes()),
            SPEC_SIG
        );
        verify(
            &secret,
            SPEC_ID,
            "1614265330",
            SPEC_SIG,
            SPEC_BODY.as_bytes(),
            SPEC_TS + 10,
            300,
        )
        .unwrap();
    }

    #[test]
    fn the_keyed_states_are_copied_not_consumed_by_a_signature() {
        let secret = Secret::generate();
        let first = secret.sign("msg_1", 1_700_000_000, b"{}");
        let other = secret.sign("msg_2", 1_700_000_000, b"{}");
        assert_ne!(first, other);
        assert_eq!(secret.sign("msg_1", 1_700_000_000, b"{}"), first);
        let fresh = Secret::parse(secret.expose()).unwrap();
        assert_eq!(fresh.sign("msg_1", 1_700_000_000, b"{}"), first);
        assert_eq!(
            secret.simple_signature(b"{}"),
            fresh.simple_signature(b"{}")
        );
        assert_ne!(
            secret.simple_signature(b"{}"),
            secret.simple_signature(b"[]")
        );
    }

    #[test]
    fn generated_secrets_have_32_random_bytes() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_ne!(a, b);
        assert!(a.expose().starts_with("whsec_"));
        let b64 = a.expose().strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(B64.decode(b64).unwrap().len(), 32);
        assert_eq!(Secret::parse(a.expose()).unwrap(), a);
        assert_eq!(format!("{a:?}"), "Secret(whsec_***)");
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for bad in ["", "whsec_", "sk_abc", "whsec_!!!", "whsec_c2hvcnQ="] {
            assert_eq!(
                Secret::parse(bad),
                Err(SignatureError::MalformedSecret),
                "{bad}"
            );
        }
    }

    #[test]
    fn any_of_several_signatures_verifies_during_rotation() {
        let old = Secret::generate();
        let new = Secret::generate();
        let header = signature_header([&new, &old], "evt_1", 1000, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        verify(&old, "evt_1", "1000", &header, b"{}", 1000, 300).unwrap();
        verify(&new, "evt_1", "1000", &header, b"{}", 1000, 300).unwrap();
        let other = Secret::generate();
        assert_eq!(
            verify(&other, "evt_1", "1000", &header, b"{}", 1000, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tampering_and_replays_are_rejected() {
        let s = Secret::generate();
        let sig = s.sign("evt_1", 1000, b"{\"a\":1}");
        assert_eq!(
            verify(&s, "evt_1", "1000", &sig, b"{\"a\":2}", 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&s, "evt_2", "1000", &sig, b"{\"a\":1}", 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&s, "evt_1", "1001", &sig, b"{\"a\":1}", 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                &s,
                "evt_1",
                "1000",
                &sig,
                b"{\"a\":1}",
                1000 + DEFAULT_TOLERANCE_SECS + 1,
                DEFAULT_TOLERANCE_SECS
            ),
            Err(SignatureError::StaleTimestamp(300))
        );
        assert_eq!(
            verify(&s, "evt_1", "soon", &sig, b"{}", 1000, 300),
            Err(SignatureError::BadHeader("webhook-timestamp"))
        );
    }

    #[test]
    fn simple_signature_is_hmac_of_the_body_keyed_by_the_secret_string() {
        let s = Secret::parse(SPEC_SECRET).unwrap();
        let mut mac = HmacSha256::new_from_slice(SPEC_SECRET.as_bytes()).unwrap();
        mac.update(b"hello");
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(s.simple_signature(b"hello"), expected);
        verify_simple(&s, &expected, b"hello").unwrap();
        assert!(verify_simple(&s, &expected, b"hello!").is_err());
        // One secret, one value: the header is exactly what it always was.
        assert_eq!(simple_signature_header([&s], b"hello"), expected);
    }

    #[test]
    fn simple_header_verifies_with_either_secret_during_rotation() {
        let old = Secret::generate();
        let new = Secret::generate();
        let header = simple_signature_header([&new, &old], b"{}");
        let values: Vec<&str> = header.split(' ').collect();
        // Current first; each value is what a receiver computes with its
        // secret, so splitting (or a "contains" check) finds its own.
        assert_eq!(
            values,
            [new.simple_signature(b"{}"), old.simple_signature(b"{}")]
        );
        verify_simple(&old, &header, b"{}").unwrap();
        verify_simple(&new, &header, b"{}").unwrap();
        assert_eq!(
            verify_simple(&Secret::generate(), &header, b"{}"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_simple(&old, &header, b"{ }"),
            Err(SignatureError::Mismatch)
        );
        // A value must match whole: a truncated or empty one is no match.
        let truncated = &old.simple_signature(b"{}")[..20];
        assert!(verify_simple(&old, truncated, b"{}").is_err());
        assert!(verify_simple(&old, "", b"{}").is_err());
    }
}
