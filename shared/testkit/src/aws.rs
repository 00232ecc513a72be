//! The AWS test fixture: SDK clients pointed at DynamoDB Local and moto,
//! whose addresses `infra/test.sh` (or `infra/emulators.sh`) exports. A
//! missing or unreachable emulator panics: AWS tests fail, never skip.

use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use courier_aws::schema::{self, QueueUrls};
use courier_aws::{AwsBackend, CallCounter, DynamoStore, ResourceNames};
use tokio::sync::OnceCell;

use crate::queue::SqsTestQueue;

/// Env var with DynamoDB Local's URL.
pub const DYNAMODB_ENDPOINT_VAR: &str = "COURIER_TEST_DYNAMODB_ENDPOINT";
/// Env var with moto's URL (SQS).
pub const SQS_ENDPOINT_VAR: &str = "COURIER_TEST_SQS_ENDPOINT";

/// How long an emulator may take to answer the first call.
const REACH_TIMEOUT: Duration = Duration::from_secs(15);

fn endpoint(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => panic!(
            "{var} is not set: the AWS tests need DynamoDB Local and moto. Run infra/test.sh, \
             or start infra/emulators.sh and `source ~/.cache/courier/emulators.env` first"
        ),
    }
}

fn sdk_config() -> SdkConfig {
    // Fixed dummy credentials: the emulators accept any, and no credential
    // chain (profiles, instance metadata) is consulted.
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test",
            "test",
            None,
            None,
            "courier-testkit",
        )))
        .build()
}

/// Clients for the emulators, created in the calling test's runtime (each
/// `#[tokio::test]` has its own, and SDK connections belong to one);
/// optionally counting calls into `counter`.
pub fn clients(
    counter: Option<&Arc<CallCounter>>,
) -> (aws_sdk_dynamodb::Client, aws_sdk_sqs::Client) {
    let sdk = sdk_config();
    let mut dynamodb =
        aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(endpoint(DYNAMODB_ENDPOINT_VAR));
    let mut sqs = aws_sdk_sqs::config::Builder::from(&sdk).endpoint_url(endpoint(SQS_ENDPOINT_VAR));
    if let Some(counter) = counter {
        dynamodb = dynamodb.interceptor(counter.interceptor());
        sqs = sqs.interceptor(counter.interceptor());
    }
    (
        aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
        aws_sdk_sqs::Client::from_conf(sqs.build()),
    )
}

/// A name no other test process uses.
pub fn unique_name(kind: &str) -> String {
    format!(
        "courier-test-{kind}-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    )
}

/// The two tables, created once per test process (tests keep apart by
/// using their own tenant ids).
static TABLES: OnceCell<(String, String)> = OnceCell::const_new();

/// The names of this process's endpoints and deliveries tables, creating
/// them on first use. Panics when DynamoDB Local cannot be reached.
pub async fn tables() -> (String, String) {
    TABLES
        .get_or_init(|| async {
            let (dynamodb, _) = clients(None);
            let endpoints = unique_name("endpoints");
            let deliveries = unique_name("deliveries");
            let created = tokio::time::timeout(REACH_TIMEOUT, async {
                schema::create_table(&dynamodb, &endpoints, &schema::ENDPOINTS_TABLE).await?;
                schema::create_table(&dynamodb, &deliveries, &schema::DELIVERIES_TABLE).await
            })
            .await;
            match created {
                Ok(Ok(())) => (endpoints, deliveries),
                Ok(Err(e)) => panic!(
                    "DynamoDB Local at {} failed: {e} (is it running? infra/emulators.sh starts it)",
                    endpoint(DYNAMODB_ENDPOINT_VAR)
                ),
                Err(_) => panic!(
                    "DynamoDB Local at {} did not answer within {REACH_TIMEOUT:?} (is it running?)",
                    endpoint(DYNAMODB_ENDPOINT_VAR)
                ),
            }
        })
        .await
        .clone()
}

/// A new delivery queue and dead-letter queue with `visibility`. Panics
/// when moto cannot be reached.
pub async fn new_queue(sqs: &aws_sdk_sqs::Client, visibility: Duration) -> QueueUrls {
    let name = unique_name("deliveries");
    match tokio::time::timeout(REACH_TIMEOUT, schema::create_queues(sqs, &name, visibility)).await {
        Ok(Ok(urls)) => urls,
        Ok(Err(e)) => panic!(
            "moto (SQS) at {} failed: {e} (is it running? infra/emulators.sh starts it)",
            endpoint(SQS_ENDPOINT_VAR)
        ),
        Err(_) => panic!(
            "moto (SQS) at {} did not answer within {REACH_TIMEOUT:?} (is it running?)",
            endpoint(SQS_ENDPOINT_VAR)
        ),
    }
}

/// A store on this process's tables.
pub async fn store() -> DynamoStore {
    let (endpoints, deliveries) = tables().await;
    let (dynamodb, _) = clients(None);
    DynamoStore::new(dynamodb, &endpoints, &deliveries)
}

/// A queue of its own with `visibility`, and its dead-letter queue.
pub async fn queue(visibility: Duration) -> SqsTestQueue {
    let (_, sqs) = clients(None);
    let urls = new_queue(&sqs, visibility).await;
    SqsTestQueue::new(sqs, &urls)
}

/// A complete backend (this process's tables, a fresh queue) whose SDK
/// calls are counted into `counter`, for tests of the functions on AWS.
pub async fn backend(
    visibility: Duration,
    counter: Option<&Arc<CallCounter>>,
) -> (AwsBackend, QueueUrls) {
    let (endpoints_table, deliveries_table) = tables().await;
    let (dynamodb, sqs) = clients(counter);
    let urls = new_queue(&sqs, visibility).await;
    let names = ResourceNames {
        endpoints_table,
        deliveries_table,
        delivery_queue_url: urls.queue_url.clone(),
    };
    (AwsBackend::from_clients(dynamodb, sqs, &names), urls)
}
