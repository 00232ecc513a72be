//! The panel's files: served without a credential, compiled in, with a
//! policy that loads nothing from another origin and frames only where
//! `PORTAL_FRAME_ANCESTORS` allows.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use courier::embedded::EmbeddedStore;
use courier_api::portal::PortalSettings;
use courier_api::router;
use tower::ServiceExt;

use crate::common::state;

async fn get(portal: &PortalSettings, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let app = router(state(Arc::new(EmbeddedStore::new())).with_portal(portal.clone()));
    let response = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn the_panel_needs_no_credential_and_refuses_every_frame_by_default() {
    let portal = PortalSettings::default();
    let (status, headers, html) = get(&portal, "/portal").await;
    assert_eq!(status, 200);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert!(csp.ends_with("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert!(html.contains("<title>Webhooks · Courier</title>"), "{html}");
    // Every file the page names is served from this origin.
    for file in ["portal/portal.css", "portal/theme.css", "portal/app.js"] {
        assert!(html.contains(&format!("\"{file}\"")), "{file} in {html}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no other origin"
    );
}

#[tokio::test]
async fn the_settings_name_the_ancestors_the_platform_and_its_colour() {
    let portal = PortalSettings {
        frame_ancestors: vec!["https://shop.example.com".into()],
        platform_name: "Shop <Line>".into(),
        accent_color: "#0a7f5c".into(),
        url: None,
    };
    let (_, headers, html) = get(&portal, "/portal").await;
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.ends_with("frame-ancestors https://shop.example.com"),
        "{csp}"
    );
    assert!(headers.get(header::X_FRAME_OPTIONS).is_none());
    assert!(
        html.contains("Shop &lt;Line&gt;") && !html.contains("<Line>"),
        "{html}"
    );
    let (status, headers, css) = get(&portal, "/portal/theme.css").await;
    assert_eq!(status, 200);
    assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert_eq!(css, ":root { --accent: #0a7f5c; }\n");
}

#[tokio::test]
async fn every_module_is_served_and_imports_only_its_siblings() {
    let portal = PortalSettings::default();
    for module in [
        "app",
        "api",
        "dom",
        "endpoints",
        "endpoint",
        "deliveries",
        "recover",
        "stats",
    ] {
        let (status, headers, js) = get(&portal, &format!("/portal/{module}.js")).await;
        assert_eq!(status, 200, "{module}");
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert!(js.len() > 200, "{module}.js has content");
        for line in js.lines().filter(|l| l.starts_with("import ")) {
            assert!(line.contains("from \"./"), "{module}.js: {line}");
        }
        // One fetch in all, to this origin's API (the browser test checks
        // the network log too).
        let fetches = js.matches("fetch(").count();
        if module == "api" {
            assert_eq!(js.matches("fetch(base + path, init)").count(), 1);
            assert_eq!(fetches, 1, "{module}.js");
        } else {
            assert_eq!(fetches, 0, "{module}.js fetches nothing itself");
        }
        for needle in [
            "XMLHttpRequest",
            "WebSocket",
            "EventSource",
            "sendBeacon",
            "import(",
        ] {
            assert!(!js.contains(needle), "{module}.js uses {needle}");
        }
    }
    let (status, headers, _) = get(&portal, "/portal/nope.js").await;
    assert_eq!(status, 404);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
}
