//! What the functions log: never a credential or a signing secret. The
//! real binaries at `RUST_LOG=debug` go through every path that handles
//! one (an endpoint created, its secret revealed and rotated to a given
//! one, a custom header holding a credential set on it, a tenant API key and a portal session created and used, events
//! published with the admin token and with the key, a failed attempt and
//! its retry, a test event), then every line they printed is searched.

use std::time::Duration;

use courier_e2e::{ADMIN_TOKEN, Stack};
use courier_testkit::{Receiver, Reply};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

/// A secret the test chooses, so its key bytes are known.
const GIVEN_SECRET: &str = "whsec_dGhpcy1pcy1hLWdpdmVuLXNlY3JldC1mb3ItbG9ncw==";
/// A custom header's value: a credential the receiver checks.
const HEADER_CREDENTIAL: &str = "Bearer custom-header-credential-for-logs";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_or_secret_reaches_the_functions_logs() {
    let stack = Stack::start_with_every(&[("RUST_LOG", "debug".into())]).await;
    let receiver = Receiver::start().await;
    // The first attempt fails (a failed attempt logs the most), the rest succeed.
    receiver.respond_with(vec![Reply::status(503).with_body("busy")]);
    let tenant = tenant();
    create_event_type(&stack, "booking.created").await;
    let (endpoint, first_secret) = create_endpoint(&stack, &tenant, &receiver.url()).await;
    let base = format!("/v1/tenants/{tenant}/endpoints/{endpoint}");
    let headers = json!({"headers": {"Authorization": HEADER_CREDENTIAL}});
    call(&stack, Method::PATCH, "api", &base, Some(headers), 200).await;
    let revealed = call(
        &stack,
        Method::GET,
        "api",
        &format!("{base}/secret"),
        None,
        200,
    )
    .await;
    assert_eq!(revealed["secret"], first_secret.as_str());
    let rotate = json!({"secret": GIVEN_SECRET, "gracePeriodSeconds": 3600});
    call(
        &stack,
        Method::POST,
        "api",
        &format!("{base}/secret/rotate"),
        Some(rotate),
        200,
    )
    .await;
    let key = call(
        &stack,
        Method::POST,
        "api",
        &format!("/v1/tenants/{tenant}/api-keys"),
        Some(json!({"name": "log hygiene"})),
        201,
    )
    .await["key"]
        .as_str()
        .expect("a key")
        .to_owned();
    let session = call(
        &stack,
        Method::POST,
        "api",
        &format!("/v1/tenants/{tenant}/portal-sessions"),
        Some(json!({})),
        201,
    )
    .await;
    let portal_token = session["token"].as_str().expect("a token").to_owned();

    // The tenant's credentials at work: a read with each, a publish with the key.
    let http = reqwest::Client::new();
    for credential in [&key, &portal_token] {
        let read = http
            .get(stack.watch.url("api", &base))
            .bearer_auth(credential)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status().as_u16(), 200);
    }
    let bad = http
        .get(stack.watch.url("api", &base))
        .bearer_auth(format!("{key}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401, "a wrong key is refused");
    let published = http
        .post(
            stack
                .watch
                .url("intake", &format!("/v1/tenants/{tenant}/events")),
        )
        .bearer_auth(&key)
        .json(&json!({"type": "booking.created", "data": {"bookingId": "bk_1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status().as_u16(), 202);
    publish(
        &stack,
        &tenant,
        json!({"type": "booking.created", "data": {"bookingId": "bk_2"}}),
    )
    .await;
    call(
        &stack,
        Method::POST,
        "api",
        &format!("{base}/test"),
        Some(json!({})),
        202,
    )
    .await;

    // Deliver everything, the failed attempt's retry included.
    let mapping = stack.mapping().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while receiver.requests().len() < 4 && tokio::time::Instant::now() < deadline {
        if mapping.poll(Duration::from_secs(2)).await.is_none() {
            stack.count_logged().await;
        }
    }
    assert!(
        receiver.requests().len() >= 4,
        "3 deliveries and a retry: {}",
        receiver.requests().len()
    );
    stack.count_logged().await;

    let key_bytes = |s: &str| s.trim_start_matches("whsec_").to_owned();
    let forbidden: Vec<(&str, String)> = vec![
        ("the admin token", ADMIN_TOKEN.to_owned()),
        ("the first signing secret", first_secret.clone()),
        ("the first secret's key bytes", key_bytes(&first_secret)),
        ("the rotated-in secret", GIVEN_SECRET.to_owned()),
        ("the rotated-in secret's key bytes", key_bytes(GIVEN_SECRET)),
        ("the tenant API key", key.clone()),
        ("the portal token", portal_token.clone()),
        ("a custom header's value", HEADER_CREDENTIAL.to_owned()),
    ];
    assert!(
        receiver
            .requests()
            .iter()
            .all(|r| r.header("authorization") == Some(HEADER_CREDENTIAL)),
        "every attempt carried the custom header"
    );
    let mut lines = 0;
    for function in ["api", "intake", "delivery"] {
        let output = stack.watch.output(function);
        assert!(
            output
                .iter()
                .any(|l| l.contains("DEBUG") || l.contains("\"debug\"") || l.contains("\"DEBUG\"")),
            "{function} logged at debug level"
        );
        lines += output.len();
        for line in &output {
            for (what, value) in &forbidden {
                assert!(
                    !line.contains(value.as_str()),
                    "{function} logged {what}: {line}"
                );
            }
        }
    }
    // The searched logs are the ones that saw the failed attempt.
    let attempts: Vec<Value> = attempt_log_lines(&stack);
    assert!(
        attempts.iter().any(|a| a["status"] == "Failed"),
        "{attempts:?}"
    );
    println!("searched {lines} lines of the three functions' logs");
}
