//! Recover (`POST .../endpoints/{id}/recover`): exactly the events of the
//! window whose latest attempt to the endpoint failed for good or was
//! skipped are queued again, once each, with trigger `recover`, on the
//! backend's own queue; a disabled endpoint, a bad window and an unknown
//! endpoint are refused and queue nothing.

use std::time::Duration as StdDuration;

use axum::http::Method;
use courier::attempt::{AttemptStatus, DeliveryAttempt};
use courier::config::Settings;
use courier::event::{Event, to_millis};
use courier::ids::MessageId;
use courier::message::Trigger;
use courier_testkit::{TestBackend, drain_messages};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::common::{Api, endpoint_path, logged_attempt, rfc3339, seed_event, unique_tenant};

courier_testkit::backend_tests!(
    recover_queues_each_failed_or_skipped_event_of_the_window_once,
    recover_is_refused_for_a_disabled_or_unknown_endpoint,
    a_bad_window_is_refused_naming_the_field_and_an_empty_one_recovers_nothing,
);

fn recover_path(tenant: &str, endpoint: &str) -> String {
    format!("{}/recover", endpoint_path(tenant, endpoint))
}

/// The API on the backend's store and its own queue.
async fn api(backend: &dyn TestBackend, settings: Settings) -> Api {
    Api::with(backend.store().await, backend.queue().await, settings)
}

/// One chain of attempts (one delivery) of `event` to `endpoint`.
struct Chain<'a> {
    tenant: &'a str,
    endpoint: &'a str,
    event: &'a Event,
    id: MessageId,
}

fn chain<'a>(tenant: &'a str, endpoint: &'a str, event: &'a Event) -> Chain<'a> {
    Chain {
        tenant,
        endpoint,
        event,
        id: MessageId::generate(),
    }
}

impl Chain<'_> {
    /// Its attempt number `n`, made at `at`, its retry due at `retry_at`.
    fn attempt(
        &self,
        n: u32,
        at: OffsetDateTime,
        status: AttemptStatus,
        retry_at: Option<OffsetDateTime>,
    ) -> DeliveryAttempt {
        let mut a = logged_attempt(self.tenant, self.endpoint, self.event.id.as_str(), at);
        a.message_id = self.id;
        a.attempt = n;
        a.trigger = if n > 1 {
            Trigger::Retry
        } else {
            Trigger::Event
        };
        a.status = status;
        if status != AttemptStatus::Failed {
            a.http_status = (status == AttemptStatus::Succeeded).then_some(200);
            a.error_class = None;
            a.error = (status == AttemptStatus::Skipped).then(|| "endpoint disabled".into());
        }
        a.next_attempt_at = retry_at;
        a
    }
}

/// Recovers `window` at `path` (`.../endpoints/{id}/recover`): a 202
/// counting `events` and `expired`, and exactly `events` queued again, once
/// each, as recoveries to that endpoint carrying the events as stored.
async fn assert_recovers(api: &Api, path: &str, window: Value, events: &[&Event], expired: usize) {
    let reply = api.post(path, window.clone()).await;
    assert_eq!(reply.status, 202, "{window}: {reply:?}");
    let counts = json!({ "deliveries": events.len(), "expired": expired });
    assert_eq!(reply.body, counts, "{window}");
    let queued = drain_messages(api.queue.as_ref()).await;
    for m in &queued {
        assert_eq!(m.trigger, Trigger::Recover, "{m:?}");
        assert!(
            path.contains(&format!("/endpoints/{}/", m.endpoint_id)),
            "{m:?}"
        );
        let event = events
            .iter()
            .find(|e| e.id == m.event.id)
            .unwrap_or_else(|| panic!("{window}: an unexpected event was recovered: {m:?}"));
        assert_eq!(m.tenant_id, event.tenant_id);
        assert_eq!(m.event.data.get(), event.data.get());
        assert_eq!(m.event.created_at, event.created_at);
    }
    let mut got: Vec<String> = queued.iter().map(|m| m.event.id.to_string()).collect();
    let mut want: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{window}: each event once");
}

async fn recover_queues_each_failed_or_skipped_event_of_the_window_once(backend: &dyn TestBackend) {
    let api = api(backend, Settings::default()).await;
    let (tenant, other_tenant) = (unique_tenant(), unique_tenant());
    let ep = api.create_endpoint_id(&tenant).await;
    let sibling = api.create_endpoint_id(&tenant).await;
    let foreign = api.create_endpoint_id(&other_tenant).await;
    let now = to_millis(OffsetDateTime::now_utc());
    let ago = |minutes: i64| now - Duration::minutes(minutes);
    let kept = now + Duration::days(7);
    let event = || seed_event(api.store.as_ref(), &tenant, kept);
    use AttemptStatus::{Failed, Skipped, Succeeded};

    let mut log = Vec::new();
    // Failed for good: the third and last attempt of its chain.
    let failed = event().await;
    let c = chain(&tenant, &ep, &failed);
    log.push(c.attempt(1, ago(90), Failed, Some(ago(89))));
    log.push(c.attempt(2, ago(89), Failed, Some(ago(79))));
    log.push(c.attempt(3, ago(79), Failed, None));
    // Skipped while the endpoint was disabled.
    let skipped = event().await;
    log.push(chain(&tenant, &ep, &skipped).attempt(1, ago(80), Skipped, None));
    let succeeded = event().await;
    log.push(chain(&tenant, &ep, &succeeded).attempt(1, ago(70), Succeeded, None));
    // Still retrying: its next attempt is due in a minute.
    let retrying = event().await;
    let due = Some(now + Duration::minutes(1));
    log.push(chain(&tenant, &ep, &retrying).attempt(1, ago(1), Failed, due));
    // Two chains (the fan-out and a resend), both failed: recovered once.
    let twice = event().await;
    log.push(chain(&tenant, &ep, &twice).attempt(1, ago(60), Failed, None));
    let mut resend = chain(&tenant, &ep, &twice).attempt(1, ago(50), Failed, None);
    resend.trigger = Trigger::Manual;
    log.push(resend);
    // Failed, then resent with success: nothing to recover.
    let resent_ok = event().await;
    log.push(chain(&tenant, &ep, &resent_ok).attempt(1, ago(40), Failed, None));
    log.push(chain(&tenant, &ep, &resent_ok).attempt(1, ago(30), Succeeded, None));
    // Before the window.
    let before = event().await;
    log.push(chain(&tenant, &ep, &before).attempt(1, ago(180), Failed, None));
    // Another endpoint of the tenant, and another tenant's endpoint.
    let sibling_event = event().await;
    log.push(chain(&tenant, &sibling, &sibling_event).attempt(1, ago(20), Failed, None));
    let foreign_event = seed_event(api.store.as_ref(), &other_tenant, kept).await;
    log.push(chain(&other_tenant, &foreign, &foreign_event).attempt(1, ago(20), Failed, None));
    // Failed for good, but its event has expired from the event store.
    let expired = seed_event(api.store.as_ref(), &tenant, now - Duration::seconds(1)).await;
    log.push(chain(&tenant, &ep, &expired).attempt(1, ago(10), Failed, None));
    api.store.record_attempts(&log).await.unwrap();

    let path = recover_path(&tenant, &ep);
    let since = rfc3339(ago(120));
    let all = [&failed, &skipped, &twice];
    assert_recovers(&api, &path, json!({ "since": since }), &all, 1).await;
    // A window that ends earlier: only what was attempted in it.
    let until = rfc3339(ago(75));
    let window = json!({ "since": since, "until": until });
    assert_recovers(&api, &path, window, &[&failed, &skipped], 0).await;
    // One that starts later, with an offset other than Z.
    let plus_two = rfc3339(ago(65).to_offset(time::macros::offset!(+02:00)));
    let window = json!({ "since": plus_two, "until": rfc3339(ago(45)) });
    assert_recovers(&api, &path, window, &[&twice], 0).await;
    // The sibling endpoint gets only its own event back.
    let sibling_path = recover_path(&tenant, &sibling);
    let window = json!({ "since": since });
    assert_recovers(&api, &sibling_path, window, &[&sibling_event], 0).await;
    // A window with nothing to recover queues nothing.
    let window = json!({ "since": rfc3339(ago(35)), "until": rfc3339(ago(25)) });
    assert_recovers(&api, &path, window, &[], 0).await;
}

async fn recover_is_refused_for_a_disabled_or_unknown_endpoint(backend: &dyn TestBackend) {
    let api = api(backend, Settings::default()).await;
    let (tenant, other_tenant) = (unique_tenant(), unique_tenant());
    let ep = api.create_endpoint_id(&tenant).await;
    let now = to_millis(OffsetDateTime::now_utc());
    let event = seed_event(api.store.as_ref(), &tenant, now + Duration::days(7)).await;
    let failed = chain(&tenant, &ep, &event).attempt(
        1,
        now - Duration::minutes(5),
        AttemptStatus::Failed,
        None,
    );
    api.store.record_attempts(&[failed]).await.unwrap();
    let window = json!({ "since": rfc3339(now - Duration::hours(1)) });
    let path = recover_path(&tenant, &ep);

    let disabled = api
        .patch(&endpoint_path(&tenant, &ep), json!({ "enabled": false }))
        .await;
    assert_eq!(disabled.status, 200, "{disabled:?}");
    let reply = api.post(&path, window.clone()).await;
    reply.assert_problem(409, None);
    assert!(
        reply.detail().contains(&format!(
            "endpoint '{ep}' is disabled by hand, so recovered deliveries would be skipped"
        )),
        "{reply:?}"
    );
    assert!(reply.detail().contains("re-enable it"), "{reply:?}");

    // Unknown, never issued, and another tenant's path to this endpoint.
    for path in [
        recover_path(&tenant, "ep_01J9Z3W5Q8R7T6Y5X4V3B2N1M0"),
        recover_path(&other_tenant, &ep),
    ] {
        let reply = api.post(&path, window.clone()).await;
        reply.assert_problem(404, None);
        assert!(reply.detail().contains("has no endpoint"), "{reply:?}");
    }
    assert!(drain_messages(api.queue.as_ref()).await.is_empty());

    // Re-enabled, a tenant API key of its own tenant may recover; a
    // read-only portal session may not.
    let enabled = api
        .patch(&endpoint_path(&tenant, &ep), json!({ "enabled": true }))
        .await;
    assert_eq!(enabled.status, 200, "{enabled:?}");
    let read_only = api
        .post(
            &format!("/v1/tenants/{tenant}/portal-sessions"),
            json!({ "readOnly": true }),
        )
        .await;
    let token = read_only.body["token"].as_str().expect("token");
    api.call_as(token, Method::POST, &path, Some(window.clone()))
        .await
        .assert_problem(403, None);
    let key = api
        .post(
            &format!("/v1/tenants/{tenant}/api-keys"),
            json!({ "name": "erp" }),
        )
        .await;
    let key = key.body["key"].as_str().expect("key");
    let reply = api.call_as(key, Method::POST, &path, Some(window)).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_eq!(reply.body, json!({ "deliveries": 1, "expired": 0 }));
    let queued = drain_messages(api.queue.as_ref()).await;
    let ids: Vec<(Trigger, &str)> = queued
        .iter()
        .map(|m| (m.trigger, m.event.id.as_str()))
        .collect();
    assert_eq!(ids, [(Trigger::Recover, event.id.as_str())]);
}

async fn a_bad_window_is_refused_naming_the_field_and_an_empty_one_recovers_nothing(
    backend: &dyn TestBackend,
) {
    // A one-day retention, to show the limit follows LOG_RETENTION_DAYS.
    let settings = Settings {
        retention: StdDuration::from_secs(86_400),
        ..Settings::default()
    };
    let api = api(backend, settings).await;
    let tenant = unique_tenant();
    let ep = api.create_endpoint_id(&tenant).await;
    let path = recover_path(&tenant, &ep);
    let now = OffsetDateTime::now_utc();
    let at = |hours: i64| Value::from(rfc3339(now + Duration::hours(hours)));
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({}), "since", "missing field `since`"),
        (json!({ "until": at(-1) }), "since", "missing field `since`"),
        (json!({ "since": "yesterday" }), "since", "RFC 3339"),
        (json!({ "since": 1_700_000_000 }), "since", "since"),
        (
            json!({ "since": at(-2), "until": "soon" }),
            "until",
            "RFC 3339",
        ),
        (
            json!({ "since": at(-1), "eventType": "a.b" }),
            "eventType",
            "unknown field",
        ),
    ];
    for (body, field, says) in cases {
        let reply = api.post(&path, body.clone()).await;
        reply.assert_problem(422, Some(field));
        assert!(reply.detail().contains(says), "{body}: {reply:?}");
    }
    // Well-formed windows are answered, not refused: an empty one (until
    // at or before since, or since in the future) recovers nothing, and a
    // since older than the retention is read as its start, as nothing
    // older is logged.
    for body in [
        json!({ "since": at(-23) }),
        json!({ "since": at(-1), "until": at(-2) }),
        json!({ "since": at(-1), "until": at(-1) }),
        json!({ "since": at(1) }),
        json!({ "since": at(-25) }),
        json!({ "since": at(-24 * 400), "until": at(-24 * 300) }),
    ] {
        let reply = api.post(&path, body.clone()).await;
        assert_eq!(reply.status, 202, "{body}: {reply:?}");
        assert_eq!(reply.body, json!({ "deliveries": 0, "expired": 0 }));
    }
    // No body at all, not even its content type.
    api.call(Method::POST, &path, None)
        .await
        .assert_problem(415, None);
    assert!(drain_messages(api.queue.as_ref()).await.is_empty());
}
