//! The checked-in OpenAPI document is the one the code generates.

use std::path::PathBuf;

use serde_json::Value;

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

/// What the drift check does when the checked-in document is `on_disk` and
/// the code generates `generated`: nothing when they agree; otherwise fail,
/// after writing `generated` when `regenerate` (UPDATE_OPENAPI=1). A drifted
/// document never passes, so neither a stray variable nor CI can hide it.
fn drift(on_disk: &str, generated: &str, regenerate: bool) -> Result<(), Drift> {
    match (on_disk == generated, regenerate) {
        (true, _) => Ok(()),
        (false, true) => Err(Drift::Regenerated),
        (false, false) => Err(Drift::Stale),
    }
}

#[derive(Debug, PartialEq)]
enum Drift {
    /// Written anew: review and commit it, then run the tests again.
    Regenerated,
    /// Differs, left as it is.
    Stale,
}

#[test]
fn checked_in_openapi_document_matches_the_code() {
    let generated = courier_api::openapi::document_json().unwrap();
    let on_disk = std::fs::read_to_string(checked_in()).unwrap_or_default();
    let regenerate = std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1");
    match drift(&on_disk, &generated, regenerate) {
        Ok(()) => {}
        Err(Drift::Regenerated) => {
            std::fs::write(checked_in(), &generated).unwrap();
            panic!(
                "functions/api/openapi.json differed from the document the code generates \
                 and was regenerated (UPDATE_OPENAPI=1); review and commit it, then run \
                 the tests again without UPDATE_OPENAPI"
            );
        }
        Err(Drift::Stale) => panic!(
            "functions/api/openapi.json differs from the document the code generates; \
             regenerate it with `UPDATE_OPENAPI=1 cargo test -p courier-api --test api openapi` \
             (which fails once, having written it) and commit the result"
        ),
    }
}

#[test]
fn a_drifted_document_fails_even_when_it_is_regenerated() {
    assert_eq!(drift("{}", "{}", false), Ok(()));
    assert_eq!(drift("{}", "{}", true), Ok(()));
    assert_eq!(drift("{}", "{\"a\":1}", false), Err(Drift::Stale));
    assert_eq!(drift("{}", "{\"a\":1}", true), Err(Drift::Regenerated));
}

#[test]
fn document_covers_every_route_with_both_bearer_schemes_and_problems() {
    let doc: Value = serde_json::from_str(&courier_api::openapi::document_json().unwrap()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/v1/event-types", vec!["get", "post"]),
        ("/v1/event-types/{name}", vec!["delete"]),
        ("/v1/tenants/{tenantId}/endpoints", vec!["get", "post"]),
        (
            "/v1/tenants/{tenantId}/endpoints/{endpointId}",
            vec!["delete", "get", "patch"],
        ),
        (
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/secret",
            vec!["get"],
        ),
        (
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/secret/rotate",
            vec!["post"],
        ),
        (
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/deliveries",
            vec!["get"],
        ),
        (
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/deliveries/{deliveryId}",
            vec!["get"],
        ),
        (
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/deliveries/{deliveryId}/resend",
            vec!["post"],
        ),
        (
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/recover",
            vec!["post"],
        ),
        (
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/test",
            vec!["post"],
        ),
        (
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/stats",
            vec!["get"],
        ),
        ("/v1/tenants/{tenantId}/api-keys", vec!["get", "post"]),
        ("/v1/tenants/{tenantId}/api-keys/{keyId}", vec!["delete"]),
        ("/v1/tenants/{tenantId}/portal-sessions", vec!["post"]),
        ("/v1/credential", vec!["get"]),
        // Served by the intake function, described with the API.
        ("/v1/tenants/{tenantId}/events", vec!["post"]),
    ];
    assert_eq!(paths.len(), expected.len());
    for (path, methods) in expected {
        let mut documented: Vec<&str> = paths[path]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        documented.sort();
        assert_eq!(documented, methods, "{path}");
        for method in methods {
            let op = &paths[path][method];
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path} documents 401"
            );
        }
    }
    // Each operation names the schemes that may call it: the admin token
    // everywhere, tenant credentials on their tenant's routes and on reads
    // of the catalogue, never on keys, sessions or catalogue writes.
    let admin_only = [
        ("/v1/event-types", "post"),
        ("/v1/event-types/{name}", "delete"),
        ("/v1/tenants/{tenantId}/api-keys", "get"),
        ("/v1/tenants/{tenantId}/api-keys", "post"),
        ("/v1/tenants/{tenantId}/api-keys/{keyId}", "delete"),
        ("/v1/tenants/{tenantId}/portal-sessions", "post"),
    ];
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let schemes: Vec<&str> = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} names its security"))
                .iter()
                .flat_map(|req| req.as_object().unwrap().keys().map(String::as_str))
                .collect();
            let want = if admin_only.contains(&(path.as_str(), method.as_str())) {
                vec!["adminToken"]
            } else {
                vec!["adminToken", "tenantToken"]
            };
            assert_eq!(schemes, want, "{method} {path}");
            let refusable =
                path != "/v1/credential" && !(path == "/v1/event-types" && method == "get");
            assert_eq!(
                op["responses"]["403"].is_object(),
                refusable,
                "{method} {path} documents 403 exactly when a credential can be refused"
            );
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["tenantToken"]["scheme"],
        "bearer"
    );
    assert_eq!(doc["security"][0]["adminToken"], serde_json::json!([]));
    assert_eq!(
        doc["components"]["securitySchemes"]["adminToken"]["scheme"],
        "bearer"
    );
    let problem = &doc["components"]["schemas"]["Problem"]["properties"];
    for field in ["type", "title", "status", "detail", "field"] {
        assert!(problem[field].is_object(), "Problem.{field}");
    }
    assert!(
        doc["components"]["responses"]["ValidationFailed"]["content"]["application/problem+json"]
            .is_object()
    );
}
