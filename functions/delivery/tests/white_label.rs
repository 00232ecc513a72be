//! White-label settings (issue #16) on both backends: a platform's own
//! simple-signature header name, user agent and tenant field reach the
//! receiver, and both signatures still verify.

mod harness;

use std::time::Duration;

use courier::config::Settings;
use courier::endpoint::PayloadFormat;
use courier_testkit::TestBackend;
use harness::{Harness, fast_settings};
use sha2::{Digest, Sha256};

const TIMEOUT: Duration = Duration::from_secs(40);
const USER_AGENT: &str = "Prometora-Webhooks/3.2 (+https://prometora.example/webhooks)";

/// `fast_settings` read through the environment's names, as start-up reads
/// them: a platform's header (mixed case), user agent and tenant field.
fn white_label_settings() -> Settings {
    let env = [
        ("SIMPLE_SIGNATURE_HEADER_NAME", "X-Prometora-Signature"),
        ("USER_AGENT", USER_AGENT),
        ("TENANT_FIELD", "storeId"),
    ];
    let read = Settings::from_lookup(|var| {
        env.iter()
            .find(|(name, _)| *name == var)
            .map(|(_, value)| (*value).to_owned())
    })
    .expect("the white-label values are valid");
    Settings {
        simple_signature_header_name: read.simple_signature_header_name,
        user_agent: read.user_agent,
        tenant_field: read.tenant_field,
        ..fast_settings()
    }
}

/// HMAC-SHA256 (RFC 2104) in hex, written out here so the check does not
/// lean on the code under test.
fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn white_label_names_reach_the_receiver_and_signatures_still_verify(b: &dyn TestBackend) {
    let h = Harness::new(b, white_label_settings()).await;
    let ep = h.endpoint().await;
    let message = h.enqueue(&ep).await;
    let log = h.pump_until(&ep, 1, Duration::ZERO, TIMEOUT).await;
    let request = h.receiver.requests().remove(0);

    assert_eq!(request.header("user-agent"), Some(USER_AGENT));
    assert_eq!(
        request.header("x-webhook-signature"),
        None,
        "the default name is not sent as well"
    );
    let secret = ep.current_secret().expose();
    let simple = request
        .header("X-Prometora-Signature")
        .expect("the simple signature under the platform's name");
    assert_eq!(
        simple,
        format!(
            "sha256={}",
            hmac_sha256_hex(secret.as_bytes(), &request.body)
        ),
        "HMAC-SHA256 keyed by the secret string, over the raw body"
    );

    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["storeId"], h.tenant.as_str());
    assert!(body.get("tenantId").is_none(), "no tenantId beside storeId");
    assert_eq!(body["id"], message.event.id.as_str());
    assert_eq!(body["data"]["bookingId"], "bk_1");

    courier_testkit::standardwebhooks::verify_all(&[serde_json::json!({
        "secret": secret,
        "headers": {
            "webhook-id": request.header("webhook-id").unwrap(),
            "webhook-timestamp": request.header("webhook-timestamp").unwrap(),
            "webhook-signature": request.header("webhook-signature").unwrap(),
        },
        "body": request.body_text(),
    })]);

    // The log redacts the renamed header as it did the default one.
    let logged = &log[0].request_headers;
    assert!(
        logged.contains(&("x-prometora-signature".into(), "sha256=<redacted>".into())),
        "{logged:?}"
    );
    assert!(
        logged
            .iter()
            .all(|(_, value)| !value.contains(&simple[7..])),
        "no signature value in the log: {logged:?}"
    );

    // CloudEvents carry the tenant as the field's extension attribute.
    let mut ce = h.reload(&ep).await;
    let before = ce.clone();
    ce.payload_format = PayloadFormat::Cloudevents;
    ce.revision += 1;
    h.store.update_endpoint(&before, &ce).await.unwrap();
    h.enqueue(&ep).await;
    h.pump_until(&ep, 2, Duration::ZERO, TIMEOUT).await;
    let request = h.receiver.requests().remove(1);
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["storeid"], h.tenant.as_str());
    assert!(body.get("tenantid").is_none());
    assert!(request.header("x-prometora-signature").is_some());
}

courier_testkit::backend_tests!(white_label_names_reach_the_receiver_and_signatures_still_verify);
