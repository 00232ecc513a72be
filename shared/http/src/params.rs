//! Path and query parameters, parsed into typed ids and checked values with
//! problem-shaped rejections, and RFC 3339 times from queries and bodies.
//!
//! Id policy, the same on every route: a malformed tenant id is 422 naming
//! `tenantId` (the caller chose it and can fix it); a malformed endpoint or
//! delivery id is 404, like any id that names nothing of that tenant, because
//! those ids are issued by the server and a malformed one cannot exist.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use courier::ids::{DeliveryId, EndpointId, TenantId};
use courier::paging::MAX_PAGE;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::IntoParams;

use crate::problem::ApiError;

/// Page size when `limit` is not given.
pub const DEFAULT_PAGE: usize = 20;

/// The `{tenantId}` of a path.
#[derive(Debug, Clone, IntoParams)]
#[into_params(names("tenantId"), parameter_in = Path)]
pub struct TenantPath(
    /// The tenant: 1 to 64 of `A-Z a-z 0-9 _ -`.
    #[param(value_type = String, pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub TenantId,
);

/// The `{tenantId}` and `{endpointId}` of a path.
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EndpointPath {
    /// The tenant: 1 to 64 of `A-Z a-z 0-9 _ -`.
    #[param(rename = "tenantId", value_type = String, pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub tenant: TenantId,
    /// The endpoint: `ep_` + ULID.
    #[param(rename = "endpointId", value_type = String, example = "ep_01J9Z3W5Q8R7T6Y5X4V3B2N1M0")]
    pub id: EndpointId,
}

impl EndpointPath {
    /// The 404 for this endpoint, the same whether it never existed, was
    /// deleted or belongs to another tenant.
    pub fn not_found(&self) -> ApiError {
        endpoint_not_found(&self.tenant, &self.id.to_string())
    }
}

fn endpoint_not_found(tenant: &TenantId, id: &str) -> ApiError {
    ApiError::NotFound(format!("tenant '{tenant}' has no endpoint '{id}'"))
}

async fn path_params<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<HashMap<String, String>, ApiError> {
    Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map(|Path(params)| params)
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
}

fn tenant_of(params: &HashMap<String, String>) -> Result<TenantId, ApiError> {
    let raw = params
        .get("tenantId")
        .map(String::as_str)
        .unwrap_or_default();
    raw.parse()
        .map_err(|e: courier::ids::IdError| ApiError::validation("tenantId", e.0))
}

impl<S: Send + Sync> FromRequestParts<S> for TenantPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = path_params(parts, state).await?;
        tenant_of(&params).map(TenantPath)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for EndpointPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = path_params(parts, state).await?;
        endpoint_of(&params)
    }
}

fn endpoint_of(params: &HashMap<String, String>) -> Result<EndpointPath, ApiError> {
    let tenant = tenant_of(params)?;
    let raw = params
        .get("endpointId")
        .map(String::as_str)
        .unwrap_or_default();
    let id = raw.parse().map_err(|_| endpoint_not_found(&tenant, raw))?;
    Ok(EndpointPath { tenant, id })
}

/// The `{tenantId}`, `{endpointId}` and `{deliveryId}` of a path.
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeliveryPath {
    /// The tenant: 1 to 64 of `A-Z a-z 0-9 _ -`.
    #[param(rename = "tenantId", value_type = String, pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub tenant: TenantId,
    /// The endpoint: `ep_` + ULID.
    #[param(rename = "endpointId", value_type = String, example = "ep_01J9Z3W5Q8R7T6Y5X4V3B2N1M0")]
    pub endpoint: EndpointId,
    /// The logged attempt: `del_` + ULID.
    #[param(rename = "deliveryId", value_type = String, example = "del_01J9Z4A7K2M3N4P5Q6R7S8T9V0")]
    pub id: DeliveryId,
}

impl DeliveryPath {
    /// The endpoint part of the path.
    pub fn endpoint_path(&self) -> EndpointPath {
        EndpointPath {
            tenant: self.tenant.clone(),
            id: self.endpoint,
        }
    }

    /// The 404 for this delivery: never logged, expired, or logged for
    /// another endpoint.
    pub fn not_found(&self) -> ApiError {
        delivery_not_found(self.endpoint, &self.id.to_string())
    }
}

fn delivery_not_found(endpoint: EndpointId, id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "endpoint '{endpoint}' has no delivery '{id}' (log entries are kept for a limited time)"
    ))
}

impl<S: Send + Sync> FromRequestParts<S> for DeliveryPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = path_params(parts, state).await?;
        let EndpointPath {
            tenant,
            id: endpoint,
        } = endpoint_of(&params)?;
        let raw = params
            .get("deliveryId")
            .map(String::as_str)
            .unwrap_or_default();
        let id = raw.parse().map_err(|_| delivery_not_found(endpoint, raw))?;
        Ok(Self {
            tenant,
            endpoint,
            id,
        })
    }
}

/// The `{name}` of an event-type path, as given.
#[derive(Debug, Clone, IntoParams)]
#[into_params(names("name"), parameter_in = Path)]
pub struct EventTypePath(
    /// The event type, e.g. `booking.created`.
    pub String,
);

impl<S: Send + Sync> FromRequestParts<S> for EventTypePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let mut params = path_params(parts, state).await?;
        Ok(Self(params.remove("name").unwrap_or_default()))
    }
}

/// Query parameters deserialized into `T`; a bad value is 422 naming the
/// parameter, and, as with bodies, unknown parameters are refused.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|err| {
                let path = err.path().to_string();
                let message = err.into_inner().to_string();
                let field = if path == "." {
                    message
                        .strip_prefix("unknown field `")
                        .and_then(|rest| rest.split('`').next())
                        .unwrap_or("query")
                        .to_owned()
                } else {
                    path
                };
                ApiError::Validation {
                    detail: format!("query parameter {field}: {message}"),
                    field,
                }
            })
    }
}

/// `limit` and `cursor` of a list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page, unchanged; opaque, so any
    /// other value is 400 (empty: the first page).
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size, checked against the allowed range.
    pub fn page_size(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=MAX_PAGE as u32).contains(&n) => Ok(n as usize),
            Some(n) => Err(ApiError::validation(
                "limit",
                format!("limit must be between 1 and {MAX_PAGE}, got {n}"),
            )),
        }
    }

    /// The cursor, if one was given (an empty one counts as none).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|c| !c.is_empty())
    }
}

/// An RFC 3339 time from query parameter `name`; 422 naming it.
pub fn query_time(name: &str, raw: &str) -> Result<OffsetDateTime, ApiError> {
    // In a query string an unencoded `+` means a space, and a space cannot
    // occur in RFC 3339, so `...T14:00:00 02:00` is read as the `+02:00` meant.
    OffsetDateTime::parse(&raw.replace(' ', "+"), &Rfc3339).map_err(|_| bad_time(name, raw))
}

/// An RFC 3339 time from field `name` of a JSON body; 422 naming it.
pub fn body_time(name: &str, raw: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| bad_time(name, raw))
}

fn bad_time(name: &str, raw: &str) -> ApiError {
    ApiError::validation(
        name,
        format!("{name} must be an RFC 3339 time such as 2026-04-23T14:00:00Z, got '{raw}'"),
    )
}
