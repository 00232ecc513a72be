//! The delivery function against a loopback receiver, on both backends
//! (embedded; DynamoDB Local + moto SQS). Each scenario is written once.

mod harness;

use std::time::Duration;

use courier::attempt::{AttemptStatus, ErrorClass};
use courier::endpoint::{DisabledReason, Endpoint};
use courier::message::Trigger;

use courier::signing::Secret;
use courier_testkit::{Reply, TestBackend};
use harness::{Harness, fast_settings};
use time::OffsetDateTime;

const QUIET: Duration = Duration::from_millis(2500);
const TIMEOUT: Duration = Duration::from_secs(40);
/// How late a retry may arrive on a loaded 2-core machine.
const SLACK: Duration = Duration::from_secs(3);

pub async fn permanently_failing_endpoint_gets_three_attempts(b: &dyn TestBackend) {
    let h = Harness::new(b, fast_settings()).await;
    h.receiver.set_default(Reply::status(500));
    let ep = h.endpoint().await;
    let message = h.enqueue(&ep).await;
    let log = h.pump_until(&ep, 3, QUIET, TIMEOUT).await;

    assert_eq!(log.iter().map(|e| e.attempt).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(
        log.iter().map(|e| e.trigger).collect::<Vec<_>>(),
        [Trigger::Event, Trigger::Retry, Trigger::Retry]
    );
    assert!(
        log.iter()
            .all(|e| e.status == AttemptStatus::Failed && e.http_status == Some(500))
    );
    assert!(
        log.iter()
            .all(|e| e.error_class == Some(ErrorClass::ServerError))
    );
    // The schedule is `1,2`: each retry is due exactly its delay after the
    // failed attempt (the store keeps milliseconds).
    for (entry, delay) in log.iter().zip([1, 2]) {
        let due = entry.next_attempt_at.expect("a retried attempt says when");
        assert_close(
            due - entry.created_at,
            time::Duration::seconds(delay),
            time::Duration::milliseconds(2),
            "nextAttemptAt - createdAt",
        );
    }
    assert_eq!(log[2].next_attempt_at, None, "the last attempt is final");
    let settings = fast_settings();
    for entry in &log {
        let rest = settings.retry_schedule.remaining_after(entry.attempt);
        assert_eq!(
            entry.expires_at - entry.created_at,
            time::Duration::try_from(settings.retention + rest).unwrap(),
            "a log entry expires LOG_RETENTION_DAYS after its attempt, or after its chain"
        );
    }

    let requests = h.receiver.requests();
    assert_eq!(requests.len(), 3, "exactly three POSTs");
    let ids: Vec<_> = requests
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    assert!(
        ids.iter().all(|id| id == message.event.id.as_str()),
        "same webhook-id on every attempt"
    );
    let attempts: Vec<_> = requests
        .iter()
        .map(|r| r.header("webhook-attempt").unwrap().to_owned())
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    assert_eq!(
        requests[0].body, requests[2].body,
        "identical body bytes on every attempt"
    );
    // Each attempt is signed at its own time: the timestamp is the attempt's
    // second, so it moves on with every retry.
    let stamps: Vec<i64> = requests
        .iter()
        .map(|r| r.header("webhook-timestamp").unwrap().parse().unwrap())
        .collect();
    for (stamp, r) in stamps.iter().zip(&requests) {
        assert!(
            (stamp - r.received_at.unix_timestamp()).abs() <= 1,
            "webhook-timestamp {stamp} is not the time of its attempt {}",
            r.received_at
        );
    }
    assert!(
        stamps[0] < stamps[1] && stamps[1] < stamps[2],
        "webhook-timestamp must change per attempt: {stamps:?}"
    );
    // Visibility is set in whole seconds and the pump polls every second:
    // a retry may come up to SLACK late, never early.
    for (gap, delay) in [
        (requests[1].arrived - requests[0].arrived, 1),
        (requests[2].arrived - requests[1].arrived, 2),
    ] {
        let delay = Duration::from_secs(delay);
        assert!(
            gap >= delay && gap <= delay + SLACK,
            "a retry due after {delay:?} came after {gap:?}"
        );
    }
    assert_eq!(h.reload(&ep).await.consecutive_failures, 3);
}

/// Asserts `got` is within `tolerance` of `want`.
fn assert_close(got: time::Duration, want: time::Duration, tolerance: time::Duration, what: &str) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: {got} is not {want} (within {tolerance})"
    );
}

pub async fn flaky_endpoint_succeeds_on_attempt_two_and_resets_its_counter(b: &dyn TestBackend) {
    let h = Harness::new(b, fast_settings()).await;
    h.receiver.respond_with(vec![Reply::status(503)]);
    let ep = h.endpoint().await;
    h.enqueue(&ep).await;
    let log = h.pump_until(&ep, 2, QUIET, TIMEOUT).await;
    assert_eq!(
        log.iter().map(|e| e.status).collect::<Vec<_>>(),
        [AttemptStatus::Failed, AttemptStatus::Succeeded]
    );
    assert_eq!(log[1].attempt, 2);
    let requests = h.receiver.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            r.header("user-agent"),
            Some(concat!("Courier-Webhooks/", env!("CARGO_PKG_VERSION"))),
            "the user agent names the product and version"
        );
    }
    let ep = h.reload(&ep).await;
    assert_eq!(ep.consecutive_failures, 0);
    assert!(ep.enabled);
    assert!(ep.last_attempt_at.is_some());
}

pub async fn ten_consecutive_failures_disable_the_endpoint_and_later_messages_are_skipped(
    b: &dyn TestBackend,
) {
    let settings = courier::config::Settings {
        retry_schedule: "".parse().unwrap(),
        ..fast_settings()
    };
    let h = Harness::new(b, settings).await;
    h.receiver.set_default(Reply::status(500));
    let ep = h.endpoint().await;
    // Ten attempts in flight together fail at once: one observed failure.
    for _ in 0..10 {
        h.enqueue(&ep).await;
    }
    h.pump_until(&ep, 10, QUIET, TIMEOUT).await;
    let reloaded = h.reload(&ep).await;
    assert!(reloaded.enabled, "a burst cannot disable an endpoint");
    // A few: one per batch the queue handed out (SQS may split the ten,
    // more so on a loaded machine), and those not yet started when the
    // first failure was logged; never all ten.
    let burst = reloaded.consecutive_failures;
    assert!((1..=9).contains(&burst), "{burst}");
    // Then one after another: each counts, the tenth disables.
    let more = 10 - burst as usize;
    for n in 0..more {
        tokio::time::sleep(Duration::from_millis(5)).await;
        h.enqueue(&ep).await;
        h.pump_until(&ep, 11 + n, Duration::ZERO, TIMEOUT).await;
    }
    let reloaded = h.reload(&ep).await;
    assert!(!reloaded.enabled);
    assert_eq!(
        reloaded.disabled_reason,
        Some(DisabledReason::ConsecutiveFailures)
    );
    assert_eq!(reloaded.consecutive_failures, 10);

    h.enqueue(&ep).await;
    let log = h.pump_until(&ep, 11 + more, QUIET, TIMEOUT).await;
    assert_eq!(log.last().unwrap().status, AttemptStatus::Skipped);
    assert_eq!(
        h.receiver.requests().len(),
        10 + more,
        "nothing is sent to a disabled endpoint"
    );
}

pub async fn gone_disables_at_once(b: &dyn TestBackend) {
    let h = Harness::new(b, fast_settings()).await;
    h.receiver.set_default(Reply::status(410));
    let ep = h.endpoint().await;
    h.enqueue(&ep).await;
    let log = h.pump_until(&ep, 1, QUIET, TIMEOUT).await;
    assert_eq!(log.len(), 1, "410 is never retried");
    assert_eq!(log[0].status, AttemptStatus::Failed);
    let reloaded = h.reload(&ep).await;
    assert!(!reloaded.enabled);
    assert_eq!(reloaded.disabled_reason, Some(DisabledReason::Gone));
    h.enqueue(&ep).await;
    let log = h.pump_until(&ep, 2, QUIET, TIMEOUT).await;
    assert_eq!(log[1].status, AttemptStatus::Skipped);
    assert_eq!(h.receiver.requests().len(), 1);
}

pub async fn redirects_and_timeouts_count_as_failures(b: &dyn TestBackend) {
    let settings = courier::config::Settings {
        retry_schedule: "".parse().unwrap(),
        ..fast_settings()
    };
    let h = Harness::new(b, settings).await;
    // Redirected to the receiver itself: following it would show up there.
    let followed = format!("http://{}/followed", h.receiver.addr());
    h.receiver.respond_with(vec![
        Reply::redirect(&followed),
        Reply::status(200).after(Duration::from_millis(2500)),
    ]);
    let ep = h.endpoint().await;
    h.enqueue(&ep).await;
    h.pump_until(&ep, 1, Duration::ZERO, TIMEOUT).await;
    h.enqueue(&ep).await;
    let log = h.pump_until(&ep, 2, QUIET, TIMEOUT).await;
    assert_eq!(log[0].error_class, Some(ErrorClass::Redirect));
    assert_eq!(log[0].http_status, Some(302));
    assert_eq!(log[1].error_class, Some(ErrorClass::Timeout));
    assert_eq!(log[1].http_status, None);
    assert!(log.iter().all(|e| e.status == AttemptStatus::Failed));
    let requests = h.receiver.requests();
    assert_eq!(requests.len(), 2, "the redirect was not followed");
    assert!(
        requests.iter().all(|r| r.uri.path() == "/webhook"),
        "a request reached the redirect's target"
    );
    assert_eq!(h.reload(&ep).await.consecutive_failures, 2);
}

pub async fn a_duplicate_of_a_delivered_message_is_not_posted_again(b: &dyn TestBackend) {
    let h = Harness::new(b, fast_settings()).await;
    let ep = h.endpoint().await;
    let message = h.enqueue(&ep).await;
    h.pump_until(&ep, 1, Duration::ZERO, TIMEOUT).await;
    // SQS may hand out a copy of a message that was already handled.
    h.queue
        .enqueue(std::slice::from_ref(&message))
        .await
        .unwrap();
    let copy = h.queue.receive(10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(copy.len(), 1, "the duplicate is on the queue");
    let copy_id = copy[0].queue_message_id.clone();
    let failed = h.deliverer.handle_batch(&copy).await;
    assert!(
        !failed.contains(&copy_id),
        "the duplicate of a finished delivery must be acknowledged, not left to come back"
    );
    assert_eq!(h.receiver.requests().len(), 1);
    assert_eq!(h.log(&ep).await.len(), 1);
}

pub async fn deleted_endpoints_are_skipped_and_test_events_reach_disabled_ones(
    b: &dyn TestBackend,
) {
    let h = Harness::new(b, fast_settings()).await;
    let ep = h.endpoint().await;
    let mut disabled = ep.clone();
    disabled.set_enabled(false);
    disabled.revision += 1;
    h.store.update_endpoint(&ep, &disabled).await.unwrap();
    let test = courier::message::DeliveryMessage::new(ep.id, Trigger::Test, h.event());
    h.queue.enqueue(std::slice::from_ref(&test)).await.unwrap();
    let log = h.pump_until(&ep, 1, Duration::ZERO, TIMEOUT).await;
    assert_eq!(log[0].status, AttemptStatus::Succeeded);
    assert_eq!(log[0].trigger, Trigger::Test);

    let gone = h.endpoint().await;
    h.enqueue(&gone).await;
    assert!(h.store.delete_endpoint(&h.tenant, gone.id).await.unwrap());
    let log = h.pump_until(&gone, 1, QUIET, TIMEOUT).await;
    assert_eq!(log[0].status, AttemptStatus::Skipped);
    assert_eq!(h.receiver.requests().len(), 1);
}

/// A message that cannot be parsed is never acknowledged: it is made
/// visible again at once and the queue's own redrive policy (100 receives,
/// as deployed) moves it to the dead-letter queue, quickly.
pub async fn unparseable_messages_reach_the_dead_letter_queue(b: &dyn TestBackend) {
    let h = Harness::new(b, fast_settings()).await;
    h.queue.send_raw("{not a delivery").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut receives = 0;
    loop {
        let batch = h.queue.receive(10, Duration::from_secs(1)).await.unwrap();
        if batch.is_empty() && !h.queue.dead_letters().await.unwrap().is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the poison message did not reach the DLQ after {receives} receives"
        );
        receives += batch.len();
        let ids: Vec<String> = batch.iter().map(|m| m.queue_message_id.clone()).collect();
        assert_eq!(
            h.deliverer.handle_batch(&batch).await,
            ids,
            "a poison message was acknowledged"
        );
    }
    assert_eq!(h.queue.dead_letters().await.unwrap(), ["{not a delivery"]);
    assert_eq!(
        receives,
        courier_aws::schema::MAX_RECEIVE_COUNT as usize,
        "moved by the redrive policy after exactly its receives"
    );
}

/// Response bodies are kept up to 4 KiB, no more.
pub async fn response_bodies_are_kept_up_to_4_kib(b: &dyn TestBackend) {
    let h = Harness::new(b, fast_settings()).await;
    h.receiver
        .set_default(Reply::status(200).with_body(&"x".repeat(10 * 1024)));
    let ep = h.endpoint().await;
    h.enqueue(&ep).await;
    let log = h.pump_until(&ep, 1, Duration::ZERO, TIMEOUT).await;
    let body = log[0].response_body.as_deref().expect("the body is kept");
    assert_eq!(body.len(), 4096);
    assert!(body.bytes().all(|c| c == b'x'));
}

/// `SIMPLE_SIGNATURE_HEADER=false` drops the simple header, not the standard one.
pub async fn the_simple_signature_header_can_be_switched_off(b: &dyn TestBackend) {
    let settings = courier::config::Settings {
        simple_signature_header: false,
        ..fast_settings()
    };
    let h = Harness::new(b, settings).await;
    let ep = h.endpoint().await;
    h.enqueue(&ep).await;
    h.pump_until(&ep, 1, Duration::ZERO, TIMEOUT).await;
    let request = h.receiver.requests().remove(0);
    assert_eq!(request.header("x-webhook-signature"), None);
    assert!(
        request
            .header("webhook-signature")
            .is_some_and(|s| s.starts_with("v1,"))
    );
}

pub async fn ssrf_corpus_is_blocked_with_the_guard_on(b: &dyn TestBackend) {
    let settings = courier::config::Settings {
        allow_private_targets: false,
        retry_schedule: "".parse().unwrap(),
        ..fast_settings()
    };
    let h = Harness::new(b, settings).await;
    let port = h.receiver.addr().port();
    let hosts = [
        "127.0.0.1",
        "0.0.0.0",
        "[::1]",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "[fc00::1]",
        "[fe80::1]",
        "[::ffff:127.0.0.1]",
        "2130706433",
        "0x7f000001",
        "017700000001",
        "localhost",
    ];
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for host in hosts {
        // Stored directly: the API would refuse these URLs before delivery.
        // Plain http, so that without the guard the loopback spellings
        // would really reach the receiver below.
        let ep = h.endpoint_at(&format!("http://{host}:{port}/hook")).await;
        h.enqueue(&ep).await;
        endpoints.push(ep);
    }
    for ep in &endpoints {
        let log = h.pump_until(ep, 1, Duration::ZERO, TIMEOUT).await;
        assert_eq!(
            log[0].error_class,
            Some(ErrorClass::Blocked),
            "{} was not blocked: {:?}",
            ep.url,
            log[0].error
        );
        assert_eq!(log[0].status, AttemptStatus::Failed);
    }
    assert!(
        h.receiver.requests().is_empty(),
        "a blocked target was contacted"
    );
}

/// During a grace period both headers carry a value per valid secret: the
/// official libraries and a simple-header receiver accept either secret.
pub async fn both_signature_headers_verify_with_either_secret_during_a_rotation(
    b: &dyn TestBackend,
) {
    let h = Harness::new(b, fast_settings()).await;
    let ep = h.endpoint().await;
    let old = ep.current_secret().clone();
    let new = Secret::generate();
    let mut rotated = ep.clone();
    rotated.rotate_secret(
        new.clone(),
        time::Duration::hours(1),
        OffsetDateTime::now_utc(),
    );
    rotated.revision += 1;
    h.store.update_endpoint(&ep, &rotated).await.unwrap();
    h.enqueue(&ep).await;
    let log = h.pump_until(&ep, 1, Duration::ZERO, TIMEOUT).await;
    let request = h.receiver.requests().remove(0);
    let signature = request.header("webhook-signature").unwrap().to_owned();
    assert_eq!(
        signature.split(' ').count(),
        2,
        "one signature per valid secret"
    );
    let cases: Vec<serde_json::Value> = [&old, &new]
        .iter()
        .map(|secret| {
            serde_json::json!({
                "secret": secret.expose(),
                "headers": {
                    "webhook-id": request.header("webhook-id").unwrap(),
                    "webhook-timestamp": request.header("webhook-timestamp").unwrap(),
                    "webhook-signature": signature,
                },
                "body": request.body_text(),
            })
        })
        .collect();
    courier_testkit::standardwebhooks::verify_all(&cases);
    // The simple header: a receiver splits it on spaces and looks for its
    // own HMAC, whichever secret it holds; the current one comes first.
    let simple = request.header("x-webhook-signature").unwrap();
    let values: Vec<&str> = simple.split(' ').collect();
    assert_eq!(
        values,
        [
            new.simple_signature(&request.body),
            old.simple_signature(&request.body)
        ]
    );
    for secret in [&old, &new] {
        courier::signing::verify_simple(secret, simple, &request.body).unwrap();
    }
    let logged = &log[0].request_headers;
    assert!(
        logged.contains(&(
            "x-webhook-signature".into(),
            "sha256=<redacted> sha256=<redacted>".into()
        )),
        "the log shows both values, redacted: {logged:?}"
    );
}

pub async fn cloudevents_endpoints_get_a_structured_cloudevent(b: &dyn TestBackend) {
    let h = Harness::new(b, fast_settings()).await;
    let ep = h.endpoint().await;
    let mut ce = ep.clone();
    ce.payload_format = courier::endpoint::PayloadFormat::Cloudevents;
    ce.revision += 1;
    h.store.update_endpoint(&ep, &ce).await.unwrap();
    let message = h.enqueue(&ep).await;
    h.pump_until(&ep, 1, Duration::ZERO, TIMEOUT).await;
    let request = h.receiver.requests().remove(0);
    assert_eq!(
        request.header("content-type"),
        Some("application/cloudevents+json")
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["specversion"], "1.0");
    assert_eq!(body["id"], message.event.id.as_str());
    assert_eq!(body["data"]["bookingId"], "bk_1");
}

/// A batch larger than SQS's usual 10 (an event source with a batching
/// window hands out up to 10,000) is delivered whole, at most 32 at a
/// time: every message logged once and acknowledged, and the 33rd request
/// sent only once an earlier one was answered.
pub async fn a_large_batch_is_delivered_at_most_32_at_a_time(b: &dyn TestBackend) {
    const MESSAGES: usize = 45;
    let answer_after = Duration::from_millis(400);
    let h = Harness::new(b, fast_settings()).await;
    h.receiver
        .set_default(Reply::status(200).after(answer_after));
    let ep = h.endpoint().await;
    for _ in 0..MESSAGES {
        h.enqueue(&ep).await;
    }
    let mut batch = Vec::new();
    while batch.len() < MESSAGES {
        let got = h.queue.receive(10, Duration::from_secs(1)).await.unwrap();
        assert!(
            !got.is_empty(),
            "only {} of {MESSAGES} received",
            batch.len()
        );
        batch.extend(got);
    }
    assert!(
        h.deliverer.handle_batch(&batch).await.is_empty(),
        "every message acknowledged"
    );
    let mut arrivals: Vec<_> = h.receiver.requests().iter().map(|r| r.arrived).collect();
    assert_eq!(arrivals.len(), MESSAGES);
    arrivals.sort();
    assert!(
        arrivals[31] - arrivals[0] < answer_after,
        "the first 32 went out together"
    );
    assert!(
        arrivals[32] - arrivals[0] >= answer_after,
        "the 33rd waited for an answer: {:?} after the first",
        arrivals[32] - arrivals[0]
    );
    let log = h.log(&ep).await;
    assert_eq!(log.len(), MESSAGES, "one entry per message");
    assert!(
        log.iter()
            .all(|e| e.status == AttemptStatus::Succeeded && e.attempt == 1)
    );
}

courier_testkit::backend_tests!(
    permanently_failing_endpoint_gets_three_attempts,
    flaky_endpoint_succeeds_on_attempt_two_and_resets_its_counter,
    ten_consecutive_failures_disable_the_endpoint_and_later_messages_are_skipped,
    gone_disables_at_once,
    redirects_and_timeouts_count_as_failures,
    a_duplicate_of_a_delivered_message_is_not_posted_again,
    deleted_endpoints_are_skipped_and_test_events_reach_disabled_ones,
    unparseable_messages_reach_the_dead_letter_queue,
    response_bodies_are_kept_up_to_4_kib,
    the_simple_signature_header_can_be_switched_off,
    ssrf_corpus_is_blocked_with_the_guard_on,
    both_signature_headers_verify_with_either_secret_during_a_rotation,
    cloudevents_endpoints_get_a_structured_cloudevent,
    a_large_batch_is_delivered_at_most_32_at_a_time,
);
