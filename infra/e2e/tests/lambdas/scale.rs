//! Intake at scale, on the real intake binary: peak memory of large
//! fan-outs (measured and printed), one delivery chain per endpoint after
//! the intake is killed mid-fan-out and the producer retries, and the
//! producer's `data` arriving at the receiver byte for byte through both
//! doors.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use courier::attempt::DeliveryQuery;
use courier::ports::{DeliveryLog, EndpointStore};
use courier_e2e::{QUEUE_VISIBILITY, SqsStandIn, Stack};
use courier_testkit::Receiver;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

/// The Lambda memory the intake must stay within, in KiB.
const MEMORY_LIMIT_KIB: u64 = 128 * 1024;
/// Publishes a test makes before giving up on a fan-out finishing: enough
/// to outwait a dead fan-out's 30 s lease at the 1 s `Retry-After`.
const MAX_TRIES: usize = 60;

/// `n` endpoints of `tenant` subscribed to `booking.*`, stored directly:
/// set-up, not the subject (the API would refuse past its limit anyway).
async fn seed_endpoints(stack: &Stack, tenant: &str, n: usize, url: &str) -> BTreeSet<String> {
    let tenant = tenant.parse().unwrap();
    futures::stream::iter(0..n)
        .map(|_| {
            let ep = courier_testkit::endpoint_at(&tenant, url, &["booking.*"]);
            async move {
                stack.store.create_endpoint(&ep).await.unwrap();
                ep.id.to_string()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await
}

/// POSTs `event` until the intake answers 202 (a 503 names the event and
/// is retried with the same id after its `Retry-After`, continuing the
/// fan-out); the answers.
async fn publish_until_accepted(stack: &Stack, tenant: &str, event: &Value) -> Vec<(u16, Value)> {
    let path = format!("/v1/tenants/{tenant}/events");
    let mut answers = Vec::new();
    for _ in 0..MAX_TRIES {
        let response = stack
            .request(Method::POST, "intake", &path)
            .json(event)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if status == 503 {
            assert_eq!(response.headers()["retry-after"], "1");
        }
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default();
        answers.push((status, body.clone()));
        match status {
            202 => return answers,
            503 => {
                assert_eq!(body["eventId"], event["id"], "{body}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            _ => panic!("publish answered {status}: {body}"),
        }
    }
    panic!("the fan-out did not finish in {MAX_TRIES} publishes: {answers:?}");
}

/// A `booking.created` event whose data pads the delivered body to just
/// under the 256 KiB limit (the larger, CloudEvents, envelope included).
fn padded_event(id: &str, data_bytes: usize) -> Value {
    json!({"id": id, "type": "booking.created", "data": {"pad": "x".repeat(data_bytes - 10)}})
}

fn report(case: &str, idle_kib: u64, peak_kib: u64, took: Duration, tries: usize) {
    println!(
        "intake fan-out {case}: peak RSS {:.1} MiB (idle {:.1} MiB) in {:.1} s over {tries} publish(es)",
        peak_kib as f64 / 1024.0,
        idle_kib as f64 / 1024.0,
        took.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_kib_event_to_1000_endpoints_peaks_within_128_mb() {
    let stack = Stack::start().await;
    let tenant = tenant();
    create_event_type(&stack, "booking.created").await;
    seed_endpoints(&stack, &tenant, 1000, "https://example.com/hook").await;
    let idle = stack.watch.peak_rss_kib("intake");

    let started = Instant::now();
    let event = padded_event("big-1", 256 * 1024 - 400);
    let answers = publish_until_accepted(&stack, &tenant, &event).await;
    let peak = stack.watch.peak_rss_kib("intake");
    report(
        "256 KiB x 1,000 endpoints (moto)",
        idle,
        peak,
        started.elapsed(),
        answers.len(),
    );

    let attrs = stack
        .sqs
        .get_queue_attributes()
        .queue_url(&stack.queues.queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let queued =
        attrs.attributes().unwrap()[&QueueAttributeName::ApproximateNumberOfMessages].clone();
    assert_eq!(queued, "1000");
    // 256 MB of messages in the shared moto: free them.
    let _ = stack
        .sqs
        .delete_queue()
        .queue_url(&stack.queues.queue_url)
        .send()
        .await;
    assert!(
        peak <= MEMORY_LIMIT_KIB,
        "peak RSS {peak} KiB > {MEMORY_LIMIT_KIB} KiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_kib_event_to_10000_endpoints_peaks_within_128_mb() {
    let sqs = SqsStandIn::counting().await;
    let stack = Stack::start_with(&[("AWS_ENDPOINT_URL_SQS", sqs.endpoint())]).await;
    let tenant = tenant();
    create_event_type(&stack, "booking.created").await;
    let endpoints = seed_endpoints(&stack, &tenant, 10_000, "https://example.com/hook").await;
    let idle = stack.watch.peak_rss_kib("intake");

    let started = Instant::now();
    let answers = publish_until_accepted(&stack, &tenant, &padded_event("wide-1", 10 * 1024)).await;
    let peak = stack.watch.peak_rss_kib("intake");
    report(
        "10 KiB x 10,000 endpoints (SQS stand-in)",
        idle,
        peak,
        started.elapsed(),
        answers.len(),
    );

    let seen = sqs.seen();
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), endpoints);
    for (endpoint, (ids, copies)) in &seen {
        assert_eq!((ids.len(), *copies), (1, 1), "endpoint {endpoint}");
    }
    assert!(
        peak <= MEMORY_LIMIT_KIB,
        "peak RSS {peak} KiB > {MEMORY_LIMIT_KIB} KiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_killed_mid_fan_out_and_retried_leaves_one_delivery_chain_per_endpoint() {
    let (_, moto) = courier_testkit::aws::clients(None);
    let sqs = SqsStandIn::forwarding(moto, 1).await;
    let mut stack = Stack::start_with(&[("AWS_ENDPOINT_URL_SQS", sqs.endpoint())]).await;
    let receiver = Receiver::start().await;
    let tenant = tenant();
    create_event_type(&stack, "booking.created").await;
    let endpoints = seed_endpoints(&stack, &tenant, 25, &receiver.url()).await;
    let event = json!({"id": "killed-1", "type": "booking.created", "data": {"n": 1}});

    // The first publish gets one batch onto the queue, then the intake dies.
    let first = {
        let request = stack
            .request(
                Method::POST,
                "intake",
                &format!("/v1/tenants/{tenant}/events"),
            )
            .json(&event);
        tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while sqs.held() == 0 {
        assert!(
            Instant::now() < deadline,
            "the fan-out never reached its second batch"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stack.restart_intake();
    sqs.release();
    first.abort();

    let answers = publish_until_accepted(&stack, &tenant, &event).await;
    println!(
        "publishes after the kill: {:?}",
        answers.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );

    // Every copy on the queue, delivered by the delivery binary. Two copies
    // of one delivery in one batch both reach the receiver, but only one
    // records the attempt; the other is left and, when it comes back after
    // the queue's visibility timeout, finds the delivery done.
    let mapping = stack.mapping().await;
    let mut queued: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut copies = 0;
    let deadline = Instant::now() + QUEUE_VISIBILITY * 3;
    loop {
        match mapping.poll(Duration::from_secs(1)).await {
            Some(batch) => {
                assert!(batch.response.is_ok(), "{:?}", batch.response);
                for record in &batch.records {
                    let body: Value = serde_json::from_str(&record.body).unwrap();
                    let endpoint = body["endpointId"].as_str().unwrap().to_owned();
                    let id = body["messageId"].as_str().unwrap().to_owned();
                    queued.entry(endpoint).or_default().insert(id);
                    copies += 1;
                }
            }
            None if mapping.messages_left().await == 0 => break,
            None => assert!(Instant::now() < deadline, "copies left on the queue"),
        }
    }
    assert!(
        copies >= 25 + 10,
        "the killed try's batch is queued too: {copies} copies"
    );
    assert_eq!(queued.keys().cloned().collect::<BTreeSet<_>>(), endpoints);
    for (endpoint, ids) in &queued {
        assert_eq!(
            ids.len(),
            1,
            "endpoint {endpoint} was queued deliveries {ids:?}"
        );
    }
    // The log: one chain (one message id, one succeeded attempt) each.
    let tenant_id = tenant.parse().unwrap();
    for endpoint in &endpoints {
        let query = DeliveryQuery {
            limit: 100,
            ..DeliveryQuery::default()
        };
        let log = stack
            .store
            .recent_deliveries(&tenant_id, endpoint.parse().unwrap(), &query)
            .await
            .unwrap()
            .items;
        let ids: BTreeSet<String> = log.iter().map(|a| a.message_id.to_string()).collect();
        assert_eq!(ids, queued[endpoint], "endpoint {endpoint}: {log:?}");
        assert_eq!(log.len(), 1, "endpoint {endpoint}: one attempt, {log:?}");
        assert_eq!(log[0].attempt, 1);
    }
    let requests = receiver.wait_for(25, Duration::from_secs(5)).await;
    assert!(
        requests
            .iter()
            .all(|r| r.header("webhook-id") == Some("killed-1"))
    );
}

/// Key order, a number beyond 64 bits and a trailing zero: what a parse
/// into `serde_json::Value` and back would change.
const PRODUCER_DATA: &str = r#"{"b":1,"a":2,"n":123456789012345678901234567890,"f":1.10}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_producers_data_reaches_the_receiver_byte_for_byte_through_both_doors() {
    let stack = Stack::start().await;
    let receiver = Receiver::start().await;
    let tenant = tenant();
    create_event_type(&stack, "booking.created").await;
    create_endpoint(&stack, &tenant, &receiver.url()).await;
    let mapping = stack.mapping().await;

    // Raw bodies: a JSON value built here would already reorder the keys.
    let http_body =
        format!(r#"{{"id":"bytes-http","type":"booking.created","data":{PRODUCER_DATA}}}"#);
    let response = stack
        .request(
            Method::POST,
            "intake",
            &format!("/v1/tenants/{tenant}/events"),
        )
        .header("content-type", "application/json")
        .body(http_body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let direct = format!(
        r#"{{"tenantId":"{tenant}","id":"bytes-direct","type":"booking.created","data":{PRODUCER_DATA}}}"#
    );
    let answer = stack.watch.invoke_raw("intake", &direct).await.unwrap();
    assert_eq!(answer["endpoints"], 1, "{answer}");

    let mut delivered = 0;
    while delivered < 2 {
        delivered += assert_all_acknowledged(&mapping.next_batch(RETRY_WITHIN).await).len();
    }
    let requests = receiver.wait_for(2, Duration::from_secs(5)).await;
    let mut seen = BTreeSet::new();
    for request in &requests {
        let body = String::from_utf8(request.body.to_vec()).unwrap();
        let id = request.header("webhook-id").unwrap().to_owned();
        assert!(
            body.ends_with(&format!(r#","data":{PRODUCER_DATA}}}"#)),
            "{id}: the data changed on the way: {body}"
        );
        seen.insert(id);
    }
    assert_eq!(
        seen,
        BTreeSet::from(["bytes-http".into(), "bytes-direct".into()])
    );
}
