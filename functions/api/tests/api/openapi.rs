//! The checked-in OpenAPI document is the one the code generates.

use std::path::PathBuf;

use serde_json::Value;

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

#[test]
fn checked_in_openapi_document_matches_the_code() {
    let generated = courier_api::openapi::document_json().unwrap();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(checked_in(), &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(checked_in()).unwrap_or_default();
    assert!(
        on_disk == generated,
        "functions/api/openapi.json differs from the document the code generates; \
         regenerate it with `UPDATE_OPENAPI=1 cargo test -p courier-api --test api openapi` \
         and commit the result"
    );
}

#[test]
fn document_covers_every_route_with_bearer_auth_and_problems() {
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
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/test",
            vec!["post"],
        ),
        (
            "/v1/tenants/{tenantId}/endpoints/{endpointId}/stats",
            vec!["get"],
        ),
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
