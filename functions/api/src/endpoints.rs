//! Endpoint CRUD: `/v1/tenants/{tenantId}/endpoints[/{endpointId}]`.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use courier::endpoint::{DisabledReason, Endpoint, MAX_EVENT_TYPE_FILTERS};
use courier::event_type::EventTypeFilter;
use courier::net::validate_endpoint_url;
use courier::ports::{Store, StoreError};
use time::OffsetDateTime;

use crate::ApiState;
use crate::json::Json;
use crate::model::headers::check_headers;
use crate::model::schema::has_url_form;
use crate::model::{
    CreateEndpoint, CreatedEndpoint, EndpointList, EndpointView, UpdateEndpoint, check_description,
};
use crate::params::{EndpointPath, PageQuery, Query, TenantPath};
use crate::problem::ApiError;

/// How often a read-modify-write is retried when another writer (a PATCH,
/// a rotation, the delivery function disabling the endpoint) got there first.
const MAX_WRITE_ATTEMPTS: usize = 4;

/// The endpoint routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/v1/tenants/{tenantId}/endpoints",
            get(list_endpoints).post(create_endpoint),
        )
        .route(
            "/v1/tenants/{tenantId}/endpoints/{endpointId}",
            get(get_endpoint)
                .patch(update_endpoint)
                .delete(delete_endpoint),
        )
}

/// Creates an endpoint; the response carries its signing secret.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenantId}/endpoints",
    tag = "endpoints",
    params(TenantPath),
    request_body = CreateEndpoint,
    responses(
        (status = 201, description = "Created; `location` names the new endpoint", body = CreatedEndpoint),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 409, response = crate::openapi::EndpointRefused),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn create_endpoint(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
    Json(body): Json<CreateEndpoint>,
) -> Result<impl IntoResponse, ApiError> {
    let url = check_url(&body.url, &state)?;
    let event_types = check_event_types(state.store.as_ref(), &body.event_types).await?;
    let rate_limit = body
        .rate_limit_per_second
        .map(check_rate_limit)
        .transpose()?;
    let headers = body
        .headers
        .map(|h| check_headers(h, &state.settings))
        .transpose()?;
    // Counted, then created: two creates racing at the limit may both pass,
    // which is harmless, since fan-out cost per endpoint is bounded anyway.
    let max = state.settings.max_endpoints_per_tenant;
    // 409: the tenant's state refuses it, and deleting an endpoint lets
    // the same request succeed.
    if state.store.endpoint_count(&tenant).await? >= max {
        return Err(ApiError::Conflict(format!(
            "tenant '{tenant}' already has {max} endpoints, the most this deployment allows (MAX_ENDPOINTS_PER_TENANT); delete one first"
        )));
    }
    let mut endpoint = Endpoint::new(tenant, url, event_types, OffsetDateTime::now_utc());
    endpoint.rate_limit_per_second = rate_limit;
    if let Some(description) = body.description {
        endpoint.description = check_description(description)?;
    }
    if let Some(format) = body.payload_format {
        endpoint.payload_format = format.into();
    }
    endpoint.headers = headers.unwrap_or_default();
    state.store.create_endpoint(&endpoint).await?;
    tracing::info!(tenant_id = %endpoint.tenant_id, endpoint_id = %endpoint.id, "endpoint created");
    let location = format!(
        "/v1/tenants/{}/endpoints/{}",
        endpoint.tenant_id, endpoint.id
    );
    let body = CreatedEndpoint {
        endpoint: EndpointView::from(&endpoint),
        secret: endpoint.current_secret().expose().to_owned(),
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(body),
    ))
}

/// Lists a tenant's endpoints, oldest first.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenantId}/endpoints",
    tag = "endpoints",
    params(TenantPath, PageQuery),
    responses(
        (status = 200, description = "One page", body = EndpointList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list_endpoints(
    State(state): State<ApiState>,
    TenantPath(tenant): TenantPath,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<EndpointList>, ApiError> {
    let page = state
        .store
        .list_endpoints(&tenant, query.page_size()?, query.cursor())
        .await?;
    Ok(axum::Json(EndpointList {
        data: page.items.iter().map(EndpointView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Reads one endpoint (without its secret).
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenantId}/endpoints/{endpointId}",
    tag = "endpoints",
    params(EndpointPath),
    responses(
        (status = 200, description = "The endpoint", body = EndpointView),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn get_endpoint(
    State(state): State<ApiState>,
    path: EndpointPath,
) -> Result<axum::Json<EndpointView>, ApiError> {
    let endpoint = load(&state, &path).await?;
    Ok(axum::Json(EndpointView::from(&endpoint)))
}

/// Changes some of an endpoint's settings; absent fields stay as they are.
#[utoipa::path(
    patch,
    path = "/v1/tenants/{tenantId}/endpoints/{endpointId}",
    tag = "endpoints",
    params(EndpointPath),
    request_body = UpdateEndpoint,
    responses(
        (status = 200, description = "The updated endpoint", body = EndpointView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn update_endpoint(
    State(state): State<ApiState>,
    path: EndpointPath,
    Json(body): Json<UpdateEndpoint>,
) -> Result<axum::Json<EndpointView>, ApiError> {
    // Validate everything before the first write, so a refused PATCH
    // changes nothing.
    let url = body
        .url
        .as_deref()
        .map(|u| check_url(u, &state))
        .transpose()?;
    let event_types = match &body.event_types {
        Some(raw) => Some(check_event_types(state.store.as_ref(), raw).await?),
        None => None,
    };
    let description = body.description.map(check_description).transpose()?;
    // Absent: unchanged; null: no limit any more.
    let rate_limit = body
        .rate_limit_per_second
        .map(|limit| limit.map(check_rate_limit).transpose())
        .transpose()?;
    let headers = body
        .headers
        .map(|h| check_headers(h, &state.settings))
        .transpose()?;
    // Set by the attempt that took: whether this PATCH turned a disabled
    // endpoint back on (a write that lost a race reads it again).
    let reenabled = AtomicBool::new(false);
    let updated = modify(&state, &path, |ep, _now| {
        reenabled.store(body.enabled == Some(true) && !ep.enabled, Ordering::Relaxed);
        if let Some(url) = &url {
            ep.url.clone_from(url);
        }
        if let Some(event_types) = &event_types {
            ep.event_types.clone_from(event_types);
        }
        if let Some(description) = &description {
            ep.description.clone_from(description);
        }
        if let Some(format) = body.payload_format {
            ep.payload_format = format.into();
        }
        if let Some(limit) = rate_limit {
            ep.rate_limit_per_second = limit;
        }
        if let Some(enabled) = body.enabled {
            ep.set_enabled(enabled);
        }
        if let Some(headers) = &headers {
            ep.headers.clone_from(headers);
        }
    })
    .await?;
    tracing::info!(tenant_id = %path.tenant, endpoint_id = %path.id, "endpoint updated");
    if reenabled.load(Ordering::Relaxed) {
        // After the write: the endpoint is enabled whatever happens here, so
        // a failure is logged rather than answered (see `courier::operational`).
        if let Err(e) = state.operations.endpoint_enabled(&updated).await {
            tracing::error!(tenant_id = %path.tenant, endpoint_id = %path.id, error = %e, "endpoint.enabled not published");
        }
    }
    Ok(axum::Json(EndpointView::from(&updated)))
}

/// Deletes an endpoint; deliveries still queued for it are skipped.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{tenantId}/endpoints/{endpointId}",
    tag = "endpoints",
    params(EndpointPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn delete_endpoint(
    State(state): State<ApiState>,
    path: EndpointPath,
) -> Result<StatusCode, ApiError> {
    if !state.store.delete_endpoint(&path.tenant, path.id).await? {
        return Err(path.not_found());
    }
    tracing::info!(tenant_id = %path.tenant, endpoint_id = %path.id, "endpoint deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint named by the path, or the 404 that hides whether it exists
/// under another tenant.
pub(crate) async fn load(state: &ApiState, path: &EndpointPath) -> Result<Endpoint, ApiError> {
    state
        .store
        .endpoint(&path.tenant, path.id)
        .await?
        .ok_or_else(|| path.not_found())
}

/// Refuses (409) to queue `what` for a disabled endpoint, saying why it is
/// disabled and how to re-enable it: the delivery function would only log
/// the delivery as `skipped`.
pub(crate) fn ensure_enabled(endpoint: &Endpoint, what: &str) -> Result<(), ApiError> {
    if endpoint.enabled {
        return Ok(());
    }
    let reason = match endpoint.disabled_reason {
        Some(DisabledReason::Manual) => " by hand",
        Some(DisabledReason::ConsecutiveFailures) => " after too many failed attempts in a row",
        Some(DisabledReason::Gone) => " because it answered 410 Gone",
        None => "",
    };
    Err(ApiError::Conflict(format!(
        "endpoint '{}' is disabled{reason}, so {what} would be skipped; re-enable it with PATCH {{\"enabled\": true}} first (POST .../test checks it while disabled)",
        endpoint.id
    )))
}

/// Reads the endpoint, applies `change`, and writes it back if it changed,
/// conditional on the revision read; on a concurrent change, reads again and
/// retries. Returns the endpoint as stored.
pub(crate) async fn modify(
    state: &ApiState,
    path: &EndpointPath,
    change: impl Fn(&mut Endpoint, OffsetDateTime),
) -> Result<Endpoint, ApiError> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = load(state, path).await?;
        let now = OffsetDateTime::now_utc();
        let mut updated = current.clone();
        change(&mut updated, now);
        if updated == current {
            return Ok(current);
        }
        updated.revision = current.revision + 1;
        updated.updated_at = now;
        match state.store.update_endpoint(&current, &updated).await {
            Ok(()) => return Ok(updated),
            Err(StoreError::Conflict) => {
                tracing::debug!(endpoint_id = %path.id, "endpoint changed concurrently; retrying");
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::Conflict(
        "the endpoint kept changing while this request was applied; retry it".into(),
    ))
}

/// Checks an endpoint URL: valid, and, where private targets are refused
/// (every deployment), a host name of the form the document's pattern
/// states, so a URL the document calls invalid is refused too. A public IP
/// address literal is accepted as well; the pattern does not state it, as
/// it cannot tell a public address from a private one.
fn check_url(raw: &str, state: &ApiState) -> Result<String, ApiError> {
    let allow_private = state.settings.allow_private_targets;
    let url =
        validate_endpoint_url(raw, allow_private).map_err(|e| ApiError::validation("url", e.0))?;
    if !allow_private && url.domain().is_some() && !has_url_form(raw) {
        return Err(ApiError::validation(
            "url",
            format!(
                "'{raw}' is not of the accepted form: https:// and a host name of dot-separated letters, digits and inner '-' (the last label starting with a letter), an optional port, then a path, query and fragment of URL characters"
            ),
        ));
    }
    Ok(url.into())
}

/// Checks a rate limit: 1 to 1000 deliveries per second.
fn check_rate_limit(limit: u64) -> Result<u32, ApiError> {
    courier::rate::check_limit(limit)
        .map_err(|e| ApiError::validation("rateLimitPerSecond", e.to_string()))
}

/// Parses event-type filters: 1 to 32 of `*`, a prefix wildcard, or an exact
/// name that is in the catalogue (wildcards may match types added later;
/// an exact name that is not is 409).
/// Duplicates are dropped, keeping the first.
async fn check_event_types(
    store: &dyn Store,
    raw: &[String],
) -> Result<Vec<EventTypeFilter>, ApiError> {
    let invalid = |detail: String| ApiError::validation("eventTypes", detail);
    if raw.is_empty() {
        return Err(invalid(
            "eventTypes must not be empty: list event types, '*' for all, or a prefix wildcard such as 'booking.*'".into(),
        ));
    }
    if raw.len() > MAX_EVENT_TYPE_FILTERS {
        return Err(invalid(format!(
            "eventTypes may hold at most {MAX_EVENT_TYPE_FILTERS} entries, got {}; use a wildcard such as 'booking.*'",
            raw.len()
        )));
    }
    let mut filters: Vec<EventTypeFilter> = Vec::with_capacity(raw.len());
    for text in raw {
        let filter: EventTypeFilter = text
            .parse()
            .map_err(|e: courier::event_type::EventTypeError| invalid(e.0))?;
        if let Some(name) = filter.exact_name()
            && !name.is_built_in()
            && store.event_type(name).await?.is_none()
        {
            // 409, not 422: the request is well formed and succeeds once
            // the catalogue holds the type; the catalogue's state decides.
            return Err(ApiError::Conflict(format!(
                "eventTypes: event type '{name}' is not in the catalogue; add it with POST /v1/event-types or use a wildcard"
            )));
        }
        if !filters.contains(&filter) {
            filters.push(filter);
        }
    }
    Ok(filters)
}
