//! Endpoint secrets on DynamoDB Local are sealed with KMS (moto): the raw
//! items hold no secret and no custom header value in plaintext, a plaintext item of an earlier
//! release is still read and is sealed by its next write, and the data-key
//! caches keep KMS off the hot path.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use courier::endpoint::Endpoint;
use courier::ports::EndpointStore;
use courier::sealing::ENVELOPE_FORMAT;
use courier::signing::{SECRET_PREFIX, Secret};
use courier_aws::schema::{PARTITION_KEY, SORT_KEY};
use courier_aws::{CallCounter, DynamoStore, KmsSealer};
use courier_testkit::aws;
use courier_testkit::conformance::{custom_header, endpoint, unique_tenant};
use time::{Duration, OffsetDateTime};

type Item = std::collections::HashMap<String, AttributeValue>;

/// Every raw item of the endpoints table that names `tenant` (its endpoint
/// and subscription items), read with a scan as a backup reader would.
async fn raw_items(tenant: &str) -> Vec<Item> {
    let (endpoints, _) = aws::tables().await;
    let (dynamodb, _) = aws::clients(None);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = dynamodb
            .scan()
            .table_name(&endpoints)
            .filter_expression("contains(#pk, :t)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":t", AttributeValue::S(format!("#{tenant}")))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return items,
        }
    }
}

/// Every string and binary value in `value`, nested ones included.
fn texts(value: &AttributeValue, out: &mut Vec<Vec<u8>>) {
    match value {
        AttributeValue::S(s) => out.push(s.clone().into_bytes()),
        AttributeValue::B(b) => out.push(b.as_ref().to_vec()),
        AttributeValue::Ss(v) => out.extend(v.iter().map(|s| s.clone().into_bytes())),
        AttributeValue::L(v) => v.iter().for_each(|v| texts(v, out)),
        AttributeValue::M(m) => m.values().for_each(|v| texts(v, out)),
        _ => {}
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts that no attribute of `items` holds `whsec_` or the base64 of
/// any of `secrets`' key bytes.
fn assert_no_plaintext(items: &[Item], secrets: &[&Secret]) {
    for item in items {
        for (name, value) in item {
            let mut found = Vec::new();
            texts(value, &mut found);
            for bytes in &found {
                assert!(
                    !contains(bytes, SECRET_PREFIX.as_bytes()),
                    "attribute {name} holds a secret in plaintext"
                );
                for s in secrets {
                    let key_b64 = &s.expose()[SECRET_PREFIX.len()..];
                    assert!(
                        !contains(bytes, key_b64.as_bytes()),
                        "attribute {name} holds a secret's key bytes in base64"
                    );
                }
            }
        }
    }
}

fn endpoint_item(items: &[Item]) -> &Item {
    items
        .iter()
        .find(|i| {
            i[PARTITION_KEY]
                .as_s()
                .is_ok_and(|pk| pk.starts_with("TENANT#"))
        })
        .expect("the endpoint item")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_items_hold_no_secret_in_plaintext() {
    let store = aws::store().await;
    let t = unique_tenant();
    let ep = endpoint(&t, &["booking.*", "*"]);
    store.create_endpoint(&ep).await.unwrap();
    // A rotation: the old secret stays for its grace period, sealed too.
    let mut rotated = ep.clone();
    rotated.rotate_secret(
        Secret::generate(),
        Duration::hours(1),
        OffsetDateTime::now_utc(),
    );
    rotated.revision += 1;
    store.update_endpoint(&ep, &rotated).await.unwrap();

    let items = raw_items(&t.to_string()).await;
    assert_eq!(
        items.len(),
        3,
        "the endpoint and its two subscription items"
    );
    let secrets: Vec<&Secret> = rotated.secrets.iter().map(|s| &s.secret).collect();
    assert_eq!(secrets.len(), 2);
    assert_no_plaintext(&items, &secrets);
    let item = endpoint_item(&items);
    assert!(!item.contains_key("secrets"));
    let sealed = item["sealedSecrets"]
        .as_b()
        .expect("sealed secrets are binary");
    assert_eq!(
        sealed.as_ref()[0],
        ENVELOPE_FORMAT,
        "sealed with a KMS data key"
    );
    // Reads still give the secrets.
    let read = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert_eq!(read.secrets, rotated.secrets);
}

/// A custom header's value, sealed with the secrets: no attribute of any
/// item holds it, on create and after an update and a counting write, and
/// reads still give it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_header_values_are_never_stored_in_plaintext() {
    const VALUE: &str = "Bearer header-value-that-must-stay-sealed";
    let store = aws::store().await;
    let t = unique_tenant();
    let mut ep = endpoint(&t, &["*"]);
    ep.headers = vec![custom_header("Authorization", VALUE)];
    store.create_endpoint(&ep).await.unwrap();
    let check = |items: Vec<Item>| {
        for item in &items {
            for (name, value) in item {
                let mut found = Vec::new();
                texts(value, &mut found);
                for bytes in &found {
                    assert!(
                        !contains(bytes, b"header-value-that-must-stay-sealed"),
                        "attribute {name} holds a header value in plaintext"
                    );
                }
            }
        }
        let item = endpoint_item(&items);
        assert!(!item.contains_key("headers"), "{item:?}");
    };
    check(raw_items(&t.to_string()).await);

    let mut updated = ep.clone();
    updated.description = "changed".into();
    updated.headers.push(custom_header("X-Routing-Key", "eu-1"));
    updated.revision += 1;
    store.update_endpoint(&ep, &updated).await.unwrap();
    let at = OffsetDateTime::now_utc() + Duration::minutes(1);
    let failed = courier_testkit::conformance::failure(at);
    store
        .record_outcome(
            &t,
            ep.id,
            &[failed],
            &courier_testkit::conformance::rules(10),
        )
        .await
        .unwrap();
    check(raw_items(&t.to_string()).await);
    let read = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert_eq!(read.headers, updated.headers);
    assert_eq!(read.consecutive_failures, 1);
}

/// An endpoint item as releases before sealing wrote it.
async fn put_legacy_item(ep: &Endpoint) {
    let (endpoints, _) = aws::tables().await;
    let (dynamodb, _) = aws::clients(None);
    let mut item: Item = serde_dynamo::to_item(ep).unwrap();
    item.insert(
        PARTITION_KEY.into(),
        AttributeValue::S(format!("TENANT#{}", ep.tenant_id)),
    );
    item.insert(SORT_KEY.into(), AttributeValue::S(format!("EP#{}", ep.id)));
    dynamodb
        .put_item()
        .table_name(endpoints)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_item_is_read_and_sealed_by_its_next_write() {
    let store = aws::store().await;
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    put_legacy_item(&ep).await;
    let before = raw_items(&t.to_string()).await;
    assert!(
        endpoint_item(&before).contains_key("secrets"),
        "the test wrote plaintext"
    );

    let read = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert_eq!(read, ep, "a plaintext item is still read");
    let mut updated = read.clone();
    updated.url = "https://example.com/v2".into();
    updated.revision += 1;
    store.update_endpoint(&read, &updated).await.unwrap();

    let after = raw_items(&t.to_string()).await;
    assert_no_plaintext(&after, &[ep.current_secret()]);
    let item = endpoint_item(&after);
    assert!(!item.contains_key("secrets") && item.contains_key("sealedSecrets"));
    let again = store.endpoint(&t, ep.id).await.unwrap().unwrap();
    assert_eq!(
        (again.url.as_str(), &again.secrets),
        ("https://example.com/v2", &ep.secrets)
    );
}

/// A store whose KMS calls are counted, as one container's.
async fn counted_store(counter: &Arc<CallCounter>) -> DynamoStore {
    let (endpoints, deliveries) = aws::tables().await;
    let (dynamodb, _) = aws::clients(None);
    let kms = aws::kms_client()
        .config()
        .to_builder()
        .interceptor(counter.interceptor())
        .build();
    let sealer = KmsSealer::new(
        aws_sdk_kms::Client::from_conf(kms),
        &aws::secrets_key().await,
    );
    DynamoStore::new(dynamodb, &endpoints, &deliveries).with_sealer(Arc::new(sealer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_keys_are_cached_so_reads_make_no_kms_call() {
    let t = unique_tenant();
    let writes = CallCounter::new();
    let api = counted_store(&writes).await;
    let created: Vec<Endpoint> = (0..4).map(|_| endpoint(&t, &["*"])).collect();
    for ep in &created {
        api.create_endpoint(ep).await.unwrap();
    }
    assert_eq!(
        writes.count("GenerateDataKey"),
        1,
        "one data key seals the hour's secrets"
    );
    assert_eq!(
        writes.count("Decrypt"),
        0,
        "the writer knows its own data key"
    );

    // Another container: one Decrypt for the data key, then none.
    let reads = CallCounter::new();
    let delivery = counted_store(&reads).await;
    for _ in 0..3 {
        for ep in &created {
            let read = delivery.endpoint(&t, ep.id).await.unwrap().unwrap();
            assert_eq!(read.secrets, ep.secrets);
        }
    }
    assert_eq!(reads.count("Decrypt"), 1, "{:?}", reads.counts());
    assert_eq!(reads.count("GenerateDataKey"), 0);
}
