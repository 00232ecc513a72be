//! Bad input on the delivery-log, resend, test-event and statistics routes:
//! each case gets the right status and a problem naming the parameter or
//! field, and nothing is sent or written.

use std::sync::Arc;

use axum::http::Method;
use courier::ports::Store;
use serde_json::json;

use crate::bad_input::Case;
use crate::common::{Api, endpoint_path, seed_delivery, unique_tenant};

courier_testkit::backend_tests!(store: bad_log_stats_and_test_requests_are_refused_and_send_nothing);

async fn bad_log_stats_and_test_requests_are_refused_and_send_nothing(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let id = api.create_endpoint_id(&tenant).await;
    let delivery = seed_delivery(store.as_ref(), &tenant, &id).await;
    let path = endpoint_path(&tenant, &id);
    let deliveries = format!("{path}/deliveries");
    let log_before = api.get(&format!("{deliveries}?limit=100")).await.body;
    let unprocessable = |name: &str, field: &'static str, detail: &'static str| {
        Case::bodiless(name, 422, Some(field), detail)
    };
    let no_token =
        |name: &str| Case::bodiless(name, 401, None, "authorization").authorization(None);

    let list_cases = [
        (
            "?limit=0",
            unprocessable("limit 0", "limit", "between 1 and 100"),
        ),
        (
            "?limit=101",
            unprocessable("limit 101", "limit", "between 1 and 100"),
        ),
        (
            "?limit=ten",
            unprocessable("limit not a number", "limit", "invalid digit"),
        ),
        (
            "?limit=-1",
            unprocessable("negative limit", "limit", "invalid digit"),
        ),
        (
            "?status=bogus",
            unprocessable("unknown status", "status", "retrying"),
        ),
        (
            "?status=Failed",
            unprocessable("status in the wrong case", "status", "unknown variant"),
        ),
        (
            "?since=yesterday",
            unprocessable("since not a time", "since", "rfc 3339"),
        ),
        (
            "?since=2026-04-23",
            unprocessable("since a date only", "since", "rfc 3339"),
        ),
        (
            "?until=2026-13-01T00:00:00Z",
            unprocessable("until not a date", "until", "rfc 3339"),
        ),
        (
            "?eventType=a..b",
            unprocessable(
                "malformed event type",
                "eventType",
                "not a valid event type",
            ),
        ),
        (
            "?colour=red",
            unprocessable("unknown parameter", "colour", "unknown field"),
        ),
        (
            "?cursor=not-a-cursor",
            Case::bodiless("bad cursor", 400, None, "cursor"),
        ),
        (
            "?cursor=YzE6eA",
            Case::bodiless("foreign cursor", 400, None, "cursor"),
        ),
        ("", no_token("list without a token")),
    ];
    for (query, case) in list_cases {
        case.send(&api, Method::GET, &format!("{deliveries}{query}"))
            .await;
    }

    // An empty window is well formed: an empty page, though the reversed
    // window would hold the logged attempt.
    let empty = api
        .get(&format!(
            "{deliveries}?since=2100-01-01T00:00:00Z&until=2000-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(empty.status, 200, "{empty:?}");
    assert_eq!(empty.body, json!({ "data": [], "nextCursor": null }));

    let not_found = |name: &str| Case::bodiless(name, 404, None, "no delivery");
    let missing = "del_01J9Z4A7K2M3N4P5Q6R7S8T9V0";
    for (method, suffix) in [(Method::GET, ""), (Method::POST, "/resend")] {
        for bad in ["del_nope", "nope", missing, &id] {
            not_found(&format!("{method} delivery {bad}"))
                .send(&api, method.clone(), &format!("{deliveries}/{bad}{suffix}"))
                .await;
        }
        no_token(&format!("{method} delivery without a token"))
            .send(
                &api,
                method.clone(),
                &format!("{deliveries}/{delivery}{suffix}"),
            )
            .await;
    }

    let test = format!("{path}/test");
    let test_cases = [
        Case::invalid(
            "malformed event type",
            json!({ "eventType": "not a type!" }),
            "eventType",
            "not a valid event type",
        ),
        Case::invalid(
            "empty event type",
            json!({ "eventType": "" }),
            "eventType",
            "1 to 128",
        ),
        Case::invalid(
            "wildcard event type",
            json!({ "eventType": "booking.*" }),
            "eventType",
            "event type",
        ),
        Case::invalid(
            "event type not a string",
            json!({ "eventType": 5 }),
            "eventType",
            "invalid type",
        ),
        Case::invalid(
            "unknown field",
            json!({ "data": {} }),
            "data",
            "unknown field",
        ),
        Case::raw("malformed JSON", b"{\"eventType\": ", 400, "not valid json"),
        Case::raw("array body", b"[]", 400, "json object"),
        Case::raw("text body", b"{}", 415, "application/json").content_type(Some("text/plain")),
        no_token("test without a token"),
    ];
    for case in test_cases {
        case.send(&api, Method::POST, &test).await;
    }

    let stats = format!("{path}/stats");
    let stats_cases = [
        (
            "?days=0",
            unprocessable("no days", "days", "between 1 and 31"),
        ),
        (
            "?days=32",
            unprocessable("too many days", "days", "between 1 and 31"),
        ),
        (
            "?days=week",
            unprocessable("days not a number", "days", "invalid digit"),
        ),
        (
            "?from=2026-04-01",
            unprocessable("unknown parameter", "from", "unknown field"),
        ),
        ("", no_token("stats without a token")),
    ];
    for (query, case) in stats_cases {
        case.send(&api, Method::GET, &format!("{stats}{query}"))
            .await;
    }

    // Malformed ids in the path: the tenant's is named, the others are 404.
    let endpoint_missing = |name: &str| Case::bodiless(name, 404, None, "has no endpoint");
    for (method, suffix) in [
        (Method::GET, "/deliveries".to_owned()),
        (Method::GET, format!("/deliveries/{delivery}")),
        (Method::POST, format!("/deliveries/{delivery}/resend")),
        (Method::POST, "/test".to_owned()),
        (Method::GET, "/stats".to_owned()),
    ] {
        for bad in ["ep_nope", &delivery] {
            endpoint_missing(&format!("{method} {suffix} under {bad}"))
                .send(
                    &api,
                    method.clone(),
                    &format!("{}{suffix}", endpoint_path(&tenant, bad)),
                )
                .await;
        }
        unprocessable("malformed tenant", "tenantId", "tenant id")
            .send(
                &api,
                method.clone(),
                &format!("{}{suffix}", endpoint_path("bad.tenant", &id)),
            )
            .await;
    }

    assert!(
        api.take_queued().await.is_empty(),
        "a refused request sent something"
    );
    assert_eq!(
        api.get(&format!("{deliveries}?limit=100")).await.body,
        log_before
    );
}
