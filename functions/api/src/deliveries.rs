//! An endpoint's delivery log: `/v1/tenants/{tenantId}/endpoints/{endpointId}/deliveries[/{deliveryId}]`.
//!
//! Both routes answer 404 when the endpoint does not exist (deleted, never
//! created, or another tenant's), even while log entries of a deleted
//! endpoint have not expired yet: the log is reached through its endpoint,
//! as every other per-endpoint route.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use courier::attempt::{DeliveryAttempt, DeliveryQuery};
use courier::endpoint::Endpoint;
use courier::event_type::EventTypeName;
use courier::paging::MAX_PAGE;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::ApiState;
use crate::endpoints::load;
use crate::model::deliveries::{DeliveryDetail, DeliveryList, DeliverySummary, StatusFilterDto};
use crate::params::{DeliveryPath, EndpointPath, Query, query_time};
use crate::problem::ApiError;

/// Page size of the deliveries list when `limit` is not given.
pub const DEFAULT_DELIVERIES_PAGE: u32 = 10;

/// The delivery-log routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/deliveries",
            get(list_deliveries),
        )
        .route(
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/deliveries/{deliveryId}",
            get(get_delivery),
        )
}

/// Filters and paging of the deliveries list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListQuery {
    /// Items per page, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100, default = 10)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page, unchanged, with the same
    /// filters; opaque, so any other value is 400 (empty: the first page).
    pub cursor: Option<String>,
    /// Only attempts of this event type (an exact name).
    #[param(
        example = "booking.created",
        max_length = 128,
        pattern = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
    )]
    pub event_type: Option<String>,
    /// Only attempts with this outcome; `retrying` is a failed attempt that
    /// another attempt follows.
    #[param(inline)]
    pub status: Option<StatusFilterDto>,
    /// Only attempts made at or after this time (RFC 3339, e.g.
    /// `2026-04-23T14:00:00Z`; encode a `+` offset as `%2B`).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Only attempts made before this time (RFC 3339). At or before
    /// `since` the window is empty and so is the page.
    #[param(format = DateTime)]
    pub until: Option<String>,
}

impl DeliveryListQuery {
    /// The store query, every parameter checked; a bad one is 422 naming it.
    pub fn to_query(&self) -> Result<DeliveryQuery, ApiError> {
        let limit = match self.limit {
            None => DEFAULT_DELIVERIES_PAGE,
            Some(n) if (1..=MAX_PAGE as u32).contains(&n) => n,
            Some(n) => {
                return Err(ApiError::validation(
                    "limit",
                    format!("limit must be between 1 and {MAX_PAGE}, got {n}"),
                ));
            }
        };
        let event_type = self
            .event_type
            .as_deref()
            .map(|raw| {
                raw.parse::<EventTypeName>()
                    .map_err(|e| ApiError::validation("eventType", e.0))
            })
            .transpose()?;
        let since = self
            .since
            .as_deref()
            .map(|raw| query_time("since", raw))
            .transpose()?;
        let until = self
            .until
            .as_deref()
            .map(|raw| query_time("until", raw))
            .transpose()?;
        Ok(DeliveryQuery {
            limit: limit as usize,
            cursor: self.cursor.clone().filter(|c| !c.is_empty()),
            event_type,
            status: self.status.map(Into::into),
            since,
            until,
        })
    }
}

/// Lists an endpoint's logged attempts, newest first. Expired entries are
/// never shown; a page holds `limit` entries unless it is the last one,
/// however many entries the filters leave out.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenantId}/endpoints/{endpointId}/deliveries",
    tag = "deliveries",
    params(EndpointPath, DeliveryListQuery),
    responses(
        (status = 200, description = "One page, newest first", body = DeliveryList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list_deliveries(
    State(state): State<ApiState>,
    path: EndpointPath,
    Query(query): Query<DeliveryListQuery>,
) -> Result<axum::Json<DeliveryList>, ApiError> {
    let query = query.to_query()?;
    load(&state, &path).await?;
    // An empty window selects nothing: an empty page, not a refusal, since
    // the request is well formed (and no store needs to be asked).
    if let (Some(since), Some(until)) = (query.since, query.until)
        && until <= since
    {
        return Ok(axum::Json(DeliveryList {
            data: Vec::new(),
            next_cursor: None,
        }));
    }
    let page = state
        .store
        .recent_deliveries(&path.tenant, path.id, &query)
        .await?;
    Ok(axum::Json(DeliveryList {
        data: page.items.iter().map(DeliverySummary::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Reads one logged attempt in full: the request headers sent (signatures
/// redacted), the URL, and the first 4 KiB of the response body.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenantId}/endpoints/{endpointId}/deliveries/{deliveryId}",
    tag = "deliveries",
    params(DeliveryPath),
    responses(
        (status = 200, description = "The attempt", body = DeliveryDetail),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn get_delivery(
    State(state): State<ApiState>,
    path: DeliveryPath,
) -> Result<axum::Json<DeliveryDetail>, ApiError> {
    let (_, attempt) = load_delivery(&state, &path).await?;
    Ok(axum::Json(DeliveryDetail::from(&attempt)))
}

/// The endpoint and the attempt named by the path: 404 when either is
/// missing, expired or another tenant's.
pub(crate) async fn load_delivery(
    state: &ApiState,
    path: &DeliveryPath,
) -> Result<(Endpoint, DeliveryAttempt), ApiError> {
    let endpoint = load(state, &path.endpoint_path()).await?;
    let attempt = state
        .store
        .delivery(&path.tenant, path.endpoint, path.id)
        .await?
        .ok_or_else(|| path.not_found())?;
    Ok((endpoint, attempt))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Result<DeliveryQuery, ApiError> {
        let text = serde_urlencoded::to_string(pairs).unwrap();
        let parsed: DeliveryListQuery = serde_urlencoded::from_str(&text).unwrap();
        parsed.to_query()
    }

    fn field(pairs: &[(&str, &str)]) -> Option<String> {
        query(pairs).unwrap_err().problem().field
    }

    #[test]
    fn defaults_to_ten_newest_unfiltered() {
        let q = query(&[]).unwrap();
        assert_eq!(q.limit, 10);
        assert!(q.cursor.is_none() && q.event_type.is_none() && q.status.is_none());
        assert!(q.since.is_none() && q.until.is_none());
    }

    #[test]
    fn times_are_rfc3339_even_with_an_unencoded_plus() {
        let q = query(&[
            ("since", "2026-04-23T14:00:00+02:00"),
            ("until", "2026-04-23T13:00:00Z"),
        ])
        .unwrap();
        assert_eq!(q.since.unwrap().unix_timestamp(), 1_776_945_600);
        // `+` sent unencoded arrives as a space.
        let parsed: DeliveryListQuery =
            serde_urlencoded::from_str("since=2026-04-23T14:00:00+02:00").unwrap();
        assert_eq!(parsed.to_query().unwrap().since, q.since);
    }

    #[test]
    fn bad_values_name_their_parameter() {
        assert_eq!(field(&[("limit", "0")]).as_deref(), Some("limit"));
        assert_eq!(field(&[("limit", "101")]).as_deref(), Some("limit"));
        assert_eq!(
            field(&[("eventType", "a..b")]).as_deref(),
            Some("eventType")
        );
        assert_eq!(field(&[("since", "yesterday")]).as_deref(), Some("since"));
        assert_eq!(field(&[("until", "2026-04-23")]).as_deref(), Some("until"));
    }
}
