//! The IAM actions each port method of [`crate::DynamoStore`] and
//! [`crate::SqsQueue`] needs, on which resource: what a function's role in
//! `template.yaml` must allow, and no more, for the port methods its code
//! calls. The `template_iam` test derives the same list from the adapters'
//! SDK calls (so a new call fails it until this list says so) and checks
//! each function's role against the port methods the function calls, its
//! own and those of the shared code it uses: the credential check
//! (`courier::access`), which the api and the intake functions both run,
//! needs `CredentialStore::api_key_by_hash`, `touch_api_key` and
//! `portal_session` in each of them. Likewise the fan-out
//! (`courier::fan_out`) for the intake, and the operational webhooks
//! (`courier::operational`: an endpoint read, the event stored and fanned
//! out) for the api and delivery functions that publish them.
//!
//! Transactions have no IAM action of their own: each `Put`, `Update` and
//! `Delete` in a `TransactWriteItems` is authorised as `PutItem`,
//! `UpdateItem` and `DeleteItem`. `SendMessageBatch` is authorised as
//! `sqs:SendMessage`.
//!
//! **Secrets.** Endpoint secrets are sealed with the stack's KMS key
//! (`SecretsKey`, see [`crate::KmsSealer`]): the port methods that write
//! them need `kms:GenerateDataKey`, those that read them `kms:Decrypt`.
//! The delivery function only reads endpoints, so it may only decrypt; the
//! intake reads no endpoint and gets no KMS action at all.
//!
//! **Least privilege to the item.** Each endpoints-table grant also lists
//! the partition keys of the items it touches, as IAM `StringLike`
//! patterns (`SUB#*`, `EVENTTYPE`, ...). The roles of
//! [`ITEM_SCOPED_ROLES`] carry them as a `dynamodb:LeadingKeys` condition
//! (`ForAllValues:StringLike`: every key a request names must match one),
//! the union over the port methods the function calls, so the intake can
//! read subscriptions, event types and API key items but no endpoint item
//! (`TENANT#...`), sealed or not. `LeadingKeys` rather than a table of its
//! own for those items: moving subscriptions, event types and API keys to
//! another table would need a copy of every deployment's existing items
//! and a second table to back up, alarm on and pay for, while the
//! condition gives the same refusal with no data moved, and is checked by
//! the same test as the actions. `ForAllValues` is true for a request without
//! partition keys (a `Scan`), so no item-scoped role is granted one.

use crate::schema::logical_ids;

/// A resource of `template.yaml` that functions are granted actions on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// The endpoints table (`ENDPOINTS_TABLE`).
    EndpointsTable,
    /// The deliveries table (`DELIVERIES_TABLE`).
    DeliveriesTable,
    /// The delivery queue (`DELIVERY_QUEUE_URL`).
    DeliveryQueue,
    /// The KMS key sealing endpoint secrets (`SECRETS_KEY_ID`).
    SecretsKey,
}

impl Resource {
    /// The resource's logical id in `template.yaml`.
    pub fn logical_id(self) -> &'static str {
        match self {
            Self::EndpointsTable => logical_ids::ENDPOINTS_TABLE,
            Self::DeliveriesTable => logical_ids::DELIVERIES_TABLE,
            Self::DeliveryQueue => logical_ids::DELIVERY_QUEUE,
            Self::SecretsKey => logical_ids::SECRETS_KEY,
        }
    }
}

/// What one port method needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// `Trait::method`, e.g. `EndpointStore::create_endpoint`.
    pub method: &'static str,
    /// Where.
    pub resource: Resource,
    /// IAM actions, e.g. `dynamodb:PutItem`.
    pub actions: &'static [&'static str],
    /// On the endpoints table: the partition keys of the items it reads or
    /// writes, as `StringLike` patterns (`SUB#*`); empty elsewhere.
    pub keys: &'static [&'static str],
}

const fn grant(
    method: &'static str,
    resource: Resource,
    actions: &'static [&'static str],
) -> Grant {
    Grant {
        method,
        resource,
        actions,
        keys: &[],
    }
}

/// A grant on the endpoints table's items under `keys`.
const fn items(
    method: &'static str,
    keys: &'static [&'static str],
    actions: &'static [&'static str],
) -> Grant {
    Grant {
        method,
        resource: EndpointsTable,
        actions,
        keys,
    }
}

/// Roles whose grants on a table are limited to the partition keys of the
/// items their function's port methods touch (a `dynamodb:LeadingKeys`
/// condition on each of the role's statements on that table).
pub const ITEM_SCOPED_ROLES: &[(&str, Resource)] = &[("IntakeFunctionRole", EndpointsTable)];

/// The partition-key patterns that `methods` (`Trait::method`) touch on
/// `resource`, sorted: an item-scoped role's `LeadingKeys` condition.
pub fn leading_keys<'a>(
    methods: impl IntoIterator<Item = &'a str>,
    resource: Resource,
) -> std::collections::BTreeSet<&'static str> {
    let methods: Vec<&str> = methods.into_iter().collect();
    REQUIRED_ACTIONS
        .iter()
        .filter(|g| g.resource == resource && methods.contains(&g.method))
        .flat_map(|g| g.keys.iter().copied())
        .collect()
}

use Resource::{DeliveriesTable, DeliveryQueue, EndpointsTable, SecretsKey};

/// Every port method of the AWS adapters and the actions it needs.
pub const REQUIRED_ACTIONS: &[Grant] = &[
    // endpoints.rs; an endpoint and its subscription items change in one transaction.
    items(
        "EndpointStore::create_endpoint",
        &["TENANT#*", "SUB#*"],
        &["dynamodb:PutItem"],
    ),
    items(
        "EndpointStore::endpoint",
        &["TENANT#*"],
        &["dynamodb:GetItem"],
    ),
    items(
        "EndpointStore::list_endpoints",
        &["TENANT#*"],
        &["dynamodb:Query"],
    ),
    items(
        "EndpointStore::update_endpoint",
        &["TENANT#*", "SUB#*"],
        &[
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
        ],
    ),
    items(
        "EndpointStore::delete_endpoint",
        &["TENANT#*", "SUB#*"],
        &["dynamodb:GetItem", "dynamodb:DeleteItem"],
    ),
    items(
        "EndpointStore::subscribed_endpoints_after",
        &["SUB#*"],
        &["dynamodb:Query"],
    ),
    items(
        "EndpointStore::endpoint_count",
        &["TENANT#*"],
        &["dynamodb:Query"],
    ),
    // outcome.rs: count, then (auto-disable) a transaction, re-reading on a race.
    items(
        "EndpointStore::record_outcome",
        &["TENANT#*", "SUB#*"],
        &[
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
        ],
    ),
    // A delivery takes the open circuit's probe with one conditional update.
    items(
        "EndpointStore::claim_probe",
        &["TENANT#*"],
        &["dynamodb:UpdateItem"],
    ),
    // event_types.rs
    items(
        "EventTypeStore::create_event_type",
        &["EVENTTYPE"],
        &["dynamodb:PutItem"],
    ),
    items(
        "EventTypeStore::event_type",
        &["EVENTTYPE"],
        &["dynamodb:GetItem"],
    ),
    items(
        "EventTypeStore::list_event_types",
        &["EVENTTYPE"],
        &["dynamodb:Query"],
    ),
    items(
        "EventTypeStore::delete_event_type",
        &["EVENTTYPE"],
        &["dynamodb:DeleteItem"],
    ),
    // events.rs
    // A repeat reads the event and its fan-out's marker in one query.
    grant(
        "EventStore::store_event",
        DeliveriesTable,
        &["dynamodb:PutItem", "dynamodb:Query"],
    ),
    grant(
        "EventStore::mark_fanned_out",
        DeliveriesTable,
        &["dynamodb:PutItem"],
    ),
    // A claim reads the marker first, and one that loses reads again to
    // tell "held" from "finished".
    grant(
        "EventStore::claim_fan_out",
        DeliveriesTable,
        &["dynamodb:UpdateItem", "dynamodb:Query"],
    ),
    grant(
        "EventStore::release_fan_out",
        DeliveriesTable,
        &["dynamodb:UpdateItem"],
    ),
    grant("EventStore::event", DeliveriesTable, &["dynamodb:GetItem"]),
    // log.rs
    grant(
        "DeliveryLog::record_attempts",
        DeliveriesTable,
        &["dynamodb:BatchWriteItem"],
    ),
    grant(
        "DeliveryLog::record_attempt",
        DeliveriesTable,
        &["dynamodb:PutItem"],
    ),
    grant(
        "DeliveryLog::find_attempt",
        DeliveriesTable,
        &["dynamodb:GetItem"],
    ),
    grant(
        "DeliveryLog::delivery",
        DeliveriesTable,
        &["dynamodb:GetItem"],
    ),
    grant(
        "DeliveryLog::recent_deliveries",
        DeliveriesTable,
        &["dynamodb:Query"],
    ),
    // accounting.rs: statistics on one table, the endpoint's counter (and
    // its disabling, as record_outcome) on the other.
    grant(
        "StreamAccounting::count_entries",
        DeliveriesTable,
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
    ),
    items(
        "StreamAccounting::count_entries",
        &["TENANT#*", "SUB#*"],
        &[
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
        ],
    ),
    // stats.rs
    grant(
        "StatsStore::add_stats",
        DeliveriesTable,
        &["dynamodb:UpdateItem"],
    ),
    grant(
        "StatsStore::daily_stats",
        DeliveriesTable,
        &["dynamodb:Query"],
    ),
    // rate.rs: a limited delivery increments its endpoint's window counter.
    grant(
        "RateLimits::take_rate_slot",
        DeliveriesTable,
        &["dynamodb:UpdateItem"],
    ),
    // credentials.rs: a key's two items change together in one transaction.
    items(
        "CredentialStore::create_api_key",
        &["APIKEYS#*", "APIKEY#*"],
        &["dynamodb:PutItem"],
    ),
    items(
        "CredentialStore::api_keys",
        &["APIKEYS#*"],
        &["dynamodb:Query"],
    ),
    items(
        "CredentialStore::api_key_by_hash",
        &["APIKEY#*"],
        &["dynamodb:GetItem"],
    ),
    items(
        "CredentialStore::touch_api_key",
        &["APIKEYS#*", "APIKEY#*"],
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
    ),
    items(
        "CredentialStore::revoke_api_key",
        &["APIKEYS#*", "APIKEY#*"],
        &["dynamodb:GetItem", "dynamodb:DeleteItem"],
    ),
    grant(
        "CredentialStore::create_portal_session",
        DeliveriesTable,
        &["dynamodb:PutItem"],
    ),
    grant(
        "CredentialStore::portal_session",
        DeliveriesTable,
        &["dynamodb:GetItem"],
    ),
    // Endpoint secrets, sealed on every write and opened on reads that
    // return them (counting and deletion leave them sealed).
    grant(
        "EndpointStore::create_endpoint",
        SecretsKey,
        &["kms:GenerateDataKey"],
    ),
    grant(
        "EndpointStore::update_endpoint",
        SecretsKey,
        &["kms:GenerateDataKey"],
    ),
    grant("EndpointStore::endpoint", SecretsKey, &["kms:Decrypt"]),
    grant(
        "EndpointStore::list_endpoints",
        SecretsKey,
        &["kms:Decrypt"],
    ),
    // sqs.rs
    grant(
        "DeliveryQueue::enqueue",
        DeliveryQueue,
        &["sqs:SendMessage"],
    ),
    grant(
        "DeliveryQueue::retry_after",
        DeliveryQueue,
        &["sqs:ChangeMessageVisibility"],
    ),
];

/// What Lambda's DynamoDB stream event source mapping needs from the role
/// of the function it invokes, on the deliveries table's stream.
pub const STREAM_EVENT_SOURCE_ACTIONS: &[&str] = &[
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];

/// What Lambda's SQS event source mapping needs from the role of the
/// function it invokes, on the queue it polls (SAM would otherwise attach
/// `AWSLambdaSQSQueueExecutionRole`, which allows them on every queue).
pub const SQS_EVENT_SOURCE_ACTIONS: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];
