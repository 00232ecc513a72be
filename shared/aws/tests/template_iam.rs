//! Least privilege, checked both ways: `courier_aws::iam` lists the IAM
//! actions of every port method, and must match the SDK calls the adapters
//! make (a new `.client.<operation>()` fails here until the list says so);
//! each function's role in `template.yaml` must allow exactly the actions of
//! the port methods its code calls (itself, or through the shared code it
//! uses, such as the credential check), on this stack's resources, and
//! nothing else.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use courier_aws::iam::{
    REQUIRED_ACTIONS, Resource, SQS_EVENT_SOURCE_ACTIONS, STREAM_EVENT_SOURCE_ACTIONS,
};
use serde_yaml::Value;
use support::{
    Code, calls, function_property, functions, names_after, one_or_many, read, referenced_id,
    resource, resources_of, rust_files, squeeze, template,
};

/// `(resource logical id, IAM action)`.
type Grants = BTreeSet<(String, String)>;

const ADAPTERS: [&str; 2] = ["shared/aws/src/dynamo", "shared/aws/src/sqs.rs"];
const ADAPTER_TYPES: [&str; 2] = ["DynamoStore", "SqsQueue"];

/// The IAM action of an SDK operation; `None` for a transaction, whose
/// items carry the actions.
fn action_of(operation: &str) -> Option<&'static str> {
    Some(match operation {
        "get_item" => "dynamodb:GetItem",
        "put_item" => "dynamodb:PutItem",
        "update_item" => "dynamodb:UpdateItem",
        "delete_item" => "dynamodb:DeleteItem",
        "query" => "dynamodb:Query",
        "scan" => "dynamodb:Scan",
        "batch_get_item" => "dynamodb:BatchGetItem",
        "batch_write_item" => "dynamodb:BatchWriteItem",
        "transact_write_items" | "transact_get_items" => return None,
        "send_message" | "send_message_batch" => "sqs:SendMessage",
        "change_message_visibility" | "change_message_visibility_batch" => {
            "sqs:ChangeMessageVisibility"
        }
        "receive_message" => "sqs:ReceiveMessage",
        "delete_message" | "delete_message_batch" => "sqs:DeleteMessage",
        "get_queue_attributes" => "sqs:GetQueueAttributes",
        other => panic!(
            "`.client.{other}()` is an SDK operation this test does not know: \
             add its IAM action to action_of() and to courier_aws::iam"
        ),
    })
}

/// Items of a transaction, authorised as the single-item actions.
const TRANSACTION_ITEMS: [(&str, &str); 5] = [
    ("Put", "dynamodb:PutItem"),
    ("Update", "dynamodb:UpdateItem"),
    ("Delete", "dynamodb:DeleteItem"),
    ("ConditionCheck", "dynamodb:ConditionCheckItem"),
    ("Get", "dynamodb:GetItem"),
];

/// The resource a function body works on, from the `self.<field>` it names.
fn resources_named(body: &str, in_queue_file: bool) -> Vec<Resource> {
    if in_queue_file {
        return vec![Resource::DeliveryQueue];
    }
    [
        ("self.endpoints_table", Resource::EndpointsTable),
        ("self.deliveries_table", Resource::DeliveriesTable),
    ]
    .into_iter()
    .filter(|(field, _)| body.contains(field))
    .map(|(_, r)| r)
    .collect()
}

/// The grants each port method of the adapters needs, derived from their
/// source: SDK calls and transaction items of the method and of every
/// function it calls, on the table each of those functions names.
fn derived_from_adapters() -> BTreeMap<String, Grants> {
    let mut all = Vec::new();
    for dir in ADAPTERS {
        let files = if dir.ends_with(".rs") {
            vec![(dir.to_owned(), read(dir))]
        } else {
            rust_files(dir)
        };
        for (path, text) in files {
            let queue_file = path.ends_with("sqs.rs");
            for f in functions(&Code::new(&text)) {
                all.push((path.clone(), queue_file, f));
            }
        }
    }
    // The grants each function needs by itself.
    let direct: Vec<Grants> = all
        .iter()
        .map(|(path, queue_file, f)| {
            let mut actions: Vec<&str> = names_after(&f.body, ".client.")
                .iter()
                .filter_map(|op| action_of(op))
                .collect();
            for (item, action) in TRANSACTION_ITEMS {
                let builder = format!("{item}::builder(");
                let used = f.body.match_indices(&builder).any(|(at, _)| {
                    !f.body[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if used {
                    actions.push(action);
                }
            }
            if actions.is_empty() {
                return Grants::new();
            }
            let resources = resources_named(&f.body, *queue_file);
            assert_eq!(
                resources.len(),
                1,
                "{path}: fn {} makes SDK calls on {} tables; this test expects one table per \
                 function (split it, or teach the test)",
                f.name,
                resources.len()
            );
            let id = resources[0].logical_id().to_owned();
            actions
                .into_iter()
                .map(|a| (id.clone(), a.to_owned()))
                .collect()
        })
        .collect();

    let mut by_method = BTreeMap::new();
    for (start, (path, _, f)) in all.iter().enumerate() {
        let (Some(tr), Some(ty)) = (&f.trait_name, &f.implementor) else {
            continue;
        };
        if !ADAPTER_TYPES.contains(&ty.as_str()) {
            continue;
        }
        // Everything reachable through calls to functions of the adapters.
        let mut grants = Grants::new();
        let mut seen = BTreeSet::from([start]);
        let mut todo = vec![start];
        while let Some(i) = todo.pop() {
            grants.extend(direct[i].iter().cloned());
            for name in calls(&all[i].2.body) {
                for (j, (_, _, g)) in all.iter().enumerate() {
                    if g.name == name && seen.insert(j) {
                        todo.push(j);
                    }
                }
            }
        }
        let key = format!("{tr}::{}", f.name);
        assert!(
            by_method.insert(key.clone(), grants).is_none(),
            "{path}: {key} is implemented twice"
        );
    }
    by_method
}

/// `courier_aws::iam::REQUIRED_ACTIONS` by port method.
fn declared() -> BTreeMap<String, Grants> {
    let mut by_method: BTreeMap<String, Grants> = BTreeMap::new();
    for g in REQUIRED_ACTIONS {
        by_method.entry(g.method.to_owned()).or_default().extend(
            g.actions
                .iter()
                .map(|a| (g.resource.logical_id().to_owned(), (*a).to_owned())),
        );
    }
    by_method
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
/// names it: the name, and the source folders whose port calls then count
/// for the crate.
const SHARED_PORT_CALLERS: [(&str, [&str; 2]); 1] = [
    // The credential check of the api and intake functions.
    (
        "courier_http::access",
        ["shared/http/src", "shared/core/src/access"],
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
    let squeezed = |dir: &str| -> Vec<String> {
        rust_files(dir)
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

/// The DynamoDB and SQS grants of a role, after checking that it holds
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
            assert!(st["Condition"].is_null() && st["NotResource"].is_null());
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
                    } else if action.starts_with("dynamodb:") || action.starts_with("sqs:") {
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
        for method in port_methods_called(crate_dir) {
            required.extend(by_method[&method].iter().cloned());
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
