//! The tables and the queue, defined once: the environment variable names,
//! key and TTL attribute names, and functions that create the resources
//! (used by tests and local tooling). `template.yaml` declares the same
//! resources; the `template_matches_schema` test keeps the two in step.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::error_text;

/// Env var holding the endpoints table's name.
pub const ENV_ENDPOINTS_TABLE: &str = "ENDPOINTS_TABLE";
/// Env var holding the deliveries table's name.
pub const ENV_DELIVERIES_TABLE: &str = "DELIVERIES_TABLE";
/// Env var holding the delivery queue's URL.
pub const ENV_DELIVERY_QUEUE_URL: &str = "DELIVERY_QUEUE_URL";
/// Env var naming the KMS key that seals endpoint secrets (`SecretsKey`);
/// set for the api and delivery functions only: the intake reads none.
pub const ENV_SECRETS_KEY_ID: &str = "SECRETS_KEY_ID";

/// Partition key attribute of both tables (a string).
pub const PARTITION_KEY: &str = "pk";
/// Sort key attribute of both tables (a string).
pub const SORT_KEY: &str = "sk";
/// TTL attribute of the deliveries table: unix seconds (a number).
pub const TTL_ATTRIBUTE: &str = "expiresAt";
/// Receives after which SQS moves a delivery message to the dead-letter
/// queue: [`courier::policy::MAX_RECEIVES`].
pub const MAX_RECEIVE_COUNT: u32 = courier::policy::MAX_RECEIVES;

/// Logical ids of the resources in `template.yaml`.
pub mod logical_ids {
    /// The endpoints table.
    pub const ENDPOINTS_TABLE: &str = "EndpointsTable";
    /// The deliveries table.
    pub const DELIVERIES_TABLE: &str = "DeliveriesTable";
    /// The delivery queue.
    pub const DELIVERY_QUEUE: &str = "DeliveryQueue";
    /// The KMS key sealing endpoint secrets.
    pub const SECRETS_KEY: &str = "SecretsKey";
    /// The delivery queue's dead-letter queue.
    pub const DEAD_LETTER_QUEUE: &str = "DeliveryDeadLetterQueue";
}

/// The shape of one table, as both [`create_table`] and the template use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpec {
    /// `(attribute, "HASH" | "RANGE")`, all attributes of type string.
    pub key_schema: [(&'static str, &'static str); 2],
    /// The TTL attribute, if items expire.
    pub ttl_attribute: Option<&'static str>,
    /// Point-in-time recovery in production (endpoints cannot be re-derived).
    pub point_in_time_recovery: bool,
    /// The stream's view type, when the table has a stream (the deliveries
    /// table's carries new log entries to be counted).
    pub stream_view: Option<&'static str>,
}

/// Endpoints, their subscription index and the event-type catalogue.
pub const ENDPOINTS_TABLE: TableSpec = TableSpec {
    key_schema: [(PARTITION_KEY, "HASH"), (SORT_KEY, "RANGE")],
    ttl_attribute: None,
    point_in_time_recovery: true,
    stream_view: None,
};

/// Events, the delivery log and statistics: all expiring. Point-in-time
/// recovery by default (the template's `DeliveriesPointInTimeRecovery`):
/// a table deleted by mistake takes the delivery log and the events kept
/// for resends and recovery with it.
pub const DELIVERIES_TABLE: TableSpec = TableSpec {
    key_schema: [(PARTITION_KEY, "HASH"), (SORT_KEY, "RANGE")],
    ttl_attribute: Some(TTL_ATTRIBUTE),
    point_in_time_recovery: true,
    stream_view: Some("NEW_IMAGE"),
};

/// Why a resource could not be created.
#[derive(Debug, thiserror::Error)]
#[error("creating {resource}: {detail}")]
pub struct SchemaError {
    /// The table or queue name.
    pub resource: String,
    /// What went wrong.
    pub detail: String,
}

fn schema_error(resource: &str, detail: impl ToString) -> SchemaError {
    SchemaError {
        resource: resource.to_owned(),
        detail: detail.to_string(),
    }
}

/// Creates a table of `spec` named `name` (on-demand billing), waits until
/// it is active and turns on its TTL.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    spec: &TableSpec,
) -> Result<(), SchemaError> {
    let mut create = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (attr, role) in spec.key_schema {
        let key_type = if role == "HASH" {
            KeyType::Hash
        } else {
            KeyType::Range
        };
        create = create
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(attr)
                    .key_type(key_type)
                    .build()
                    .map_err(|e| schema_error(name, e))?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(attr)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| schema_error(name, e))?,
            );
    }
    if let Some(view) = spec.stream_view {
        create = create.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view))
                .build()
                .map_err(|e| schema_error(name, e))?,
        );
    }
    create
        .send()
        .await
        .map_err(|e| schema_error(name, error_text(&e)))?;
    wait_until_active(client, name).await?;
    if let Some(attr) = spec.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attr)
                    .enabled(true)
                    .build()
                    .map_err(|e| schema_error(name, e))?,
            )
            .send()
            .await
            .map_err(|e| schema_error(name, error_text(&e)))?;
    }
    Ok(())
}

async fn wait_until_active(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), SchemaError> {
    // DynamoDB Local is active at once; AWS takes seconds.
    for _ in 0..120 {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| schema_error(name, error_text(&e)))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(schema_error(name, "table did not become active in 60 s"))
}

/// URLs of a created delivery queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    /// The delivery queue.
    pub queue_url: String,
    /// Its dead-letter queue.
    pub dead_letter_queue_url: String,
}

/// Largest SQS message (1 MiB, as in the template): an event at the
/// payload limit plus the delivery's own fields must fit.
pub const MAX_MESSAGE_SIZE: u32 = 1024 * 1024;

/// Creates the delivery queue `name` with `visibility_timeout` and its
/// dead-letter queue `{name}-dlq`, redriving after [`MAX_RECEIVE_COUNT`].
pub async fn create_queues(
    client: &aws_sdk_sqs::Client,
    name: &str,
    visibility_timeout: Duration,
) -> Result<QueueUrls, SchemaError> {
    let dlq_name = format!("{name}-dlq");
    let dlq_url = client
        .create_queue()
        .queue_name(&dlq_name)
        // The longest SQS allows, so a poisoned message can be inspected.
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| schema_error(&dlq_name, error_text(&e)))?
        .queue_url
        .ok_or_else(|| schema_error(&dlq_name, "no queue URL returned"))?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| schema_error(&dlq_name, error_text(&e)))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| schema_error(&dlq_name, "no queue ARN returned"))?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    });
    let queue_url = client
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout.as_secs().to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(
            QueueAttributeName::MaximumMessageSize,
            MAX_MESSAGE_SIZE.to_string(),
        )
        .send()
        .await
        .map_err(|e| schema_error(name, error_text(&e)))?
        .queue_url
        .ok_or_else(|| schema_error(name, "no queue URL returned"))?;
    Ok(QueueUrls {
        queue_url,
        dead_letter_queue_url: dlq_url,
    })
}
