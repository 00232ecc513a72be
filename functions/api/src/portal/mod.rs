//! The embeddable webhooks panel at `/portal`: static files compiled into
//! the binary (`functions/api/portal/`), served with a Content-Security-
//! Policy that lets the page load nothing from another origin and lets
//! only `PORTAL_FRAME_ANCESTORS` frame it.
//!
//! The files hold no tenant data, so they are served without a
//! credential. A portal session's URL carries its token in the fragment
//! (`/portal#token=cpt_…`), which browsers never send to a server or put in
//! a `Referer`; the page reads it and calls the API with it as a bearer
//! token, like any other client.

pub mod settings;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::ApiState;
use crate::problem::ApiError;
pub use settings::{PortalSettings, PortalSettingsError};

/// Where the panel is served.
pub const PORTAL_PATH: &str = "/portal";

/// The panel's files: name, content type, contents.
const FILES: &[(&str, &str, &str)] = &[
    (
        "portal.css",
        "text/css; charset=utf-8",
        include_str!("../../portal/portal.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../portal/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../portal/api.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../../portal/dom.js"),
    ),
    (
        "endpoints.js",
        "text/javascript; charset=utf-8",
        include_str!("../../portal/endpoints.js"),
    ),
    (
        "endpoint.js",
        "text/javascript; charset=utf-8",
        include_str!("../../portal/endpoint.js"),
    ),
    (
        "deliveries.js",
        "text/javascript; charset=utf-8",
        include_str!("../../portal/deliveries.js"),
    ),
    (
        "recover.js",
        "text/javascript; charset=utf-8",
        include_str!("../../portal/recover.js"),
    ),
    (
        "stats.js",
        "text/javascript; charset=utf-8",
        include_str!("../../portal/stats.js"),
    ),
];

const INDEX: &str = include_str!("../../portal/index.html");

/// True for the panel's paths, which need no credential.
pub fn is_public(path: &str) -> bool {
    path == PORTAL_PATH
        || path
            .strip_prefix(PORTAL_PATH)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The panel's routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(PORTAL_PATH, get(index))
        .route("/portal/{file}", get(file))
}

async fn index(State(state): State<ApiState>) -> Response {
    let html = INDEX.replace(
        "{{platformName}}",
        &escape_html(&state.portal.platform_name),
    );
    with_headers(&state.portal, "text/html; charset=utf-8", html)
}

async fn file(State(state): State<ApiState>, Path(name): Path<String>) -> Response {
    if name == "theme.css" {
        // The accent colour, checked at start-up to be #rgb or #rrggbb.
        let css = format!(":root {{ --accent: {}; }}\n", state.portal.accent_color);
        return with_headers(&state.portal, "text/css; charset=utf-8", css);
    }
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => {
            with_headers(&state.portal, content_type, (*body).to_owned())
        }
        None => ApiError::NotFound(format!("the panel has no file '{name}'")).into_response(),
    }
}

/// The Content-Security-Policy of every panel response.
pub fn content_security_policy(settings: &PortalSettings) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {}",
        settings.frame_ancestors_directive()
    )
}

fn with_headers(settings: &PortalSettings, content_type: &'static str, body: String) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(settings)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    if settings.frame_ancestors.is_empty() {
        // For browsers that predate frame-ancestors.
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    (headers, body).into_response()
}

/// The panel's URL for a session token: `PORTAL_URL` when set, else this
/// API's own address as the request reached it.
pub fn session_url(settings: &PortalSettings, request_headers: &HeaderMap, token: &str) -> String {
    let base = match &settings.url {
        Some(url) => url.clone(),
        None => {
            let host = request_headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("localhost");
            let loopback = host.starts_with("127.")
                || host.starts_with("localhost")
                || host.starts_with("[::1]");
            let scheme = request_headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(if loopback { "http" } else { "https" });
            format!("{scheme}://{host}{PORTAL_PATH}")
        }
    };
    format!("{base}#token={token}")
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_panel_is_public() {
        assert!(is_public("/portal"));
        assert!(is_public("/portal/app.js"));
        assert!(!is_public("/portals"));
        assert!(!is_public("/v1/portal"));
    }

    #[test]
    fn the_policy_names_the_ancestors() {
        let mut s = PortalSettings::default();
        assert!(content_security_policy(&s).ends_with("frame-ancestors 'none'"));
        s.frame_ancestors = vec!["https://shop.example.com".into()];
        let csp = content_security_policy(&s);
        assert!(
            csp.ends_with("frame-ancestors https://shop.example.com"),
            "{csp}"
        );
        assert!(csp.contains("connect-src 'self'"));
    }

    #[test]
    fn session_urls_follow_the_request_or_the_setting() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            HeaderValue::from_static("abc.execute-api.eu-west-1.amazonaws.com"),
        );
        let s = PortalSettings::default();
        assert_eq!(
            session_url(&s, &headers, "cpt_x"),
            "https://abc.execute-api.eu-west-1.amazonaws.com/portal#token=cpt_x"
        );
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
        assert_eq!(
            session_url(&s, &headers, "cpt_x"),
            "http://127.0.0.1:3000/portal#token=cpt_x"
        );
        let custom = PortalSettings {
            url: Some("https://hooks.example.com/portal".into()),
            ..PortalSettings::default()
        };
        assert_eq!(
            session_url(&custom, &headers, "cpt_x"),
            "https://hooks.example.com/portal#token=cpt_x"
        );
    }

    #[test]
    fn the_platform_name_is_escaped() {
        assert_eq!(
            escape_html("<b>\"A&B\"</b>"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;"
        );
    }
}
