//! `template.yaml` declares the tables and queues that `courier_aws::schema`
//! defines (and that the adapters rely on): this test keeps them in step.

use courier_aws::schema::{
    DELIVERIES_TABLE, ENDPOINTS_TABLE, ENV_DELIVERIES_TABLE, ENV_DELIVERY_QUEUE_URL,
    ENV_ENDPOINTS_TABLE, MAX_RECEIVE_COUNT, TableSpec, logical_ids,
};
use serde_yaml::Value;

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");

fn template() -> Value {
    let text =
        std::fs::read_to_string(TEMPLATE).unwrap_or_else(|e| panic!("cannot read {TEMPLATE}: {e}"));
    // SAM's short-form intrinsics (`!Ref`, `!GetAtt`) parse as tagged values.
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{TEMPLATE} is not YAML: {e}"))
}

fn resource<'a>(template: &'a Value, logical_id: &str) -> &'a Value {
    let r = &template["Resources"][logical_id];
    assert!(!r.is_null(), "template.yaml has no resource {logical_id}");
    r
}

/// `!Tag value` as ("Tag", value as text).
fn intrinsic(v: &Value) -> Option<(String, String)> {
    match v {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_owned(),
            t.value.as_str()?.to_owned(),
        )),
        _ => None,
    }
}

fn check_table(template: &Value, logical_id: &str, spec: &TableSpec) {
    let table = resource(template, logical_id);
    assert_eq!(
        table["Type"].as_str(),
        Some("AWS::DynamoDB::Table"),
        "{logical_id}"
    );
    let props = &table["Properties"];
    assert_eq!(
        props["BillingMode"].as_str(),
        Some("PAY_PER_REQUEST"),
        "{logical_id}"
    );

    let keys: Vec<(&str, &str)> = props["KeySchema"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{logical_id} has no KeySchema"))
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap(),
                k["KeyType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys, spec.key_schema, "{logical_id} KeySchema");

    let mut defined: Vec<(&str, &str)> = props["AttributeDefinitions"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{logical_id} has no AttributeDefinitions"))
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap(),
                a["AttributeType"].as_str().unwrap(),
            )
        })
        .collect();
    defined.sort();
    let mut expected: Vec<(&str, &str)> = spec.key_schema.iter().map(|(a, _)| (*a, "S")).collect();
    expected.sort();
    assert_eq!(
        defined, expected,
        "{logical_id} AttributeDefinitions (string keys, no index)"
    );
    assert!(
        props["GlobalSecondaryIndexes"].is_null(),
        "{logical_id}: the adapters use no index"
    );

    let ttl = &props["TimeToLiveSpecification"];
    match spec.ttl_attribute {
        Some(attr) => {
            assert_eq!(
                ttl["AttributeName"].as_str(),
                Some(attr),
                "{logical_id} TTL attribute"
            );
            assert_eq!(
                ttl["Enabled"].as_bool(),
                Some(true),
                "{logical_id} TTL enabled"
            );
        }
        None => assert!(
            ttl.is_null() || ttl["Enabled"].as_bool() == Some(false),
            "{logical_id} must not expire items"
        ),
    }
    let stream = &props["StreamSpecification"]["StreamViewType"];
    assert_eq!(
        stream.as_str(),
        spec.stream_view,
        "{logical_id} StreamSpecification"
    );
    if spec.point_in_time_recovery {
        let pitr = &props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"];
        assert!(
            // A condition (`!If [IsProd, true, false]`) is fine too.
            pitr.as_bool() == Some(true) || matches!(pitr, Value::Tagged(_)),
            "{logical_id} needs PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled"
        );
    }
}

#[test]
fn template_matches_schema() {
    let t = template();
    check_table(&t, logical_ids::ENDPOINTS_TABLE, &ENDPOINTS_TABLE);
    check_table(&t, logical_ids::DELIVERIES_TABLE, &DELIVERIES_TABLE);

    let queue = resource(&t, logical_ids::DELIVERY_QUEUE);
    assert_eq!(queue["Type"].as_str(), Some("AWS::SQS::Queue"));
    let redrive = &queue["Properties"]["RedrivePolicy"];
    assert_eq!(
        redrive["maxReceiveCount"].as_u64(),
        Some(u64::from(MAX_RECEIVE_COUNT)),
        "DeliveryQueue RedrivePolicy.maxReceiveCount"
    );
    assert_eq!(
        queue["Properties"]["MaximumMessageSize"].as_u64(),
        Some(u64::from(courier_aws::schema::MAX_MESSAGE_SIZE)),
        "DeliveryQueue MaximumMessageSize matches the queues the tests use"
    );
    assert_eq!(
        intrinsic(&redrive["deadLetterTargetArn"]),
        Some((
            "GetAtt".into(),
            format!("{}.Arn", logical_ids::DEAD_LETTER_QUEUE)
        )),
        "DeliveryQueue redrives to the dead-letter queue"
    );
    let dlq = resource(&t, logical_ids::DEAD_LETTER_QUEUE);
    assert_eq!(dlq["Type"].as_str(), Some("AWS::SQS::Queue"));

    // Every function learns the names from the same variables the adapters read.
    let vars = &t["Globals"]["Function"]["Environment"]["Variables"];
    for (var, logical_id) in [
        (ENV_ENDPOINTS_TABLE, logical_ids::ENDPOINTS_TABLE),
        (ENV_DELIVERIES_TABLE, logical_ids::DELIVERIES_TABLE),
        (ENV_DELIVERY_QUEUE_URL, logical_ids::DELIVERY_QUEUE),
    ] {
        assert_eq!(
            intrinsic(&vars[var]),
            Some(("Ref".into(), logical_id.to_owned())),
            "Globals.Function.Environment.Variables.{var}"
        );
    }
}
