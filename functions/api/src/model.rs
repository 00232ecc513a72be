//! Request and response bodies of the API (camelCase JSON), mapped to and
//! from the core types so the wire format and its OpenAPI schema live here
//! and the domain crate stays free of HTTP concerns.
//!
//! Every request body denies unknown fields: a misspelt field is a 422
//! naming it rather than a silently ignored setting.
//!
//! This file holds endpoints, secrets and the catalogue; the delivery log
//! and the statistics have their own files.

pub mod access;
pub mod deliveries;
pub mod headers;
pub mod schema;
pub mod stats;

use courier::circuit::CircuitState;
use courier::endpoint::{DisabledReason, Endpoint, MAX_DESCRIPTION_LEN, PayloadFormat};
use courier::event_type::EventType;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::problem::ApiError;

/// Checks a description's length (endpoints and event types alike).
pub(crate) fn check_description(description: String) -> Result<String, ApiError> {
    let len = description.chars().count();
    if len > MAX_DESCRIPTION_LEN {
        return Err(ApiError::validation(
            "description",
            format!("description must be at most {MAX_DESCRIPTION_LEN} characters, got {len}"),
        ));
    }
    Ok(description)
}

/// Body format an endpoint receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormatDto {
    /// `{"id","type","createdAt","tenantId","data"}`.
    Default,
    /// A CloudEvents 1.0 structured JSON body.
    Cloudevents,
}

impl From<PayloadFormatDto> for PayloadFormat {
    fn from(value: PayloadFormatDto) -> Self {
        match value {
            PayloadFormatDto::Default => Self::Default,
            PayloadFormatDto::Cloudevents => Self::Cloudevents,
        }
    }
}

impl From<PayloadFormat> for PayloadFormatDto {
    fn from(value: PayloadFormat) -> Self {
        match value {
            PayloadFormat::Default => Self::Default,
            PayloadFormat::Cloudevents => Self::Cloudevents,
        }
    }
}

/// Why an endpoint is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisabledReasonDto {
    /// Switched off through the API.
    Manual,
    /// Too many failed attempts in a row.
    ConsecutiveFailures,
    /// The receiver answered `410 Gone`.
    Gone,
}

impl From<DisabledReason> for DisabledReasonDto {
    fn from(value: DisabledReason) -> Self {
        match value {
            DisabledReason::Manual => Self::Manual,
            DisabledReason::ConsecutiveFailures => Self::ConsecutiveFailures,
            DisabledReason::Gone => Self::Gone,
        }
    }
}

/// `POST /v1/tenants/{tenantId}/endpoints`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEndpoint {
    /// Where deliveries are POSTed: `https` to a host name, at most 2048
    /// characters of the pattern's form, or to a public IP address; a
    /// public host (private, loopback, link-local and internal names such
    /// as `*.internal` are refused with 422).
    #[schema(
        example = "https://example.com/webhooks",
        max_length = 2048,
        pattern = r"^https://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?(#[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
    )]
    pub url: String,
    /// 1 to 32 filters: an event type from the catalogue, `*` for all, or a
    /// prefix wildcard such as `booking.*`; duplicates are dropped. An exact
    /// name that is not in the catalogue is 409: the request is well formed
    /// and succeeds once the type is added (`POST /v1/event-types`).
    #[schema(schema_with = schema::required_filters)]
    pub event_types: Vec<String>,
    /// Free text for the endpoint's owner, at most 1024 characters.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    /// Body format; `default` unless given.
    #[serde(default)]
    pub payload_format: Option<PayloadFormatDto>,
    /// Most deliveries per second the endpoint receives, 1 to 1000; the
    /// ones above it wait, spending no attempt. No limit when absent or null.
    #[serde(default, deserialize_with = "schema::whole_number")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub rate_limit_per_second: Option<u64>,
    /// Custom headers sent with every attempt (see
    /// [`headers::create_headers`] for the rules); none when absent or null.
    #[serde(default)]
    #[schema(schema_with = headers::create_headers)]
    pub headers: Option<headers::HeadersInput>,
}

/// `PATCH /v1/tenants/{tenantId}/endpoints/{endpointId}`: absent (or null)
/// fields are left unchanged, but null removes `rateLimitPerSecond`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateEndpoint {
    /// New target URL, as on create.
    #[serde(default)]
    #[schema(
        max_length = 2048,
        pattern = r"^https://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?(#[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
    )]
    pub url: Option<String>,
    /// New event-type filters, as on create (replaces the list).
    #[serde(default)]
    #[schema(schema_with = schema::optional_filters)]
    pub event_types: Option<Vec<String>>,
    /// New description, at most 1024 characters.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    /// `false` disables (reason `manual`); `true` re-enables, resetting
    /// `consecutiveFailures` and clearing `disabledReason`.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// New body format.
    #[serde(default)]
    pub payload_format: Option<PayloadFormatDto>,
    /// New rate limit, 1 to 1000 deliveries per second; null removes the
    /// limit, absent leaves it unchanged.
    #[serde(default, deserialize_with = "schema::nullable_whole_number")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub rate_limit_per_second: Option<Option<u64>>,
    /// Custom headers: replaces the whole set (`{}` clears it); absent or
    /// null leaves it unchanged. Rules as on create.
    #[serde(default)]
    #[schema(schema_with = headers::patch_headers)]
    pub headers: Option<headers::HeadersInput>,
}

/// An endpoint's circuit breaker.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CircuitDto {
    /// Deliveries go out as they come.
    Closed,
    /// Deliveries wait; one probe at a time goes out.
    Open,
}

/// An endpoint as shown to its owner; never includes the secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    /// `ep_` + ULID.
    #[schema(example = "ep_01J9Z3W5Q8R7T6Y5X4V3B2N1M0")]
    pub id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// Where deliveries are POSTed (normalised, e.g. with a trailing `/`).
    pub url: String,
    /// Which event types it receives.
    pub event_types: Vec<String>,
    /// Free text for its owner.
    pub description: String,
    /// Disabled endpoints receive only test events.
    pub enabled: bool,
    /// Why it is disabled, when it is.
    pub disabled_reason: Option<DisabledReasonDto>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// When a delivery was last attempted (to the minute).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_attempt_at: Option<OffsetDateTime>,
    /// `open` while the endpoint is failing: its deliveries wait and one
    /// at a time goes out as a probe; `closed` otherwise.
    pub circuit: CircuitDto,
    /// When the circuit opened; null while closed.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failing_since: Option<OffsetDateTime>,
    /// When the next probe may go out; null while closed.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Body format.
    pub payload_format: PayloadFormatDto,
    /// Most deliveries per second it receives; null for no limit.
    #[schema(minimum = 1, maximum = 1000)]
    pub rate_limit_per_second: Option<u32>,
    /// Custom header names in order, each value masked as `********`.
    #[schema(schema_with = headers::shown_headers)]
    pub headers: headers::MaskedHeaders,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last change of its settings.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<&Endpoint> for EndpointView {
    fn from(ep: &Endpoint) -> Self {
        Self {
            id: ep.id.to_string(),
            tenant_id: ep.tenant_id.to_string(),
            url: ep.url.clone(),
            event_types: ep.event_types.iter().map(ToString::to_string).collect(),
            description: ep.description.clone(),
            enabled: ep.enabled,
            disabled_reason: ep.disabled_reason.map(Into::into),
            consecutive_failures: ep.consecutive_failures,
            last_attempt_at: ep.last_attempt_at,
            circuit: match ep.circuit.state {
                CircuitState::Closed => CircuitDto::Closed,
                CircuitState::Open => CircuitDto::Open,
            },
            failing_since: ep.circuit.failing_since,
            next_attempt_at: ep.circuit.next_attempt_at,
            payload_format: ep.payload_format.into(),
            rate_limit_per_second: ep.rate_limit_per_second,
            headers: ep.headers.as_slice().into(),
            created_at: ep.created_at,
            updated_at: ep.updated_at,
        }
    }
}

/// A new endpoint: its settings plus the secret it signs with.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedEndpoint {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// The signing secret, `whsec_` + base64; also available later from
    /// `GET .../secret`.
    pub secret: String,
}

/// One page of endpoints, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointList {
    /// The endpoints on this page.
    pub data: Vec<EndpointView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// An endpoint's current signing secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SecretView {
    /// `whsec_` + base64 of the key.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// `POST .../secret/rotate`; the whole body is optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateSecret {
    /// The new secret (`whsec_` + padded base64 of 24 to 64 bytes), other
    /// than the current one (422); generated when absent.
    #[serde(default)]
    #[schema(
        max_length = 94,
        pattern = r"^whsec_(((([A-Za-z0-9+/]{4}){8,20})([A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/][AQgw]==)?)|(([A-Za-z0-9+/]{4}){21}([A-Za-z0-9+/][AQgw]==)?))$"
    )]
    pub secret: Option<String>,
    /// How long the old secret keeps signing: 0 to 604800 seconds (7 days),
    /// default 86400. A whole number, which may be written `86400.0`.
    #[serde(default, deserialize_with = "schema::whole_number")]
    #[schema(minimum = 0, maximum = 604800, default = 86400)]
    pub grace_period_seconds: Option<u64>,
}

/// An entry of the event-type catalogue.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeView {
    /// Dot-separated words, e.g. `booking.created`.
    pub name: String,
    /// What the event means.
    pub description: String,
    /// When it was added.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<&EventType> for EventTypeView {
    fn from(t: &EventType) -> Self {
        Self {
            name: t.name.to_string(),
            description: t.description.clone(),
            created_at: t.created_at,
        }
    }
}

/// `POST /v1/event-types`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEventType {
    /// Dot-separated words of letters, digits, `_` and `-`, at most 128
    /// characters, e.g. `booking.created`.
    #[schema(
        example = "booking.created",
        max_length = 128,
        pattern = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
    )]
    pub name: String,
    /// What the event means, at most 1024 characters.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub description: Option<String>,
}

/// One page of the catalogue, in name order.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeList {
    /// The event types on this page.
    pub data: Vec<EventTypeView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}
