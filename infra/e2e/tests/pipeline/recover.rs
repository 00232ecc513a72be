//! A dead endpoint, end to end: a burst to a receiver that always fails
//! opens its circuit, the probes' failures disable it, the waiting
//! deliveries are logged `skipped`; once it is fixed and re-enabled,
//! `recover` since the first event delivers each of them exactly once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use courier::attempt::{AttemptStatus, DeliveryAttempt, DeliveryQuery};
use courier::endpoint::DisabledReason;
use courier::ids::{EndpointId, MessageId};
use courier::message::Trigger;
use courier_testkit::{Reply, TestBackend};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

use crate::common::endpoint_path;
use crate::pipeline::Pipeline;

courier_testkit::backend_tests!(recover_brings_back_what_a_dead_endpoint_skipped);

const EVENTS: usize = 40;

/// Every entry of the endpoint's log, oldest first.
async fn whole_log(p: &Pipeline, endpoint: &str) -> Vec<DeliveryAttempt> {
    let id: EndpointId = endpoint.parse().unwrap();
    let mut query = DeliveryQuery {
        limit: 100,
        ..DeliveryQuery::default()
    };
    let mut all = Vec::new();
    loop {
        let page = p
            .api
            .store
            .recent_deliveries(&p.tenant_id(), id, &query)
            .await
            .unwrap();
        all.extend(page.items);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    all.sort_by_key(|e| (e.created_at, e.attempt));
    all
}

/// Pumps until every delivery of `trigger` has finished (its latest entry
/// will not be retried), `want` of them; returns the latest entries.
async fn pump_until_finished(
    p: &Pipeline,
    endpoint: &str,
    trigger: Trigger,
    want: usize,
) -> HashMap<MessageId, DeliveryAttempt> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        p.pump_once(&p.deliverer, Duration::from_millis(500)).await;
        let log = whole_log(p, endpoint).await;
        // A chain's first entry carries the delivery's trigger, later ones `retry`.
        let mine: HashSet<MessageId> = log
            .iter()
            .filter(|e| e.attempt == 1 && e.trigger == trigger)
            .map(|e| e.message_id)
            .collect();
        let mut latest: HashMap<MessageId, DeliveryAttempt> = HashMap::new();
        for e in log.into_iter().filter(|e| mine.contains(&e.message_id)) {
            latest.insert(e.message_id, e);
        }
        let done = latest.values().filter(|e| !e.will_retry()).count();
        if latest.len() == want && done == want {
            return latest;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {want} {trigger:?} deliveries finished"
        );
    }
}

async fn recover_brings_back_what_a_dead_endpoint_skipped(backend: &dyn TestBackend) {
    let p = Pipeline::new(backend).await;
    p.receiver.set_default(Reply::status(503));
    let ep = p.endpoint().await;
    let since = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let mut events = HashSet::new();
    for _ in 0..EVENTS {
        events.insert(p.publish(&ep).await.id.to_string());
    }
    let latest = pump_until_finished(&p, &ep, Trigger::Event, EVENTS).await;
    let path = endpoint_path(&p.tenant, &ep);
    let read = p.api.get(&path).await.body;
    assert_eq!(read["enabled"], false, "{read}");
    assert_eq!(
        read["disabledReason"],
        serde_json::to_value(DisabledReason::ConsecutiveFailures).unwrap()
    );
    assert_eq!(
        read["consecutiveFailures"],
        p.settings.disable_after_failures
    );
    let skipped = latest
        .values()
        .filter(|e| e.status == AttemptStatus::Skipped)
        .count();
    let posts = p.receiver.requests().len();
    println!("dead endpoint: {posts} POSTs for {EVENTS} events, {skipped} skipped");
    assert!(
        skipped > 0 && posts < EVENTS * 2,
        "{posts} POSTs, {skipped} skipped"
    );

    // Fixed and re-enabled: recover since the first event.
    p.receiver.set_default(Reply::status(200));
    let before = p.receiver.requests().len();
    let reply = p.api.patch(&path, json!({ "enabled": true })).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = p
        .api
        .post(
            &format!("{path}/recover"),
            json!({ "since": since.format(&Rfc3339).unwrap() }),
        )
        .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_eq!(reply.body["deliveries"], EVENTS, "{reply:?}");
    let recovered = pump_until_finished(&p, &ep, Trigger::Recover, EVENTS).await;
    assert!(
        recovered
            .values()
            .all(|e| e.status == AttemptStatus::Succeeded && e.attempt == 1)
    );
    let received: Vec<String> = p.receiver.requests()[before..]
        .iter()
        .map(|q| q.header("webhook-id").unwrap().to_owned())
        .collect();
    let distinct: HashSet<String> = received.iter().cloned().collect();
    assert_eq!(received.len(), EVENTS, "each recovered exactly once");
    assert_eq!(distinct, events, "every event, once");
    p.assert_quiet().await;
}
