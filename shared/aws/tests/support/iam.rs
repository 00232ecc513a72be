//! The IAM needs of the adapters, derived from their source: the SDK calls
//! and transaction items of each port method (and of every function it
//! calls), the KMS actions of the sealing helpers it reaches and the
//! partition keys of the endpoints-table items it touches; and the same as
//! `courier_aws::iam` declares them, to compare.

use std::collections::{BTreeMap, BTreeSet};

use courier_aws::iam::{REQUIRED_ACTIONS, Resource};

use super::{Code, calls, functions, names_after, read, rust_files};

/// `(resource logical id, IAM action)`.
pub type Grants = BTreeSet<(String, String)>;
/// Partition-key patterns of endpoints-table items (`SUB#*`).
pub type Keys = BTreeSet<String>;

/// The helpers that name an endpoints-table item's partition key, and the
/// pattern of the keys they make (`key_builders_make_their_patterns`
/// checks the pattern against each helper's source).
pub const KEY_BUILDERS: [(&str, &str); 5] = [
    ("tenant_pk", "TENANT#*"),
    ("subscription_pk", "SUB#*"),
    ("keys_pk", "APIKEYS#*"),
    ("lookup_key", "APIKEY#*"),
    ("EVENT_TYPE_PK", "EVENTTYPE"),
];

/// The sealing helpers of `courier::sealing` and the KMS action each needs
/// under `KmsSealer` (see courier_aws::iam).
pub const SEALING: [(&str, &str); 2] = [
    ("seal_secrets", "kms:GenerateDataKey"),
    ("open_secrets", "kms:Decrypt"),
];

pub const ADAPTERS: [&str; 2] = ["shared/aws/src/dynamo", "shared/aws/src/sqs.rs"];
pub const ADAPTER_TYPES: [&str; 2] = ["DynamoStore", "SqsQueue"];

/// The IAM action of an SDK operation; `None` for a transaction, whose
/// items carry the actions.
pub fn action_of(operation: &str) -> Option<&'static str> {
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
pub const TRANSACTION_ITEMS: [(&str, &str); 5] = [
    ("Put", "dynamodb:PutItem"),
    ("Update", "dynamodb:UpdateItem"),
    ("Delete", "dynamodb:DeleteItem"),
    ("ConditionCheck", "dynamodb:ConditionCheckItem"),
    ("Get", "dynamodb:GetItem"),
];

/// The resource a function body works on, from the `self.<field>` it names.
pub fn resources_named(body: &str, in_queue_file: bool) -> Vec<Resource> {
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
/// function it calls, on the table each of those functions names, and the
/// KMS actions of the sealing helpers they call.
pub fn derived_from_adapters() -> BTreeMap<String, Grants> {
    derived_with_keys()
        .into_iter()
        .map(|(method, (grants, _))| (method, grants))
        .collect()
}

/// As [`derived_from_adapters`], with the endpoints-table partition keys
/// each method reaches through [`KEY_BUILDERS`].
pub fn derived_with_keys() -> BTreeMap<String, (Grants, Keys)> {
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
            let called = calls(&f.body);
            let sealing: Grants = SEALING
                .iter()
                .filter(|(helper, _)| called.iter().any(|c| c == helper))
                .map(|(_, action)| {
                    (
                        Resource::SecretsKey.logical_id().to_owned(),
                        (*action).to_owned(),
                    )
                })
                .collect();
            if actions.is_empty() {
                return sealing;
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
                .chain(sealing)
                .collect()
        })
        .collect();
    let direct_keys: Vec<Keys> = all
        .iter()
        .map(|(_, _, f)| {
            let called = calls(&f.body);
            KEY_BUILDERS
                .iter()
                .filter(|(name, _)| {
                    called.iter().any(|c| c == name)
                        || (name.chars().all(|c| c.is_uppercase() || c == '_')
                            && f.body.contains(name))
                })
                .map(|(_, pattern)| (*pattern).to_owned())
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
        let mut keys = Keys::new();
        let mut seen = BTreeSet::from([start]);
        let mut todo = vec![start];
        while let Some(i) = todo.pop() {
            grants.extend(direct[i].iter().cloned());
            keys.extend(direct_keys[i].iter().cloned());
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
            by_method.insert(key.clone(), (grants, keys)).is_none(),
            "{path}: {key} is implemented twice"
        );
    }
    by_method
}

/// `courier_aws::iam::REQUIRED_ACTIONS` by port method.
pub fn declared() -> BTreeMap<String, Grants> {
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

/// The endpoints-table keys `courier_aws::iam` lists, by port method.
pub fn declared_keys() -> BTreeMap<String, Keys> {
    let mut by_method: BTreeMap<String, Keys> = BTreeMap::new();
    for g in REQUIRED_ACTIONS {
        let keys = by_method.entry(g.method.to_owned()).or_default();
        if g.resource == Resource::EndpointsTable {
            keys.extend(g.keys.iter().map(|k| (*k).to_owned()));
        } else {
            assert!(
                g.keys.is_empty(),
                "{}: keys are listed for the endpoints table only",
                g.method
            );
        }
    }
    by_method
}
