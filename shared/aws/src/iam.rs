//! The IAM actions each port method of [`crate::DynamoStore`] and
//! [`crate::SqsQueue`] needs, on which resource: what a function's role in
//! `template.yaml` must allow, and no more, for the port methods its code
//! calls. The `template_iam` test derives the same list from the adapters'
//! SDK calls (so a new call fails it until this list says so) and checks
//! each function's role against the port methods the function calls, its
//! own and those of the shared code it uses: the credential check
//! (`courier::access`), which the api and the intake functions both run,
//! needs `CredentialStore::api_key_by_hash`, `touch_api_key` and
//! `portal_session` in each of them.
//!
//! Transactions have no IAM action of their own: each `Put`, `Update` and
//! `Delete` in a `TransactWriteItems` is authorised as `PutItem`,
//! `UpdateItem` and `DeleteItem`. `SendMessageBatch` is authorised as
//! `sqs:SendMessage`.

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
}

impl Resource {
    /// The resource's logical id in `template.yaml`.
    pub fn logical_id(self) -> &'static str {
        match self {
            Self::EndpointsTable => logical_ids::ENDPOINTS_TABLE,
            Self::DeliveriesTable => logical_ids::DELIVERIES_TABLE,
            Self::DeliveryQueue => logical_ids::DELIVERY_QUEUE,
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
    }
}

use Resource::{DeliveriesTable, DeliveryQueue, EndpointsTable};

/// Every port method of the AWS adapters and the actions it needs.
pub const REQUIRED_ACTIONS: &[Grant] = &[
    // endpoints.rs; an endpoint and its subscription items change in one transaction.
    grant(
        "EndpointStore::create_endpoint",
        EndpointsTable,
        &["dynamodb:PutItem"],
    ),
    grant(
        "EndpointStore::endpoint",
        EndpointsTable,
        &["dynamodb:GetItem"],
    ),
    grant(
        "EndpointStore::list_endpoints",
        EndpointsTable,
        &["dynamodb:Query"],
    ),
    grant(
        "EndpointStore::update_endpoint",
        EndpointsTable,
        &[
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
        ],
    ),
    grant(
        "EndpointStore::delete_endpoint",
        EndpointsTable,
        &["dynamodb:GetItem", "dynamodb:DeleteItem"],
    ),
    grant(
        "EndpointStore::subscribed_endpoints_after",
        EndpointsTable,
        &["dynamodb:Query"],
    ),
    grant(
        "EndpointStore::endpoint_count",
        EndpointsTable,
        &["dynamodb:Query"],
    ),
    // outcome.rs: count, then (auto-disable) a transaction, re-reading on a race.
    grant(
        "EndpointStore::record_outcome",
        EndpointsTable,
        &[
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
        ],
    ),
    // A delivery takes the open circuit's probe with one conditional update.
    grant(
        "EndpointStore::claim_probe",
        EndpointsTable,
        &["dynamodb:UpdateItem"],
    ),
    // event_types.rs
    grant(
        "EventTypeStore::create_event_type",
        EndpointsTable,
        &["dynamodb:PutItem"],
    ),
    grant(
        "EventTypeStore::event_type",
        EndpointsTable,
        &["dynamodb:GetItem"],
    ),
    grant(
        "EventTypeStore::list_event_types",
        EndpointsTable,
        &["dynamodb:Query"],
    ),
    grant(
        "EventTypeStore::delete_event_type",
        EndpointsTable,
        &["dynamodb:DeleteItem"],
    ),
    // events.rs
    grant(
        "EventStore::store_event",
        DeliveriesTable,
        &["dynamodb:PutItem", "dynamodb:GetItem"],
    ),
    grant(
        "EventStore::mark_fanned_out",
        DeliveriesTable,
        &["dynamodb:UpdateItem"],
    ),
    // A claim that loses reads the event to tell "held" from "finished".
    grant(
        "EventStore::claim_fan_out",
        DeliveriesTable,
        &["dynamodb:UpdateItem", "dynamodb:GetItem"],
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
    grant(
        "StreamAccounting::count_entries",
        EndpointsTable,
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
    // credentials.rs: a key's two items change together in one transaction.
    grant(
        "CredentialStore::create_api_key",
        EndpointsTable,
        &["dynamodb:PutItem"],
    ),
    grant(
        "CredentialStore::api_keys",
        EndpointsTable,
        &["dynamodb:Query"],
    ),
    grant(
        "CredentialStore::api_key_by_hash",
        EndpointsTable,
        &["dynamodb:GetItem"],
    ),
    grant(
        "CredentialStore::touch_api_key",
        EndpointsTable,
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
    ),
    grant(
        "CredentialStore::revoke_api_key",
        EndpointsTable,
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
