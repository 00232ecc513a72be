//! Least privilege, checked both ways: `courier_aws::iam` lists the IAM
//! actions of every port method, and must match the SDK calls the adapters
//! make (a new `.client.<operation>()` fails here until the list says so);
//! each function's role in `template.yaml` must allow exactly the actions of
//! the port methods its code calls (itself, or through the shared code it
//! uses, such as the credential check), on this stack's resources, and
//! nothing else. The same holds for the KMS actions of sealed secrets and,
//! on the roles of `ITEM_SCOPED_ROLES`, for the partition keys of the
//! items (`dynamodb:LeadingKeys`); `template_iam_items` evaluates those.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use courier_aws::iam::{
    ITEM_SCOPED_ROLES, REQUIRED_ACTIONS, SQS_EVENT_SOURCE_ACTIONS, STREAM_EVENT_SOURCE_ACTIONS,
    leading_keys,
};
use serde_yaml::Value;
use support::iam::{
    Grants, KEY_BUILDERS, Keys, declared, declared_keys, derived_from_adapters, derived_with_keys,
};
use support::{
    Code, function_property, names_after, one_or_many, read, referenced_id, resource, resources_of,
    rust_files, squeeze, template,
};

#[test]
fn iam_keys_match_the_items_the_adapters_touch() {
    let declared = declared_keys();
    let mut problems = Vec::new();
    for (method, (_, keys)) in derived_with_keys() {
        let listed = declared.get(&method).cloned().unwrap_or_default();
        if listed != keys {
            problems.push(format!(
                "{method}: the adapter touches items under {keys:?}, courier_aws::iam lists {listed:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn key_builders_make_their_patterns() {
    // Guards KEY_BUILDERS: each helper's text starts the key it names.
    let sources: String = rust_files("shared/aws/src/dynamo")
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    for (name, pattern) in KEY_BUILDERS {
        let at = sources
            .find(&format!("fn {name}("))
            .or_else(|| sources.find(&format!("const {name}:")))
            .unwrap_or_else(|| panic!("{name} is not defined in shared/aws/src/dynamo"));
        let head = &sources[at..at + 200.min(sources.len() - at)];
        let literal = format!("\"{}", pattern.trim_end_matches('*'));
        assert!(
            head.contains(&literal),
            "{name} no longer makes {pattern}: {head}"
        );
    }
}

#[test]
fn iam_list_matches_the_adapters_sdk_calls() {
    let derived = derived_from_adapters();
    let declared = declared();
    assert!(
        derived.len() >= 20,
        "found only {} port methods in the adapters: is the source scan broken?",
        derived.len()
    );
    let mut problems = Vec::new();
    for (method, grants) in &derived {
        match declared.get(method) {
            Some(d) if d == grants => {}
            Some(d) => problems.push(format!(
                "{method}: the adapter calls need {grants:?}, courier_aws::iam lists {d:?}"
            )),
            None => problems.push(format!(
                "{method} is missing from courier_aws::iam (its calls need {grants:?})"
            )),
        }
    }
    for method in declared.keys().filter(|m| !derived.contains_key(*m)) {
        problems.push(format!(
            "courier_aws::iam lists {method}, which no adapter implements"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The `[[bin]]` name a function crate builds, with its folder.
fn function_crates() -> BTreeMap<String, String> {
    let mut crates = BTreeMap::new();
    for dir in ["api", "intake", "delivery"] {
        let manifest = read(&format!("functions/{dir}/Cargo.toml"));
        let bin = manifest
            .split("[[bin]]")
            .nth(1)
            .and_then(|s| s.lines().find_map(|l| l.trim().strip_prefix("name = ")))
            .unwrap_or_else(|| panic!("functions/{dir}/Cargo.toml has no [[bin]] name"))
            .trim_matches('"')
            .to_owned();
        crates.insert(bin, format!("functions/{dir}"));
    }
    crates
}

/// Shared code that calls ports on behalf of the function crates whose code
/// names it: the name, and the source folders (or files) whose port calls
/// then count for the crate.
const SHARED_PORT_CALLERS: [(&str, &[&str]); 3] = [
    // The credential check of the api and intake functions.
    (
        "courier_http::access",
        &["shared/http/src", "shared/core/src/access"],
    ),
    // The fan-out of the intake, and of the operational webhooks.
    ("courier::fan_out", &["shared/core/src/fan_out.rs"]),
    // The operational webhooks the api and delivery functions publish.
    (
        "courier::operational",
        &[
            "shared/core/src/operational.rs",
            "shared/core/src/fan_out.rs",
        ],
    ),
];

/// The port methods a function crate calls: `store.<method>(` and
/// `queue.<method>(` anywhere in its `src/` or in the shared code of
/// [`SHARED_PORT_CALLERS`] it names (the code reaches the ports through
/// fields or parameters named `store` and `queue`).
fn port_methods_called(crate_dir: &str) -> BTreeSet<String> {
    let mut short: BTreeMap<&str, &str> = BTreeMap::new();
    for g in REQUIRED_ACTIONS {
        let name = g.method.rsplit("::").next().unwrap();
        let previous = short.insert(name, g.method);
        assert!(
            previous.is_none() || previous == Some(g.method),
            "two port methods are named {name}: this scan needs unique names"
        );
    }
    let squeezed = |path: &str| -> Vec<String> {
        let files = if path.ends_with(".rs") {
            vec![(path.to_owned(), read(path))]
        } else {
            rust_files(path)
        };
        files
            .iter()
            .map(|(_, text)| squeeze(&Code::new(text).text))
            .collect()
    };
    let mut sources = squeezed(&format!("{crate_dir}/src"));
    for (marker, shared) in SHARED_PORT_CALLERS {
        if sources.iter().any(|code| code.contains(marker)) {
            sources.extend(shared.iter().flat_map(|dir| squeezed(dir)));
        }
    }
    let mut called = BTreeSet::new();
    for code in &sources {
        for receiver in ["store.", "queue."] {
            for name in names_after(code, receiver) {
                let is_call = code.contains(&format!("{receiver}{name}("));
                if let (true, Some(method)) = (is_call, short.get(name.as_str())) {
                    called.insert((*method).to_owned());
                }
            }
        }
    }
    called
}

/// The `dynamodb:LeadingKeys` patterns of a statement's condition; `None`
/// without one. Any other condition fails: this test could not judge it.
fn leading_keys_condition(role_id: &str, st: &Value) -> Option<Keys> {
    if st["Condition"].is_null() {
        return None;
    }
    let operators = st["Condition"]
        .as_mapping()
        .expect("a condition is a mapping");
    let keys = &st["Condition"]["ForAllValues:StringLike"];
    assert!(
        operators.len() == 1 && keys.as_mapping().is_some_and(|m| m.len() == 1),
        "{role_id}: only a ForAllValues:StringLike condition on dynamodb:LeadingKeys is expected: {st:?}"
    );
    Some(
        one_or_many(&keys["dynamodb:LeadingKeys"])
            .into_iter()
            .map(|k| k.as_str().expect("a key pattern is a string").to_owned())
            .collect(),
    )
}

/// The `LeadingKeys` condition of each of a role's statements, by the
/// resource it is on.
fn role_conditions(t: &Value, role_id: &str) -> Vec<(String, Option<Keys>)> {
    let mut out = Vec::new();
    for policy in one_or_many(&resource(t, role_id)["Properties"]["Policies"]) {
        for st in one_or_many(&policy["PolicyDocument"]["Statement"]) {
            let condition = leading_keys_condition(role_id, st);
            for r in one_or_many(&st["Resource"]) {
                out.extend(referenced_id(r).map(|id| (id, condition.clone())));
            }
        }
    }
    out
}

/// The DynamoDB, SQS and KMS grants of a role, after checking that it holds
/// nothing else than logging to `log_group`.
fn role_grants(t: &Value, role_id: &str, log_group: &str) -> Grants {
    let role = resource(t, role_id);
    assert_eq!(role["Type"].as_str(), Some("AWS::IAM::Role"), "{role_id}");
    let props = &role["Properties"];
    assert!(
        props["ManagedPolicyArns"].is_null() && props["PermissionsBoundary"].is_null(),
        "{role_id}: no managed policies (they grant on every resource)"
    );
    let mut grants = Grants::new();
    for policy in one_or_many(&props["Policies"]) {
        for st in one_or_many(&policy["PolicyDocument"]["Statement"]) {
            assert_eq!(st["Effect"].as_str(), Some("Allow"), "{role_id}: {st:?}");
            assert!(st["NotResource"].is_null() && st["NotAction"].is_null());
            leading_keys_condition(role_id, st);
            let targets: Vec<String> = one_or_many(&st["Resource"])
                .into_iter()
                .map(|r| {
                    referenced_id(r).unwrap_or_else(|| {
                        panic!("{role_id}: resource {r:?} is not one of this stack's resources")
                    })
                })
                .collect();
            for action in one_or_many(&st["Action"]) {
                let action = action.as_str().expect("an action is a string");
                assert!(!action.contains('*'), "{role_id}: wildcard action {action}");
                for target in &targets {
                    if action.starts_with("logs:") {
                        assert!(
                            target == log_group
                                && ["logs:CreateLogStream", "logs:PutLogEvents"].contains(&action),
                            "{role_id}: {action} on {target}; a function only writes its own log group {log_group}"
                        );
                    } else if ["dynamodb:", "sqs:", "kms:"]
                        .iter()
                        .any(|p| action.starts_with(p))
                    {
                        grants.insert((target.clone(), action.to_owned()));
                    } else {
                        panic!("{role_id}: unexpected action {action}");
                    }
                }
            }
        }
    }
    grants
}

#[test]
fn each_role_allows_exactly_what_its_function_calls() {
    let t = template();
    let crates = function_crates();
    let functions = resources_of(&t, "AWS::Serverless::Function");
    assert_eq!(functions.len(), crates.len(), "one function per crate");
    let by_method = declared();
    let mut problems = Vec::new();
    for (id, f) in &functions {
        let binary = f["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: Metadata.BuildProperties.Binary"));
        let crate_dir = crates
            .get(binary)
            .unwrap_or_else(|| panic!("{id} builds {binary}, which no function crate has"));
        let props = &f["Properties"];
        assert!(
            props["Policies"].is_null(),
            "{id}: grants belong in its role, not in SAM Policies"
        );
        let role_id = referenced_id(&props["Role"])
            .unwrap_or_else(|| panic!("{id}: Role must be !GetAtt <its role>.Arn"));
        let log_group = referenced_id(&function_property(&t, id, "LoggingConfig")["LogGroup"])
            .unwrap_or_else(|| panic!("{id}: LoggingConfig.LogGroup must be !Ref <its log group>"));

        let mut required = Grants::new();
        let methods = port_methods_called(crate_dir);
        for method in &methods {
            required.extend(by_method[method].iter().cloned());
        }
        // Item-scoped roles carry exactly the keys of the items their
        // methods touch; every other statement has no condition.
        for (target, condition) in role_conditions(&t, &role_id) {
            let scoped = ITEM_SCOPED_ROLES
                .iter()
                .find(|(role, r)| *role == role_id && r.logical_id() == target);
            let want: Option<Keys> = scoped.map(|(_, r)| {
                leading_keys(methods.iter().map(String::as_str), *r)
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            });
            if condition != want {
                problems.push(format!(
                    "{role_id} on {target}: LeadingKeys {condition:?}, the code needs {want:?}"
                ));
            }
        }
        // Lambda's poller works with the role of the function it invokes.
        for (name, event) in props["Events"].as_mapping().into_iter().flatten() {
            if event["Type"].as_str() == Some("SQS") {
                let queue = referenced_id(&event["Properties"]["Queue"])
                    .unwrap_or_else(|| panic!("{id}: event {name:?} names no queue of the stack"));
                required.extend(
                    SQS_EVENT_SOURCE_ACTIONS
                        .iter()
                        .map(|a| (queue.clone(), (*a).to_owned())),
                );
            }
            if event["Type"].as_str() == Some("DynamoDB") {
                let table = referenced_id(&event["Properties"]["Stream"])
                    .unwrap_or_else(|| panic!("{id}: event {name:?} names no table of the stack"));
                required.extend(
                    STREAM_EVENT_SOURCE_ACTIONS
                        .iter()
                        .map(|a| (table.clone(), (*a).to_owned())),
                );
            }
        }
        let granted = role_grants(&t, &role_id, &log_group);
        let missing: Vec<_> = required.difference(&granted).collect();
        let extra: Vec<_> = granted.difference(&required).collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{role_id} lacks what {crate_dir} calls: {missing:?}"
            ));
        }
        if !extra.is_empty() {
            problems.push(format!(
                "{role_id} allows what {crate_dir} never calls: {extra:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_source_scan_sees_the_calls_it_must() {
    // Guards the scan itself: calls written over several lines count.
    let called = port_methods_called("functions/delivery");
    for m in [
        "EndpointStore::endpoint",
        "DeliveryLog::record_attempt",
        "StreamAccounting::count_entries",
        "DeliveryQueue::retry_after",
    ] {
        assert!(
            called.contains(m),
            "{m} not found in functions/delivery: {called:?}"
        );
    }
    // The credential check sits in shared code, not in the crate.
    let intake = port_methods_called("functions/intake");
    for m in [
        "CredentialStore::api_key_by_hash",
        "CredentialStore::touch_api_key",
        "CredentialStore::portal_session",
    ] {
        assert!(
            intake.contains(m),
            "{m} not found for functions/intake: {intake:?}"
        );
    }
    let derived = derived_from_adapters();
    assert_eq!(
        derived["EndpointStore::record_outcome"],
        Grants::from([
            ("EndpointsTable".into(), "dynamodb:DeleteItem".into()),
            ("EndpointsTable".into(), "dynamodb:GetItem".into()),
            ("EndpointsTable".into(), "dynamodb:UpdateItem".into()),
        ]),
        "record_outcome reaches count_outcome, disable, delete_subscription and read_endpoint"
    );
}
