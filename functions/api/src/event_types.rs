//! The event-type catalogue: `/v1/event-types[/{name}]`.
//!
//! Endpoints may subscribe by exact name only to types in the catalogue.
//! Deleting a type leaves existing subscriptions alone: endpoints keep their
//! filters, and only new subscriptions to that exact name are refused.
//!
//! The built-in operational types (`webhooks.*`, see
//! `courier::operational`) are part of every catalogue without being
//! stored: listed in name order among the stored ones, never created (409,
//! as existing; another `webhooks.` name is 422, the prefix is reserved)
//! and never deleted (409).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use courier::event_type::{EventType, EventTypeName};
use courier::paging::{decode_cursor, encode_cursor};
use courier::ports::{Page, StoreError};
use time::OffsetDateTime;

use crate::ApiState;
use crate::json::Json;
use crate::model::{CreateEventType, EventTypeList, EventTypeView, check_description};
use crate::params::{EventTypePath, PageQuery, Query};
use crate::problem::ApiError;

/// The catalogue routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/v1/event-types",
            get(list_event_types).post(create_event_type),
        )
        .route("/v1/event-types/{name}", delete(delete_event_type))
}

/// Lists the catalogue in name order, the built-in `webhooks.*` types
/// (operational webhooks) included.
#[utoipa::path(
    get,
    path = "/v1/event-types",
    tag = "event-types",
    params(PageQuery),
    responses(
        (status = 200, description = "One page", body = EventTypeList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn list_event_types(
    State(state): State<ApiState>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<EventTypeList>, ApiError> {
    let limit = query.page_size()?;
    let page = state.store.list_event_types(limit, query.cursor()).await?;
    // Both stores' cursors hold the last name returned (`courier::paging`),
    // so a page resumes after any name: the built-ins are merged in order.
    let after = query.cursor().map(decode_cursor).transpose()?;
    let (items, next_cursor) = with_built_ins(page, after.as_deref(), limit);
    Ok(axum::Json(EventTypeList {
        data: items.iter().map(EventTypeView::from).collect(),
        next_cursor,
    }))
}

/// Merges the built-in types into one page of stored ones: those after
/// `after` and, unless this is the last page, not past its last stored
/// name (later pages hold the rest). A stored copy of a built-in name
/// (written before it was built in) gives way to the built-in.
fn with_built_ins(
    page: Page<EventType>,
    after: Option<&str>,
    limit: usize,
) -> (Vec<EventType>, Option<String>) {
    let upper = page
        .next_cursor
        .as_ref()
        .and_then(|_| page.items.last())
        .map(|t| t.name.clone());
    let mut items: Vec<EventType> = page
        .items
        .into_iter()
        .filter(|t| !t.name.is_built_in())
        .chain(EventType::built_ins().into_iter().filter(|t| {
            after.is_none_or(|a| t.name.as_str() > a) && upper.as_ref().is_none_or(|u| t.name <= *u)
        }))
        .collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(|t| encode_cursor(t.name.as_str()));
        return (items, next);
    }
    (items, page.next_cursor)
}

/// Adds an event type to the catalogue.
#[utoipa::path(
    post,
    path = "/v1/event-types",
    tag = "event-types",
    request_body = CreateEventType,
    responses(
        (status = 201, description = "Added", body = EventTypeView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 409, response = crate::openapi::Conflict),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn create_event_type(
    State(state): State<ApiState>,
    Json(body): Json<CreateEventType>,
) -> Result<impl IntoResponse, ApiError> {
    let name: EventTypeName = body
        .name
        .parse()
        .map_err(|e: courier::event_type::EventTypeError| ApiError::validation("name", e.0))?;
    if name.is_built_in() {
        return Err(ApiError::Conflict(format!(
            "event type '{name}' already exists: it is a built-in operational type"
        )));
    }
    if name.is_reserved() {
        return Err(ApiError::validation(
            "name",
            format!(
                "'{name}': the prefix '{}' is reserved for the built-in operational types",
                courier::event_type::RESERVED_PREFIX
            ),
        ));
    }
    let description = check_description(body.description.unwrap_or_default())?;
    let event_type = EventType {
        name,
        description,
        created_at: OffsetDateTime::now_utc(),
    };
    match state.store.create_event_type(&event_type).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists) => {
            return Err(ApiError::Conflict(format!(
                "event type '{}' already exists",
                event_type.name
            )));
        }
        Err(err) => return Err(err.into()),
    }
    tracing::info!(event_type = %event_type.name, "event type created");
    let location = format!("/v1/event-types/{}", event_type.name);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(EventTypeView::from(&event_type)),
    ))
}

/// Removes an event type from the catalogue.
#[utoipa::path(
    delete,
    path = "/v1/event-types/{name}",
    tag = "event-types",
    params(EventTypePath),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn delete_event_type(
    State(state): State<ApiState>,
    EventTypePath(name): EventTypePath,
) -> Result<StatusCode, ApiError> {
    let not_found = || ApiError::NotFound(format!("event type '{name}' is not in the catalogue"));
    // A malformed name cannot be in the catalogue.
    let Ok(parsed) = name.parse::<EventTypeName>() else {
        return Err(not_found());
    };
    if parsed.is_built_in() {
        return Err(ApiError::Conflict(format!(
            "event type '{parsed}' is a built-in operational type and cannot be deleted"
        )));
    }
    if !state.store.delete_event_type(&parsed).await? {
        return Err(not_found());
    }
    tracing::info!(event_type = %parsed, "event type deleted");
    Ok(StatusCode::NO_CONTENT)
}
