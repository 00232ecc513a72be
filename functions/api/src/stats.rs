//! An endpoint's statistics: `GET /v1/tenants/{tenantId}/endpoints/{endpointId}/stats?days=N`.
//!
//! One row per UTC day from `today - N + 1` to today, days without attempts
//! included, and totals with the success rate. The counts are written by the
//! delivery function per attempt (skipped deliveries are not attempts).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};
use utoipa::IntoParams;

use crate::ApiState;
use crate::endpoints::load;
use crate::model::stats::EndpointStats;
use crate::params::{EndpointPath, Query};
use crate::problem::ApiError;

/// Days shown when `days` is not given.
pub const DEFAULT_DAYS: u32 = 30;
/// Most days shown (daily counts are kept 40 days).
pub const MAX_DAYS: u32 = 31;

/// The statistics route.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route(
        "/v1/tenants/{tenantId}/endpoints/{endpointId}/stats",
        get(endpoint_stats),
    )
}

/// The range of the statistics.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Days to show, ending today (UTC): 1 to 31 (default 30).
    #[param(minimum = 1, maximum = 31, default = 30)]
    pub days: Option<u32>,
}

impl StatsQuery {
    /// The number of days, checked against the allowed range.
    pub fn days(&self) -> Result<u32, ApiError> {
        match self.days {
            None => Ok(DEFAULT_DAYS),
            Some(n) if (1..=MAX_DAYS).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::validation(
                "days",
                format!("days must be between 1 and {MAX_DAYS}, got {n}"),
            )),
        }
    }
}

/// Daily attempts, successes and failures by class, with totals.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenantId}/endpoints/{endpointId}/stats",
    tag = "stats",
    params(EndpointPath, StatsQuery),
    responses(
        (status = 200, description = "One row per UTC day, oldest first, and totals", body = EndpointStats),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn endpoint_stats(
    State(state): State<ApiState>,
    path: EndpointPath,
    Query(query): Query<StatsQuery>,
) -> Result<axum::Json<EndpointStats>, ApiError> {
    let days = query.days()?;
    load(&state, &path).await?;
    let to = OffsetDateTime::now_utc().date();
    let from = to - Duration::days(i64::from(days) - 1);
    let stored = state
        .store
        .daily_stats(&path.tenant, path.id, from, to)
        .await?;
    Ok(axum::Json(EndpointStats::new(from, to, &stored)))
}
