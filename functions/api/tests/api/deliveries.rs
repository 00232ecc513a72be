//! The delivery log through the API: filters and cursors give the right
//! pages, expired entries never show, one attempt reads in full.

use std::sync::Arc;

use axum::http::StatusCode;
use courier::attempt::{AttemptStatus, DeliveryAttempt, ErrorClass};
use courier::event::to_millis;
use courier::message::Trigger;
use courier::ports::Store;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::common::{
    Api, deliveries_path, endpoint_path, logged_attempt, rfc3339, seed_delivery, unique_tenant,
};

courier_testkit::backend_tests!(store:
    filters_and_cursors_return_the_right_pages,
    a_delivery_reads_in_full,
    an_expired_or_foreign_delivery_is_not_found,
    a_deleted_endpoints_log_is_not_found,
);

/// Every page of `path` (which carries its filters and `limit`), checking
/// that each page but the last is full; the ids, newest first.
async fn walk(api: &Api, path: &str, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let reply = api.get(&url).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {reply:?}");
        let data = reply.body["data"].as_array().unwrap();
        ids.extend(data.iter().map(|d| d["id"].as_str().unwrap().to_owned()));
        match reply.body["nextCursor"].as_str() {
            Some(next) => {
                assert_eq!(data.len(), limit, "{url}: a page before the last is full");
                cursor = Some(next.to_owned());
            }
            None => {
                assert!(data.len() <= limit, "{url}");
                return ids;
            }
        }
        assert!(ids.len() <= 200, "{path}: the pages never end");
    }
}

/// The ids of `log` (oldest first) that pass `keep`, newest first.
fn expected(log: &[DeliveryAttempt], keep: impl Fn(&DeliveryAttempt) -> bool) -> Vec<String> {
    log.iter()
        .rev()
        .filter(|a| keep(a))
        .map(|a| a.id.to_string())
        .collect()
}

async fn filters_and_cursors_return_the_right_pages(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let ep = api.create_endpoint_id(&tenant).await;
    let other_ep = api.create_endpoint_id(&tenant).await;

    // 30 attempts a minute apart, ending now: two event types, and every
    // status (failed ones with and without a next attempt).
    // To the millisecond, the precision of delivery ids and time bounds.
    let now = to_millis(OffsetDateTime::now_utc());
    let start = now - Duration::minutes(30);
    let log: Vec<DeliveryAttempt> = (0..30)
        .map(|i| {
            let at = start + Duration::minutes(i);
            let mut a = logged_attempt(&tenant, &ep, &format!("evt_{i}"), at);
            a.event_type = if i % 3 == 0 {
                "order.paid"
            } else {
                "booking.created"
            }
            .parse()
            .unwrap();
            match i % 4 {
                0 => {
                    a.status = AttemptStatus::Succeeded;
                    a.http_status = Some(200);
                    a.error_class = None;
                    a.error = None;
                }
                1 => a.next_attempt_at = Some(at + Duration::minutes(1)),
                2 => {}
                _ => {
                    a.status = AttemptStatus::Skipped;
                    a.http_status = None;
                    a.error_class = None;
                    a.error = Some("endpoint disabled".into());
                }
            }
            a
        })
        .collect();
    store.record_attempts(&log).await.unwrap();
    store
        .record_attempts(&[logged_attempt(&tenant, &other_ep, "evt_other", now)])
        .await
        .unwrap();
    // Past its expiry but still in the table, as when TTL deletion lags:
    // written last, because the embedded store drops expired entries on
    // the next write, like TTL eventually does.
    let mut expired = logged_attempt(&tenant, &ep, "evt_expired", start + Duration::seconds(450));
    expired.expires_at = now - Duration::seconds(1);
    store.record_attempts(&[expired.clone()]).await.unwrap();

    let path = deliveries_path(&tenant, &ep);
    let all = expected(&log, |_| true);

    // Default page: the 10 newest.
    let reply = api.get(&path).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let first: Vec<&str> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(first, all[..10]);
    assert!(reply.body["nextCursor"].is_string());

    // Every page size, through to the end; the expired entry never shows.
    for limit in [1, 7, 30, 100] {
        let ids = walk(&api, &format!("{path}?limit={limit}"), limit).await;
        assert_eq!(ids, all, "limit {limit}");
        assert!(!ids.contains(&expired.id.to_string()));
    }

    let at = |i: i64| start + Duration::minutes(i);
    let since = at(10);
    let until = at(20);
    let type_is = |t: &'static str| move |a: &DeliveryAttempt| a.event_type.as_str() == t;
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            "eventType=order.paid".into(),
            expected(&log, type_is("order.paid")),
        ),
        (
            "status=succeeded".into(),
            expected(&log, |a| a.status == AttemptStatus::Succeeded),
        ),
        (
            "status=failed".into(),
            expected(&log, |a| a.status == AttemptStatus::Failed),
        ),
        ("status=retrying".into(), expected(&log, |a| a.will_retry())),
        (
            "status=skipped".into(),
            expected(&log, |a| a.status == AttemptStatus::Skipped),
        ),
        (
            format!("since={}", rfc3339(since)),
            expected(&log, |a| a.created_at >= since),
        ),
        (
            format!("until={}", rfc3339(until)),
            expected(&log, |a| a.created_at < until),
        ),
        (
            // An offset other than Z, its `+` encoded.
            format!(
                "since={}&until={}",
                rfc3339(since.to_offset(time::macros::offset!(+02:00))).replace('+', "%2B"),
                rfc3339(until)
            ),
            expected(&log, |a| a.created_at >= since && a.created_at < until),
        ),
        (
            "eventType=booking.created&status=failed".into(),
            expected(&log, |a| {
                a.event_type.as_str() == "booking.created" && a.status == AttemptStatus::Failed
            }),
        ),
        ("eventType=nothing.here".into(), vec![]),
    ];
    for (filter, want) in cases {
        assert!(
            filter == "eventType=nothing.here" || !want.is_empty(),
            "{filter} selects something"
        );
        // Pages of 2 must be filled although the filter drops entries.
        for limit in [2, 100] {
            let ids = walk(&api, &format!("{path}?{filter}&limit={limit}"), limit).await;
            assert_eq!(ids, want, "{filter} limit {limit}");
        }
    }

    // The other endpoint's log holds only its own entry.
    let reply = api.get(&deliveries_path(&tenant, &other_ep)).await;
    assert_eq!(reply.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(reply.body["data"][0]["eventId"], "evt_other");
    assert_eq!(reply.body["nextCursor"], Value::Null);
}

async fn a_delivery_reads_in_full(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let ep = api.create_endpoint_id(&tenant).await;
    let at = to_millis(OffsetDateTime::now_utc()) - Duration::seconds(5);
    let mut attempt = logged_attempt(&tenant, &ep, "order-1", at);
    attempt.attempt = 2;
    attempt.trigger = Trigger::Retry;
    attempt.next_attempt_at = Some(at + Duration::minutes(10));
    attempt.response_body = Some("e".repeat(4096));
    attempt.error_class = Some(ErrorClass::ServerError);
    store.record_attempts(&[attempt.clone()]).await.unwrap();

    let path = format!("{}/{}", deliveries_path(&tenant, &ep), attempt.id);
    let reply = api.get(&path).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let body = reply.body;
    assert_eq!(body["id"], attempt.id.to_string());
    assert_eq!(body["endpointId"], ep);
    assert_eq!(body["eventId"], "order-1");
    assert_eq!(body["eventType"], "booking.created");
    assert_eq!(body["messageId"], attempt.message_id.to_string());
    assert_eq!(body["attempt"], 2);
    assert_eq!(body["trigger"], "retry");
    assert_eq!(body["status"], "failed");
    assert_eq!(body["httpStatus"], 503);
    assert_eq!(body["responseTimeMs"], 120);
    assert_eq!(body["errorClass"], "5xx");
    assert_eq!(body["error"], "HTTP 503");
    assert_eq!(body["url"], "https://example.com/hook");
    assert_eq!(body["responseBody"].as_str().unwrap().len(), 4096);
    assert_eq!(
        body["requestHeaders"],
        json!({
            "content-type": "application/json",
            "webhook-id": "order-1",
            "webhook-signature": "v1,<redacted>",
        })
    );
    let parse = |v: &Value| OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(parse(&body["createdAt"]), at);
    assert_eq!(
        parse(&body["nextAttemptAt"]),
        attempt.next_attempt_at.unwrap()
    );

    // The list shows the same attempt without the request and response.
    let listed = api.get(&deliveries_path(&tenant, &ep)).await.body["data"][0].clone();
    for (key, value) in listed.as_object().unwrap() {
        assert_eq!(&body[key], value, "{key}");
    }
    for key in ["requestHeaders", "responseBody", "url"] {
        assert!(listed.get(key).is_none(), "{key} is only in the full read");
    }
}

async fn an_expired_or_foreign_delivery_is_not_found(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let ep = api.create_endpoint_id(&tenant).await;
    let sibling = api.create_endpoint_id(&tenant).await;
    let now = OffsetDateTime::now_utc();
    let mut expired = logged_attempt(&tenant, &ep, "evt_1", now - Duration::days(8));
    expired.expires_at = now - Duration::seconds(1);
    store.record_attempts(&[expired.clone()]).await.unwrap();
    let siblings = seed_delivery(store.as_ref(), &tenant, &sibling).await;

    let read = |id: String| {
        let api = api.clone();
        let path = format!("{}/{id}", deliveries_path(&tenant, &ep));
        async move { api.get(&path).await }
    };
    let reply = read(expired.id.to_string()).await;
    reply.assert_problem(404, None);
    assert!(reply.detail().contains("no delivery"), "{reply:?}");
    // Another endpoint's attempt, even of the same tenant.
    read(siblings.clone()).await.assert_problem(404, None);
    // Ids the server cannot have issued.
    read("del_nope".into()).await.assert_problem(404, None);
    read(ep.clone()).await.assert_problem(404, None);
    // The sibling's own path finds it.
    let own = api
        .get(&format!(
            "{}/{siblings}",
            deliveries_path(&tenant, &sibling)
        ))
        .await;
    assert_eq!(own.status, StatusCode::OK, "{own:?}");
}

async fn a_deleted_endpoints_log_is_not_found(store: Arc<dyn Store>) {
    let api = Api::new(store.clone());
    let tenant = unique_tenant();
    let ep = api.create_endpoint_id(&tenant).await;
    let delivery = seed_delivery(store.as_ref(), &tenant, &ep).await;
    assert_eq!(
        api.delete(&endpoint_path(&tenant, &ep)).await.status,
        StatusCode::NO_CONTENT
    );
    // The entries are still stored until they expire, yet the endpoint is gone.
    let path = deliveries_path(&tenant, &ep);
    for reply in [
        api.get(&path).await,
        api.get(&format!("{path}/{delivery}")).await,
        api.post(&format!("{path}/{delivery}/resend"), json!({}))
            .await,
        api.get(&format!("{}/stats", endpoint_path(&tenant, &ep)))
            .await,
    ] {
        reply.assert_problem(404, None);
        assert!(reply.detail().contains("has no endpoint"), "{reply:?}");
    }
    assert!(api.take_queued().await.is_empty());
}
