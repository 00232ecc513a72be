//! `template.yaml`'s hardening (issue 18): the stack's KMS key and what it
//! encrypts, encryption stated for the queues, the alarm topic and the log
//! groups, point-in-time recovery, and the delivery function's optional VPC
//! (static egress), in which the SSRF guard must stay exactly as strict.

mod support;

use std::collections::BTreeMap;
use std::net::IpAddr;

use courier::config::Settings;
use courier::net::{is_public_ip, validate_endpoint_url};
use serde_yaml::Value;
use support::stack::Stack;
use support::{
    Code, intrinsic, one_or_many, read, referenced_id, resource, resources_of, squeeze, template,
};

/// Sample values of the VPC parameters (only their form matters).
const WITH_VPC: [(&str, &str); 2] = [
    (
        "DeliverySubnetIds",
        "subnet-0a1b2c3d4e5f60718,subnet-0f1e2d3c4b5a69788",
    ),
    ("DeliverySecurityGroupId", "sg-0123456789abcdef0"),
];

/// A sample admin token hash, the one parameter without a default.
const TOKEN_HASH: (&str, &str) = (
    "AdminTokenSha256",
    "0000000000000000000000000000000000000000000000000000000000000000",
);

/// The addresses a delivery from inside a VPC could reach and must not:
/// private ranges (the VPC itself, peered networks), link-local, the
/// instance metadata service (IPv4 and IPv6), the VPC's DNS resolvers and
/// Lambda's own runtime API on loopback.
const INSIDE_THE_VPC: [&str; 22] = [
    "10.0.0.1",
    "10.0.0.2", // a VPC's Amazon DNS resolver (base + 2)
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.0.1",
    "192.168.255.254",
    "fc00::1",
    "fd12:3456:789a::1",
    "fdff:ffff:ffff:ffff::1",
    "169.254.0.1",
    "169.254.255.254",
    "169.254.169.253", // the Amazon DNS resolver's link-local address
    "169.254.170.2",   // the ECS container credentials endpoint
    "fe80::1",
    "febf:ffff::1",
    "169.254.169.254", // instance metadata
    "fd00:ec2::254",   // instance metadata over IPv6
    "fd00:ec2::253",   // the Amazon DNS resolver over IPv6
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "127.0.0.1", // Lambda's runtime API listens on loopback
];

fn statements(policy: &Value) -> Vec<&Value> {
    one_or_many(&policy["Statement"])
}

fn service_principal(statement: &Value) -> String {
    let service = &statement["Principal"]["Service"];
    match intrinsic(service) {
        Some((_, text)) => text,
        None => service.as_str().unwrap_or_default().to_owned(),
    }
}

/// The key policy's statements as deployed with `overrides`.
fn key_statements(t: &Value, overrides: &[(&str, &str)]) -> Vec<Value> {
    let stack = Stack::new(t, overrides);
    let policy = stack
        .resolve(&resource(t, "SecretsKey")["Properties"]["KeyPolicy"])
        .expect("SecretsKey has a KeyPolicy");
    statements(&policy).into_iter().cloned().collect()
}

#[test]
fn the_stack_key_rotates_is_kept_and_is_administered_by_the_account() {
    let t = template();
    let key = resource(&t, "SecretsKey");
    assert_eq!(key["Type"].as_str(), Some("AWS::KMS::Key"));
    let props = &key["Properties"];
    assert_eq!(props["EnableKeyRotation"].as_bool(), Some(true));
    assert_eq!(
        (
            key["DeletionPolicy"].as_str(),
            key["UpdateReplacePolicy"].as_str()
        ),
        (Some("Retain"), Some("Retain")),
        "the endpoints table is retained; its secrets are unreadable without the key"
    );
    let root = key_statements(&t, &[TOKEN_HASH])
        .into_iter()
        .find(|s| s["Sid"].as_str() == Some("AccountAdministers"))
        .expect("a statement giving the account the key's administration");
    let (_, principal) = intrinsic(&root["Principal"]["AWS"]).expect("!Sub of the account root");
    assert_eq!(
        principal,
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
    );
    let aliases = resources_of(&t, "AWS::KMS::Alias");
    let targets: Vec<_> = aliases
        .values()
        .filter_map(|a| referenced_id(&a["Properties"]["TargetKeyId"]))
        .collect();
    assert_eq!(targets, ["SecretsKey"], "one alias, of the stack's key");
    // Which functions may open secrets is template_wiring.rs's and
    // template_iam.rs's; here: those told a key are told this one.
    for (id, _) in resources_of(&t, "AWS::Serverless::Function") {
        if let Some(key) = support::environment(&t, &id).get("SECRETS_KEY_ID") {
            assert_eq!(referenced_id(key).as_deref(), Some("SecretsKey"), "{id}");
        }
    }
    assert!(
        !support::environment(&t, "IntakeFunction").contains_key("SECRETS_KEY_ID"),
        "the intake never opens a secret"
    );
}

#[test]
fn queues_and_the_alarm_topic_state_their_encryption() {
    let t = template();
    for (id, q) in resources_of(&t, "AWS::SQS::Queue") {
        assert_eq!(
            q["Properties"]["SqsManagedSseEnabled"].as_bool(),
            Some(true),
            "{id}: SSE-SQS, stated"
        );
    }
    let topic = &resource(&t, "AlarmTopic")["Properties"];
    assert_eq!(
        referenced_id(&topic["KmsMasterKeyId"]).as_deref(),
        Some("SecretsKey"),
        "the alarm topic uses the stack's key (alias/aws/sns would stop alarms from publishing)"
    );
    // Without this statement the alarms could not publish to the topic.
    let alarms = key_statements(&t, &[TOKEN_HASH])
        .into_iter()
        .find(|s| service_principal(s) == "cloudwatch.amazonaws.com")
        .expect("the key policy lets CloudWatch alarms publish to the topic");
    let context = &alarms["Condition"]["ArnLike"]["kms:EncryptionContext:aws:sns:topicArn"];
    assert!(
        !context.is_null(),
        "CloudWatch may use the key only with SNS's encryption context: {alarms:?}"
    );
}

#[test]
fn log_groups_use_the_stack_key_only_when_asked() {
    let t = template();
    let p = &t["Parameters"]["EncryptLogGroups"];
    assert_eq!(p["Default"].as_str(), Some("false"));
    for (encrypt, expected) in [("false", false), ("true", true)] {
        let overrides = [TOKEN_HASH, ("EncryptLogGroups", encrypt)];
        let stack = Stack::new(&t, &overrides);
        let groups = resources_of(&t, "AWS::Logs::LogGroup");
        assert_eq!(groups.len(), 4, "three functions and the API's access log");
        let mut names = Vec::new();
        for (id, g) in &groups {
            let props = stack.resolve(&g["Properties"]).unwrap();
            let key = &props["KmsKeyId"];
            if expected {
                let (tag, value) = intrinsic(key).unwrap_or_else(|| panic!("{id}: no KmsKeyId"));
                assert_eq!(
                    (tag.as_str(), value.as_str()),
                    ("GetAtt", "SecretsKey.Arn"),
                    "{id}"
                );
            } else {
                assert!(
                    key.is_null(),
                    "{id}: encrypted though EncryptLogGroups=false"
                );
            }
            let (_, name) = intrinsic(&props["LogGroupName"]).expect("!Sub name");
            names.push(name);
        }
        let logs = key_statements(&t, &overrides)
            .into_iter()
            .find(|s| service_principal(s) == "logs.${AWS::Region}.amazonaws.com");
        assert_eq!(
            logs.is_some(),
            expected,
            "the key policy allows CloudWatch Logs exactly when EncryptLogGroups=true"
        );
        if let Some(logs) = logs {
            let (_, arn) =
                intrinsic(&logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
                    .expect("an encryption-context condition on the log groups' ARNs");
            let prefix = arn
                .strip_suffix('*')
                .and_then(|a| a.split_once(":log-group:"))
                .map(|(_, p)| p)
                .unwrap_or_else(|| panic!("not a log-group ARN pattern: {arn}"));
            assert!(
                !prefix.is_empty() && prefix.contains("${AWS::StackName}"),
                "{arn}"
            );
            for name in &names {
                assert!(name.starts_with(prefix), "{name} is outside {arn}");
            }
        }
    }
}

#[test]
fn both_tables_have_point_in_time_recovery_by_default() {
    let t = template();
    let stack = Stack::new(&t, &[TOKEN_HASH]);
    for table in ["EndpointsTable", "DeliveriesTable"] {
        let pitr = stack.resolve(
            &resource(&t, table)["Properties"]["PointInTimeRecoverySpecification"]
                ["PointInTimeRecoveryEnabled"],
        );
        let on = match pitr {
            Some(Value::Bool(b)) => b,
            Some(Value::String(s)) => s == "true",
            other => panic!("{table}: PointInTimeRecoveryEnabled is {other:?}"),
        };
        assert!(on, "{table}: point-in-time recovery is off by default");
    }
    let off = Stack::new(
        &t,
        &[TOKEN_HASH, ("DeliveriesPointInTimeRecovery", "false")],
    );
    let pitr = off.resolve(
        &resource(&t, "DeliveriesTable")["Properties"]["PointInTimeRecoverySpecification"]
            ["PointInTimeRecoveryEnabled"],
    );
    assert_eq!(
        pitr,
        Some(Value::from("false")),
        "the parameter turns it off"
    );
}

#[test]
fn only_the_delivery_function_joins_the_vpc_and_only_with_the_parameters() {
    let t = template();
    let without = Stack::new(&t, &[TOKEN_HASH]);
    let with = Stack::new(&t, &[TOKEN_HASH, WITH_VPC[0], WITH_VPC[1]]);
    assert!(!without.condition("HasDeliveryVpc") && with.condition("HasDeliveryVpc"));
    assert!(t["Globals"]["Function"]["VpcConfig"].is_null());
    for (id, f) in resources_of(&t, "AWS::Serverless::Function") {
        let vpc = &f["Properties"]["VpcConfig"];
        let on = with.resolve(vpc).filter(|v| !v.is_null());
        let off = without.resolve(vpc).filter(|v| !v.is_null());
        assert!(off.is_none(), "{id} is in a VPC without the parameters");
        if id == "DeliveryFunction" {
            let on = on.expect("DeliveryFunction joins the VPC with the parameters");
            let subnets: Vec<&str> = one_or_many(&on["SubnetIds"])
                .into_iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(subnets.join(","), WITH_VPC[0].1);
            let groups: Vec<&str> = one_or_many(&on["SecurityGroupIds"])
                .into_iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(groups, [WITH_VPC[1].1]);
        } else {
            assert!(on.is_none(), "{id} must stay outside the VPC");
        }
    }

    // Lambda creates the function's network interfaces with its role: the
    // ENI actions, on a policy of their own, only with the VPC.
    let policy = resource(&t, "DeliveryVpcAccessPolicy");
    assert_eq!(policy["Type"].as_str(), Some("AWS::IAM::RolePolicy"));
    assert!(with.creates("DeliveryVpcAccessPolicy") && !without.creates("DeliveryVpcAccessPolicy"));
    assert_eq!(
        referenced_id(&policy["Properties"]["RoleName"]).as_deref(),
        Some("DeliveryFunctionRole")
    );
    let mut actions: Vec<String> = statements(&policy["Properties"]["PolicyDocument"])
        .into_iter()
        .flat_map(|s| one_or_many(&s["Action"]))
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "ec2:AssignPrivateIpAddresses",
            "ec2:CreateNetworkInterface",
            "ec2:DeleteNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:UnassignPrivateIpAddresses",
        ],
        "what AWSLambdaVPCAccessExecutionRole allows, nothing more"
    );
    let other_policies: Vec<_> = [
        "AWS::IAM::RolePolicy",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
    ]
    .into_iter()
    .flat_map(|kind| resources_of(&t, kind).into_keys())
    .filter(|id| id != "DeliveryVpcAccessPolicy")
    .collect();
    assert!(
        other_policies.is_empty(),
        "policies outside the roles: {other_policies:?}"
    );
    // Created or moved into the VPC only once the role may create ENIs.
    let function = resource(&t, "DeliveryFunction");
    let handle = function["DependsOn"]
        .as_str()
        .expect("DeliveryFunction DependsOn");
    let waits = with.resolve(&resource(&t, handle)["Metadata"]).unwrap();
    let refs: Vec<String> = waits
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(_, v)| referenced_id(v))
        .collect();
    assert_eq!(
        refs,
        ["DeliveryVpcAccessPolicy"],
        "{handle} waits for the policy"
    );
}

/// The delivery function's settings as deployed with `overrides`, after
/// checking that every variable is a plain value or names a resource of
/// the stack (nothing the parameters could turn into something else).
fn delivery_environment(t: &Value, overrides: &[(&str, &str)]) -> BTreeMap<String, Value> {
    let env = Stack::new(t, overrides).environment("DeliveryFunction");
    for (var, value) in &env {
        let plain = matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_));
        let resource =
            referenced_id(value).is_some_and(|id| !t["Resources"][id.as_str()].is_null());
        assert!(
            plain || resource,
            "{var}: {value:?} is neither a value nor a resource"
        );
    }
    env
}

fn settings_from(env: &BTreeMap<String, Value>) -> Settings {
    Settings::from_lookup(|var| env.get(var).and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|e| panic!("the delivery function would not start: {e}"))
}

#[test]
fn the_ssrf_guard_refuses_private_link_local_and_metadata_addresses_inside_the_vpc() {
    let t = template();
    let outside = delivery_environment(&t, &[TOKEN_HASH]);
    let inside = delivery_environment(&t, &[TOKEN_HASH, WITH_VPC[0], WITH_VPC[1]]);
    assert_eq!(
        inside, outside,
        "the VPC parameters change the delivery function's environment"
    );
    let settings = settings_from(&inside);
    assert!(
        !settings.allow_private_targets,
        "with the VPC parameters (and the defaults) the guard must be on"
    );

    // The delivery function installs its guard from this setting alone,
    // and the guard refuses what `is_public_ip` refuses.
    let sender = squeeze(&Code::new(&read("functions/delivery/src/sender.rs")).text);
    assert!(
        sender.contains("letguard=!settings.allow_private_targets;"),
        "functions/delivery/src/sender.rs no longer decides the guard from allow_private_targets: \
         update this test"
    );
    let guard = squeeze(&Code::new(&read("functions/delivery/src/guard.rs")).text);
    assert!(
        guard.matches("is_public_ip(").count() >= 2,
        "functions/delivery/src/guard.rs checks literals and resolved addresses with is_public_ip"
    );

    for raw in INSIDE_THE_VPC {
        let ip: IpAddr = raw.parse().unwrap();
        assert!(!is_public_ip(ip), "the guard would connect to {raw}");
        let url = match ip {
            IpAddr::V4(v4) => format!("https://{v4}/webhooks"),
            IpAddr::V6(v6) => format!("https://[{v6}]/webhooks"),
        };
        assert!(
            validate_endpoint_url(&url, settings.allow_private_targets).is_err(),
            "an endpoint at {url} would be accepted"
        );
    }
    // Still a guard, not a wall: public receivers are reached.
    assert!(is_public_ip("93.184.216.34".parse().unwrap()));
    assert!(
        validate_endpoint_url("https://example.com/hook", settings.allow_private_targets).is_ok()
    );
}

#[test]
fn the_evaluation_sees_a_condition_that_would_weaken_the_guard() {
    // Guards the test above: a VPC-dependent setting must show up.
    let t: Value = serde_yaml::from_str(
        r#"
Parameters:
  DeliverySubnetIds: {Type: CommaDelimitedList, Default: ""}
  AllowPrivateTargets: {Type: String, Default: "false"}
Conditions:
  HasDeliveryVpc: !Not [!Equals [!Join ["", !Ref DeliverySubnetIds], ""]]
Globals:
  Function:
    Environment:
      Variables:
        ALLOW_PRIVATE_TARGETS: !If [HasDeliveryVpc, "true", !Ref AllowPrivateTargets]
Resources:
  DeliveryFunction: {Type: AWS::Serverless::Function, Properties: {}}
"#,
    )
    .unwrap();
    let outside = delivery_environment(&t, &[]);
    let inside = delivery_environment(&t, &[("DeliverySubnetIds", "subnet-1,subnet-2")]);
    assert!(!settings_from(&outside).allow_private_targets);
    assert!(settings_from(&inside).allow_private_targets);
    assert_ne!(inside, outside);
}
