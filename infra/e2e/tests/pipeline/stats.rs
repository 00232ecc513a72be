//! Statistics: one row per UTC day of the range, gaps filled, and counts
//! that match the attempts made, class by class.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::http::StatusCode;
use courier::attempt::ErrorClass;
use courier::ports::Store;
use courier::stats::StatsDelta;
use courier_testkit::{Reply, TestBackend};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::common::{Api, deliveries_path, endpoint_path, unique_tenant};
use crate::pipeline::{Pipeline, fast_settings};

courier_testkit::backend_tests!(store: stats_show_every_day_of_the_range);
courier_testkit::backend_tests!(stats_match_the_attempts_made_class_by_class);

fn stats_path(tenant: &str, endpoint: &str) -> String {
    format!("{}/stats", endpoint_path(tenant, endpoint))
}

/// Sums the API's rows, checking that they match its totals.
fn checked_totals(stats: &Value) -> Value {
    let days = stats["days"].as_array().unwrap();
    let mut sums: BTreeMap<String, u64> = BTreeMap::new();
    for day in days {
        for key in ["attempts", "succeeded", "failed"] {
            *sums.entry(key.into()).or_default() += day[key].as_u64().unwrap();
        }
        for (class, n) in day["failures"].as_object().unwrap() {
            *sums.entry(class.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    let totals = &stats["totals"];
    for (key, sum) in &sums {
        let total = totals.get(key).unwrap_or(&totals["failures"][key]);
        assert_eq!(total.as_u64(), Some(*sum), "{key}");
    }
    totals.clone()
}

/// Failure counts by class from the endpoint's log as the API lists it.
async fn failures_in_log(api: &Api, tenant: &str, endpoint: &str) -> Value {
    let reply = api
        .get(&format!("{}?limit=100", deliveries_path(tenant, endpoint)))
        .await;
    let mut counts: BTreeMap<&str, u64> = ErrorClass::ALL.iter().map(|c| (c.as_str(), 0)).collect();
    for entry in reply.body["data"].as_array().unwrap() {
        if let Some(class) = entry["errorClass"].as_str() {
            *counts.get_mut(class).unwrap() += 1;
        }
    }
    json!(counts)
}

async fn stats_match_the_attempts_made_class_by_class(backend: &dyn TestBackend) {
    let p = Pipeline::new(backend).await;
    let today = OffsetDateTime::now_utc().date();
    let ep = p.endpoint().await;

    // One event per line, each chain pumped to its end: the replies to its
    // first attempt and to its retry.
    let chains = [
        (Reply::status(500), Some(Reply::status(200))),
        (
            Reply::redirect("https://elsewhere.example/"),
            Some(Reply::status(400)),
        ),
        // Past the 500 ms delivery timeout.
        (
            Reply::status(200).after(StdDuration::from_millis(1500)),
            Some(Reply::status(204)),
        ),
    ];
    let mut expected_log = 0;
    for (first, retry) in chains {
        p.receiver
            .respond_with([Some(first), retry].into_iter().flatten().collect());
        p.publish(&ep).await;
        expected_log += 2;
        p.pump_until(&p.deliverer, &ep, expected_log).await;
    }
    // Refused by the SSRF guard of a deployment that keeps private targets
    // out: both attempts are blocked before any connection.
    let guarded = p.deliverer_with(courier::config::Settings {
        allow_private_targets: false,
        ..fast_settings()
    });
    p.publish(&ep).await;
    expected_log += 2;
    p.pump_until(&guarded, &ep, expected_log).await;
    p.assert_quiet().await;
    assert_eq!(p.receiver.requests().len(), 6);

    // Another endpoint where nothing listens: connection failures.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let unreachable = p
        .endpoint_at(&format!("http://127.0.0.1:{closed}/hook"))
        .await;
    p.publish(&unreachable).await;
    p.pump_until(&p.deliverer, &unreachable, 2).await;
    p.assert_quiet().await;

    let reply = p.api.get(&stats_path(&p.tenant, &ep)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let stats = reply.body;
    assert_eq!(stats["days"].as_array().unwrap().len(), 30);
    let totals = checked_totals(&stats);
    assert_eq!(totals["attempts"], 8);
    assert_eq!(totals["succeeded"], 2);
    assert_eq!(totals["failed"], 6);
    assert_eq!(totals["successRate"], 0.25);
    let expected_failures =
        json!({ "3xx": 1, "4xx": 1, "5xx": 1, "timeout": 1, "connection": 0, "blocked": 2 });
    assert_eq!(totals["failures"], expected_failures);
    assert_eq!(
        failures_in_log(&p.api, &p.tenant, &ep).await,
        expected_failures,
        "the log and the statistics agree"
    );
    // All of it today (or, across midnight, the two last days).
    let last = stats["days"].as_array().unwrap().last().unwrap().clone();
    let now = OffsetDateTime::now_utc().date();
    assert_eq!(last["date"], now.to_string());
    if now == today {
        assert_eq!(last["attempts"], 8);
    }

    let reply = p.api.get(&stats_path(&p.tenant, &unreachable)).await;
    let totals = checked_totals(&reply.body);
    assert_eq!(totals["attempts"], 2);
    assert_eq!(totals["successRate"], 0.0);
    assert_eq!(totals["failures"]["connection"], 2);
    assert_eq!(
        failures_in_log(&p.api, &p.tenant, &unreachable).await["connection"],
        2
    );

    // The endpoint read shows the delivery bookkeeping: two failures in a
    // row since the last success, and when it was last attempted.
    let read = p.api.get(&endpoint_path(&p.tenant, &ep)).await.body;
    assert_eq!(read["consecutiveFailures"], 2);
    assert_eq!(read["enabled"], true);
    assert_eq!(read["disabledReason"], Value::Null);
    assert!(read["lastAttemptAt"].is_string(), "{read}");
}

async fn stats_show_every_day_of_the_range(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let ep = api.create_endpoint_id(&tenant).await;
    let today = OffsetDateTime::now_utc().date();
    let counts = |ok: u64, class: Option<ErrorClass>| {
        let mut delta = StatsDelta::default();
        (0..ok).for_each(|_| delta.success());
        if let Some(class) = class {
            delta.failure(class);
        }
        delta
    };
    let tenant_id = tenant.parse().unwrap();
    let ep_id = ep.parse().unwrap();
    for (days_ago, delta) in [
        (0, counts(3, Some(ErrorClass::ServerError))),
        (3, counts(1, Some(ErrorClass::Timeout))),
        (30, counts(5, None)),
        (31, counts(7, None)),
    ] {
        store
            .add_stats(&tenant_id, ep_id, today - Duration::days(days_ago), &delta)
            .await
            .unwrap();
    }

    let get = |query: &'static str| {
        let api = api.clone();
        let path = format!("{}{query}", stats_path(&tenant, &ep));
        async move {
            let reply = api.get(&path).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
            reply.body
        }
    };
    let stats = get("?days=5").await;
    let days = stats["days"].as_array().unwrap();
    let dates: Vec<String> = days
        .iter()
        .map(|d| d["date"].as_str().unwrap().to_owned())
        .collect();
    let want: Vec<String> = (0..5)
        .rev()
        .map(|ago| (today - Duration::days(ago)).to_string())
        .collect();
    assert_eq!(dates, want);
    assert_eq!(stats["from"], want[0]);
    assert_eq!(stats["to"], today.to_string());
    let attempts: Vec<u64> = days
        .iter()
        .map(|d| d["attempts"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [0, 2, 0, 0, 4]);
    assert_eq!(
        days[4],
        json!({
            "date": today.to_string(), "attempts": 4, "succeeded": 3, "failed": 1,
            "failures": { "3xx": 0, "4xx": 0, "5xx": 1, "timeout": 0, "connection": 0, "blocked": 0 },
        })
    );
    assert_eq!(days[0]["failures"]["timeout"], 0);
    assert_eq!(checked_totals(&stats)["successRate"], 4.0 / 6.0);

    // The default is 30 days: today back to 29 days ago.
    let stats = get("").await;
    assert_eq!(stats["days"].as_array().unwrap().len(), 30);
    assert_eq!(checked_totals(&stats)["attempts"], 6);
    // 31 days reach the day 30 days ago, not the one before.
    let stats = get("?days=31").await;
    assert_eq!(stats["days"].as_array().unwrap().len(), 31);
    assert_eq!(checked_totals(&stats)["attempts"], 11);
    // Only today.
    let stats = get("?days=1").await;
    assert_eq!(stats["days"].as_array().unwrap().len(), 1);
    assert_eq!(checked_totals(&stats)["attempts"], 4);

    // No attempts: zero rows throughout and no success rate.
    let quiet = api.create_endpoint_id(&tenant).await;
    let reply = api
        .get(&format!("{}?days=7", stats_path(&tenant, &quiet)))
        .await;
    assert_eq!(reply.body["days"].as_array().unwrap().len(), 7);
    assert_eq!(reply.body["totals"]["attempts"], 0);
    assert_eq!(reply.body["totals"]["successRate"], Value::Null);
}
