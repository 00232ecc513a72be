//! The platform's admin token: `Authorization: Bearer <token>`, checked
//! against the configured SHA-256 of the token in constant time.
//!
//! Only the digest is kept, so the token itself never sits in the Lambda's
//! configuration; comparing digests also makes the comparison independent
//! of the presented token's length.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::problem::ApiError;

/// Name of the variable holding the hex SHA-256 of the admin token.
pub const ADMIN_TOKEN_SHA256: &str = "ADMIN_TOKEN_SHA256";

/// Why the configured token digest is refused; names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {ADMIN_TOKEN_SHA256}: {0}")]
pub struct AuthConfigError(pub String);

/// Checks bearer tokens against the admin token's SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminAuth {
    digest: [u8; 32],
}

impl AdminAuth {
    /// From the hex SHA-256 of the token (`ADMIN_TOKEN_SHA256`), 64 hex digits.
    pub fn from_sha256_hex(hex_digest: &str) -> Result<Self, AuthConfigError> {
        let bytes = hex::decode(hex_digest.trim()).map_err(|_| {
            AuthConfigError("must be the hex SHA-256 of the admin token (64 hex digits)".into())
        })?;
        let digest: [u8; 32] = bytes.try_into().map_err(|_| {
            AuthConfigError("must be 64 hex digits: the SHA-256 of the admin token".into())
        })?;
        Ok(Self { digest })
    }

    /// Reads `ADMIN_TOKEN_SHA256`, which is required.
    pub fn from_env() -> Result<Self, AuthConfigError> {
        match std::env::var(ADMIN_TOKEN_SHA256) {
            Ok(v) if !v.trim().is_empty() => Self::from_sha256_hex(&v),
            _ => Err(AuthConfigError(
                "is required: set it to the hex SHA-256 of the admin bearer token".into(),
            )),
        }
    }

    /// From the token itself (the local server, which generates or reads it).
    pub fn from_token(token: &str) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// True when `token` is the admin token.
    pub fn accepts(&self, token: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        presented.ct_eq(&self.digest).into()
    }
}

/// The token of an `Authorization: Bearer <token>` header; 401 naming
/// `expected` (what the caller should send) when it is missing or malformed.
pub fn bearer_token<'a>(
    authorization: Option<&'a str>,
    expected: &str,
) -> Result<&'a str, ApiError> {
    let Some(value) = authorization else {
        return Err(ApiError::Unauthorized(format!(
            "missing Authorization header: send 'Authorization: Bearer <{expected}>'"
        )));
    };
    value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized(format!(
                "the Authorization header must be 'Bearer <{expected}>'"
            ))
        })
}

impl fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminAuth(sha256:***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Any 64 hex digits are a well-formed digest.
    const DIGEST: &str = "5d2a2a7dbd4e7a1d0b8a7f5d7fcf4cf9a9f0e7a6d1a8b0b1f0d6b2b0a9f3c4e5";

    #[test]
    fn token_and_its_digest_configure_the_same_check() {
        let from_token = AdminAuth::from_token("local-admin-token");
        let hex_digest = hex::encode(Sha256::digest(b"local-admin-token"));
        assert_eq!(AdminAuth::from_sha256_hex(&hex_digest).unwrap(), from_token);
        assert!(from_token.accepts("local-admin-token"));
        assert!(!from_token.accepts("local-admin-token "));
        assert!(!from_token.accepts(""));
    }

    #[test]
    fn bad_digests_are_refused_naming_the_variable() {
        assert!(AdminAuth::from_sha256_hex(DIGEST).is_ok());
        for bad in ["", "zz", &DIGEST[..62], &format!("{DIGEST}00")] {
            let err = AdminAuth::from_sha256_hex(bad).unwrap_err();
            assert!(err.to_string().contains(ADMIN_TOKEN_SHA256), "{bad}");
        }
    }

    #[test]
    fn only_a_bearer_header_with_a_token_gives_one() {
        assert_eq!(bearer_token(Some("Bearer t0k"), "x").unwrap(), "t0k");
        assert_eq!(bearer_token(Some("bearer  t0k "), "x").unwrap(), "t0k");
        for bad in [None, Some("t0k"), Some("Basic t0k"), Some("Bearer ")] {
            let err = bearer_token(bad, "admin token").unwrap_err();
            assert_eq!(err.status(), 401, "{bad:?}");
            assert!(err.to_string().contains("Bearer <admin token>"), "{bad:?}");
        }
    }
}
