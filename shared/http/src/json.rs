//! JSON request bodies with problem-shaped rejections.
//!
//! axum's own `Json` answers in plain text and does not say which field is
//! wrong. These extractors answer with [`ApiError`]: a body that is not JSON
//! is 400, a value of the wrong type, a missing field or an unknown field is
//! 422 naming the field (every request type uses `deny_unknown_fields`, so a
//! misspelt optional field is an error instead of being silently ignored),
//! and a body over the limit is 413.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::problem::ApiError;

/// Largest request body the admin API accepts (256 KiB).
pub const API_BODY_LIMIT: usize = 256 * 1024;

/// The body limit of the routes a [`body_limit`] layer wraps, kept so that
/// a 413 can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// Limits request bodies to `bytes` on the router or route it wraps, and
/// lets the extractors here name that limit in their 413. Use it instead of
/// a bare `DefaultBodyLimit::max`, which would leave the 413 quoting the
/// admin API's 256 KiB.
pub fn body_limit(bytes: usize) -> (DefaultBodyLimit, Extension<BodyLimit>) {
    (DefaultBodyLimit::max(bytes), Extension(BodyLimit(bytes)))
}

/// A required JSON body (`content-type: application/json`).
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        check_content_type(req.headers())?;
        let body = read_body(req, state).await?;
        if body.is_empty() {
            return Err(ApiError::BadRequest(
                "the request body is empty; send a JSON object".into(),
            ));
        }
        parse(&body).map(Json)
    }
}

/// A JSON body that may be left out: an empty body, or `null`, reads as
/// `T::default()`.
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let body = read_body(req, state).await?;
        if body.is_empty() {
            return Ok(OptionalJson(T::default()));
        }
        check_content_type(&headers)?;
        let value: Option<T> = parse(&body)?;
        Ok(OptionalJson(value.unwrap_or_default()))
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match mime {
        Some(m)
            if m == "application/json"
                || (m.starts_with("application/") && m.ends_with("+json")) =>
        {
            Ok(())
        }
        Some(m) => Err(ApiError::UnsupportedMediaType(format!(
            "content-type '{m}' is not supported; send the body as application/json"
        ))),
        None => Err(ApiError::UnsupportedMediaType(
            "missing content-type header; send the body as application/json".into(),
        )),
    }
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map_or(API_BODY_LIMIT, |l| l.0);
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::BadRequest(format!(
                "the request body could not be read: {}",
                rejection.body_text()
            ))
        }
    })
}

/// Deserializes `body`, naming the field at fault on a type error.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // serde would also read a struct from an array of its fields in order;
    // every request body of this API is an object, so say that plainly.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::BadRequest(
            "the request body must be a JSON object, not an array".into(),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(json_error)?;
    de.end()
        .map_err(|e| ApiError::BadRequest(format!("the request body is not valid JSON: {e}")))?;
    Ok(value)
}

fn json_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    if inner.classify() != Category::Data {
        return ApiError::BadRequest(format!("the request body is not valid JSON: {inner}"));
    }
    // The position is noise next to the field's name.
    let full = inner.to_string();
    let position = format!(" at line {} column {}", inner.line(), inner.column());
    let message = full.strip_suffix(&position).unwrap_or(&full).to_owned();
    match field_of(&path, &message) {
        Some(field) => ApiError::Validation {
            detail: format!("{field}: {message}"),
            field,
        },
        None => ApiError::BadRequest(format!("the request body must be a JSON object: {message}")),
    }
}

/// The field a data error is about: the path to the value, which for an
/// unknown field already ends in its name; a missing field is reported on
/// the enclosing object, so its name is added.
fn field_of(path: &str, message: &str) -> Option<String> {
    let parent = (path != ".").then_some(path);
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (parent, missing) {
        (Some(p), Some(name)) => Some(format!("{p}.{name}")),
        (None, Some(name)) => Some(name.to_owned()),
        (Some(p), None) => Some(p.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        url: String,
        event_types: Option<Vec<String>>,
    }

    fn field(body: &str) -> (u16, Option<String>) {
        let err = parse::<Body>(body.as_bytes()).unwrap_err();
        (err.status().as_u16(), err.problem().field)
    }

    #[tokio::test]
    async fn a_route_limit_is_enforced_and_named_in_the_413() {
        use axum::Router;
        use axum::routing::post;
        use tower::ServiceExt;

        async fn echo(Json(value): Json<serde_json::Value>) -> axum::Json<serde_json::Value> {
            axum::Json(value)
        }
        let app = Router::new()
            .route("/small", post(echo).layer(body_limit(64)))
            .route("/big", post(echo))
            .layer(body_limit(API_BODY_LIMIT));
        let send = |path: &'static str, len: usize| {
            let body = serde_json::json!({ "x": "a".repeat(len) }).to_string();
            let request = Request::post(path)
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body))
                .unwrap();
            app.clone().oneshot(request)
        };
        let response = send("/small", 100).await.unwrap();
        assert_eq!(response.status(), 413);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            problem["detail"],
            "the request body is larger than 64 bytes"
        );
        assert_eq!(send("/big", 100).await.unwrap().status(), 200);
        assert_eq!(send("/big", API_BODY_LIMIT).await.unwrap().status(), 413);
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        assert_eq!(field("{\"url\": "), (400, None));
        assert_eq!(field("{\"url\": \"x\"} trailing"), (400, None));
        assert_eq!(field("[1]"), (400, None));
        assert_eq!(field(" [\"https://x\", []]"), (400, None));
        assert_eq!(field("\"text\""), (400, None));
    }

    #[test]
    fn data_errors_name_the_field() {
        assert_eq!(field(r#"{"url": 5}"#), (422, Some("url".into())));
        assert_eq!(
            field(r#"{"url": "x", "eventTypes": ["a", 3]}"#),
            (422, Some("eventTypes[1]".into()))
        );
        assert_eq!(field(r#"{}"#), (422, Some("url".into())));
        assert_eq!(
            field(r#"{"url": "x", "colour": "red"}"#),
            (422, Some("colour".into()))
        );
    }
}
