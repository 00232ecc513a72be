//! What the roles of `template.yaml` allow on single requests, evaluated
//! from their statements as IAM would (Allow statements, action, resource,
//! and the `ForAllValues:StringLike` condition on `dynamodb:LeadingKeys`):
//! the intake reads subscription, event-type and API key items but no
//! endpoint item, and no role but the api's may seal a secret.

mod support;

use serde_yaml::Value;
use support::{one_or_many, referenced_id, resource, template};

/// `*` matches any run of characters, `?` one (IAM's `StringLike`).
fn like(pattern: &str, text: &str) -> bool {
    match pattern.chars().next() {
        None => text.is_empty(),
        Some('*') => (0..=text.len())
            .filter(|i| text.is_char_boundary(*i))
            .any(|i| like(&pattern[1..], &text[i..])),
        Some(p) => text.chars().next().is_some_and(|c| {
            (p == '?' || p == c) && like(&pattern[p.len_utf8()..], &text[c.len_utf8()..])
        }),
    }
}

/// True when `condition` holds for a request naming `key` as its partition
/// key; a condition this evaluator does not know fails the test.
fn condition_holds(condition: &Value, key: &str) -> bool {
    if condition.is_null() {
        return true;
    }
    let mapping = condition.as_mapping().expect("a condition is a mapping");
    assert_eq!(
        mapping.len(),
        1,
        "one condition operator expected: {condition:?}"
    );
    let patterns = &condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
    assert!(!patterns.is_null(), "unknown condition {condition:?}");
    // ForAllValues: each key of the request (one here) matches a pattern.
    one_or_many(patterns)
        .iter()
        .any(|p| like(p.as_str().expect("a pattern is a string"), key))
}

/// Whether `role_id` allows `action` on the resource `target` for an item
/// whose partition key is `key`.
fn allows(t: &Value, role_id: &str, action: &str, target: &str, key: &str) -> bool {
    let mut allowed = false;
    for policy in one_or_many(&resource(t, role_id)["Properties"]["Policies"]) {
        for st in one_or_many(&policy["PolicyDocument"]["Statement"]) {
            assert_eq!(
                st["Effect"].as_str(),
                Some("Allow"),
                "no Deny statements expected"
            );
            let acts = one_or_many(&st["Action"])
                .iter()
                .any(|a| a.as_str() == Some(action));
            let on = one_or_many(&st["Resource"])
                .iter()
                .any(|r| referenced_id(r).as_deref() == Some(target));
            allowed |= acts && on && condition_holds(&st["Condition"], key);
        }
    }
    allowed
}

#[test]
fn intake_cannot_read_or_change_an_endpoint_item() {
    let t = template();
    let intake = "IntakeFunctionRole";
    for action in ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"] {
        assert!(
            !allows(&t, intake, action, "EndpointsTable", "TENANT#t1"),
            "intake may {action} an endpoint item"
        );
    }
    for key in [
        "SUB#t1#booking.created",
        "SUB#t1#*",
        "EVENTTYPE",
        "APIKEY#ab12",
    ] {
        assert!(
            allows(&t, intake, "dynamodb:GetItem", "EndpointsTable", key),
            "{key}"
        );
    }
    assert!(allows(
        &t,
        intake,
        "dynamodb:Query",
        "EndpointsTable",
        "SUB#t1#booking.*"
    ));
    // lastUsedAt of an API key, on both of its items.
    for key in ["APIKEY#ab12", "APIKEYS#t1"] {
        assert!(
            allows(&t, intake, "dynamodb:UpdateItem", "EndpointsTable", key),
            "{key}"
        );
    }
    assert!(!allows(
        &t,
        intake,
        "dynamodb:UpdateItem",
        "EndpointsTable",
        "EVENTTYPEX"
    ));
    // The api and delivery roles read endpoint items (to show and to sign).
    assert!(allows(
        &t,
        "ApiFunctionRole",
        "dynamodb:GetItem",
        "EndpointsTable",
        "TENANT#t1"
    ));
    assert!(allows(
        &t,
        "DeliveryFunctionRole",
        "dynamodb:GetItem",
        "EndpointsTable",
        "TENANT#t1"
    ));
}

#[test]
fn only_the_api_seals_secrets_and_intake_holds_no_kms_action() {
    let t = template();
    let can = |role: &str, action: &str| allows(&t, role, action, "SecretsKey", "");
    assert!(can("ApiFunctionRole", "kms:GenerateDataKey") && can("ApiFunctionRole", "kms:Decrypt"));
    assert!(can("DeliveryFunctionRole", "kms:Decrypt"));
    assert!(
        !can("DeliveryFunctionRole", "kms:GenerateDataKey"),
        "delivery writes no secret"
    );
    let intake = resource(&t, "IntakeFunctionRole");
    let kms: Vec<&Value> = one_or_many(&intake["Properties"]["Policies"])
        .into_iter()
        .flat_map(|p| one_or_many(&p["PolicyDocument"]["Statement"]))
        .flat_map(|st| one_or_many(&st["Action"]))
        .filter(|a| a.as_str().is_some_and(|a| a.starts_with("kms:")))
        .collect();
    assert!(kms.is_empty(), "intake holds {kms:?}");
}

#[test]
fn string_like_matches_as_iam_does() {
    assert!(like("SUB#*", "SUB#t#x") && like("EVENTTYPE", "EVENTTYPE") && like("a?c", "abc"));
    assert!(!like("SUB#*", "TENANT#t") && !like("EVENTTYPE", "EVENTTYPES") && !like("a?c", "ac"));
}
