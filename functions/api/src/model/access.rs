//! Bodies of the credential routes: tenant API keys, portal sessions and
//! the description of the caller's own credential.

use courier::credentials::ApiKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `POST /v1/tenants/{tenantId}/api-keys`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKey {
    /// What the key is for, 1 to 100 characters once leading and trailing
    /// ASCII whitespace is trimmed, e.g. `Zapier`.
    #[schema(
        example = "ERP sync",
        min_length = 1,
        max_length = 100,
        pattern = r"[^\t\n\f\r ]"
    )]
    pub name: String,
}

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    /// `key_` + ULID.
    #[schema(example = "key_01J9Z3W5Q8R7T6Y5X4V3B2N1M0")]
    pub id: String,
    /// What the key is for.
    pub name: String,
    /// When it was issued.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When it was last used, to the minute; null if never.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(key: &ApiKey) -> Self {
        Self {
            id: key.id.to_string(),
            name: key.name.clone(),
            created_at: key.created_at,
            last_used_at: key.last_used_at,
        }
    }
}

/// A new API key: shown this once, stored only as a hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    /// The key's record.
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    /// The key, `ck_` + base64url of 32 random bytes; send it as
    /// `Authorization: Bearer <key>`. It cannot be shown again.
    pub key: String,
}

/// One page of a tenant's API keys, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyList {
    /// The keys on this page.
    pub data: Vec<ApiKeyView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /v1/tenants/{tenantId}/portal-sessions`; the whole body is optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePortalSession {
    /// Lifetime in seconds, 60 to 604800 (7 days); default 3600. A whole
    /// number, which may be written `3600.0`.
    #[serde(default, deserialize_with = "super::schema::whole_number")]
    #[schema(minimum = 60, maximum = 604800, default = 3600)]
    pub expires_in_seconds: Option<u64>,
    /// A session that may only read: no write controls, 403 on writes.
    #[serde(default)]
    pub read_only: Option<bool>,
}

/// A new portal session.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortalSessionCreated {
    /// Opens the panel for this tenant alone; the token rides in the
    /// fragment, which browsers never send to a server.
    #[schema(example = "https://abc.execute-api.eu-west-1.amazonaws.com/portal#token=cpt_...")]
    pub url: String,
    /// The session's bearer token (`cpt_…`), for calling the API directly.
    pub token: String,
    /// When the token stops working.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// True for a read-only session.
    pub read_only: bool,
}

/// Which kind of credential called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CredentialKind {
    /// The platform's admin token.
    Admin,
    /// A tenant API key.
    ApiKey,
    /// A portal session token.
    PortalSession,
}

/// `GET /v1/credential`: what the presented credential may do.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialView {
    /// The kind of credential.
    pub kind: CredentialKind,
    /// The tenant a tenant credential is bound to; null for the admin token.
    pub tenant_id: Option<String>,
    /// True for a read-only portal session.
    pub read_only: bool,
    /// When a portal session ends; null otherwise.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// The API key's id, for an API key.
    pub api_key_id: Option<String>,
}
