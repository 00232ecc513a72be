//! Errors as RFC 9457 problem details (`application/problem+json`).
//!
//! [`ApiError`] is the only place where domain and storage errors become HTTP
//! statuses; handlers return it and never build error responses themselves.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use courier::access::AccessError;
use courier::ports::{QueueError, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem: what went wrong, for a person and for a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `urn:courier:problem:validation-failed`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this request and how to fix it.
    pub detail: String,
    /// On 422: the request field at fault (`url`, `eventTypes[1]`, `tenantId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A problem about one published event: the [`Problem`] plus the event's
/// id, so a producer whose id was generated can retry with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventProblem {
    /// The problem itself.
    #[serde(flatten)]
    pub problem: Problem,
    /// The event's id, as given or generated.
    pub event_id: String,
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The resource does not exist (or belongs to another tenant).
    #[error("{0}")]
    NotFound(String),
    /// A field failed validation.
    #[error("{field}: {detail}")]
    Validation {
        /// The field at fault, camelCase as in the request.
        field: String,
        /// Why it is refused.
        detail: String,
    },
    /// The request cannot be understood (malformed JSON, invalid cursor).
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the route accepts.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The route's limit in bytes.
        limit: usize,
    },
    /// A published event would be delivered in a body over the limit.
    #[error(
        "the event is {size} bytes once wrapped in its envelope; the limit is {limit} bytes (MAX_PAYLOAD_BYTES)"
    )]
    EventTooLarge {
        /// Size of the larger body format.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The body is not JSON by its content type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request clashes with the current state (exists, changed concurrently).
    #[error("{0}")]
    Conflict(String),
    /// No or a wrong bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid credential that may not do this (another tenant's route, a
    /// write with a read-only session, an admin-only route).
    #[error("{0}")]
    Forbidden(String),
    /// The path exists but not with this method.
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    /// A published event was stored but not completely fanned out; the
    /// detail tells the producer which id to retry with.
    #[error("{0}")]
    RetryWithSameId(String),
    /// A backing service failed; the text is logged, never shown.
    #[error("backing service unavailable: {0}")]
    Unavailable(String),
    /// Any of the above about one published event, whose id the problem
    /// body names (`eventId`).
    #[error("{error}")]
    ForEvent {
        /// The event's id, as given or generated.
        event_id: String,
        /// What went wrong.
        error: Box<ApiError>,
    },
}

impl ApiError {
    /// A validation failure of `field`.
    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// This error about the event `event_id`.
    pub fn for_event(self, event_id: impl Into<String>) -> Self {
        Self::ForEvent {
            event_id: event_id.into(),
            error: Box::new(self),
        }
    }

    /// The error without its event.
    fn root(&self) -> &Self {
        match self {
            Self::ForEvent { error, .. } => error.root(),
            other => other,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self.root() {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } | Self::EventTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable(_) | Self::RetryWithSameId(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::ForEvent { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem body for this error.
    pub fn problem(&self) -> Problem {
        let this = self.root();
        let (slug, title) = match this {
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::Validation { .. } => ("validation-failed", "Validation failed"),
            Self::BadRequest(_) => ("bad-request", "Bad request"),
            Self::PayloadTooLarge { .. } | Self::EventTooLarge { .. } => {
                ("payload-too-large", "Payload too large")
            }
            Self::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            Self::Conflict(_) => ("conflict", "Conflict"),
            Self::Unauthorized(_) => ("unauthorized", "Unauthorized"),
            Self::Forbidden(_) => ("forbidden", "Forbidden"),
            Self::MethodNotAllowed => ("method-not-allowed", "Method not allowed"),
            Self::Unavailable(_) => ("unavailable", "Service unavailable"),
            Self::RetryWithSameId(_) => ("fan-out-incomplete", "Fan-out incomplete"),
            Self::ForEvent { .. } => ("internal", "Internal error"),
        };
        let (detail, field) = match this {
            Self::Validation { field, detail } => (detail.clone(), Some(field.clone())),
            // Internals (table names, SDK messages) stay in the logs.
            Self::Unavailable(_) => (
                "a backing service is temporarily unavailable; retry the request shortly".into(),
                None,
            ),
            other => (other.to_string(), None),
        };
        Problem {
            problem_type: format!("urn:courier:problem:{slug}"),
            title: title.into(),
            status: self.status().as_u16(),
            detail,
            field,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Unavailable(cause) = self.root() {
            tracing::error!(error = %cause, "backing service unavailable");
        }
        let status = self.status();
        let mut response = match &self {
            Self::ForEvent { event_id, .. } => {
                let body = EventProblem {
                    problem: self.problem(),
                    event_id: event_id.clone(),
                };
                (status, Json(body)).into_response()
            }
            _ => (status, Json(self.problem())).into_response(),
        };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match self.root() {
            Self::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Unavailable(_) | Self::RetryWithSameId(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict => Self::Conflict(err.to_string()),
            StoreError::AlreadyExists => Self::Conflict("the resource already exists".into()),
            StoreError::InvalidCursor => Self::BadRequest(
                "cursor is not valid: pass back the nextCursor of the previous page unchanged"
                    .into(),
            ),
            StoreError::Unavailable(cause) => Self::Unavailable(format!("store: {cause}")),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(err: AccessError) -> Self {
        match err {
            AccessError::Unauthenticated(why) => Self::Unauthorized(why),
            AccessError::Forbidden(why) => Self::Forbidden(why),
            AccessError::Store(e) => e.into(),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(err: QueueError) -> Self {
        Self::Unavailable(format!("queue: {err}"))
    }
}

/// Fallback for paths no route matches.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; see the OpenAPI document for the API's paths".into())
}

/// Fallback for a known path called with a method it does not support.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_hides_its_cause() {
        let problem = ApiError::from(StoreError::Unavailable(
            "table courier-prod: throttled".into(),
        ))
        .problem();
        assert_eq!(problem.status, 503);
        assert!(!problem.detail.contains("courier-prod"));
    }

    #[test]
    fn validation_names_the_field() {
        let problem = ApiError::validation("eventTypes", "must not be empty").problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.field.as_deref(), Some("eventTypes"));
        assert_eq!(problem.detail, "must not be empty");
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["type"], "urn:courier:problem:validation-failed");
    }

    #[tokio::test]
    async fn an_event_problem_names_the_event_and_keeps_the_status() {
        let err = ApiError::from(StoreError::Unavailable("throttled".into())).for_event("evt_1");
        assert_eq!(err.status(), 503);
        let response = err.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["eventId"], "evt_1");
        assert_eq!(json["status"], 503);
        assert_eq!(json["type"], "urn:courier:problem:unavailable");
        let invalid = ApiError::validation("type", "unknown").for_event("evt_2");
        assert_eq!(invalid.problem().field.as_deref(), Some("type"));
        assert_eq!(invalid.status(), 422);
    }

    #[test]
    fn store_errors_map_to_statuses() {
        assert_eq!(ApiError::from(StoreError::Conflict).status(), 409);
        assert_eq!(ApiError::from(StoreError::AlreadyExists).status(), 409);
        assert_eq!(ApiError::from(StoreError::InvalidCursor).status(), 400);
    }
}
