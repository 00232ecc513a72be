//! DynamoDB deletes what a delivery leaves behind only if the raw TTL
//! attribute is a Number of epoch *seconds*: a value in milliseconds reads
//! back fine through every port (reads filter on it too) while real TTL
//! never deletes. So this looks at the raw items of one real delivery on
//! DynamoDB Local.

mod harness;

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use courier_aws::schema::{PARTITION_KEY, TTL_ATTRIBUTE};
use harness::{Harness, fast_settings};
use time::OffsetDateTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deliverys_items_expire_log_retention_days_ahead_in_epoch_seconds() {
    let settings = courier::config::Settings {
        retention: Duration::from_secs(3 * 24 * 3600),
        ..fast_settings()
    };
    let retention = settings.retention.as_secs() as i64;
    let h = Harness::new(&courier_testkit::AwsTestBackend, settings).await;
    let ep = h.endpoint().await;
    let message = h.enqueue(&ep).await;
    // The intake stores the event; the delivery writes the rest.
    h.store
        .store_event(
            &message.event,
            OffsetDateTime::now_utc() + time::Duration::seconds(retention),
        )
        .await
        .unwrap();
    h.pump_until(&ep, 1, Duration::ZERO, Duration::from_secs(30))
        .await;
    let now = OffsetDateTime::now_utc().unix_timestamp();

    let (dynamodb, _) = courier_testkit::aws::clients(None);
    let (_, deliveries_table) = courier_testkit::aws::tables().await;
    let items = dynamodb
        .scan()
        .table_name(&deliveries_table)
        .filter_expression("contains(#pk, :tenant) OR contains(#pk, :message)")
        .expression_attribute_names("#pk", PARTITION_KEY)
        .expression_attribute_values(":tenant", AttributeValue::S(h.tenant.to_string()))
        .expression_attribute_values(
            ":message",
            AttributeValue::S(message.message_id.to_string()),
        )
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let kind = |item: &std::collections::HashMap<String, AttributeValue>| {
        let pk = item[PARTITION_KEY].as_s().unwrap().clone();
        pk.split('#').next().unwrap().to_owned()
    };
    let mut kinds: Vec<String> = items.iter().map(kind).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["EVENT", "LOG", "STATS"],
        "one item of each kind (the log entry is also the delivery's record)"
    );
    for item in &items {
        let kind = kind(item);
        let Some(AttributeValue::N(raw)) = item.get(TTL_ATTRIBUTE) else {
            panic!(
                "{kind} item: {TTL_ATTRIBUTE} must be a Number, got {:?}",
                item.get(TTL_ATTRIBUTE)
            );
        };
        let expires: i64 = raw
            .parse()
            .unwrap_or_else(|_| panic!("{kind}: {raw} is not whole seconds"));
        let ahead = expires - now;
        // Statistics stay 40 days past their day; everything else the retention.
        let want = if kind == "STATS" {
            40 * 24 * 3600
        } else {
            retention
        };
        assert!(
            (ahead - want).abs() <= 24 * 3600 + 60,
            "{kind} item expires {ahead} s ahead; want about {want} s (epoch seconds)"
        );
        if kind != "STATS" {
            assert!(
                (ahead - want).abs() <= 60,
                "{kind} item expires {ahead} s ahead, want {want}"
            );
        }
    }
}
