//! The AWS test fixture: SDK clients pointed at DynamoDB Local and moto
//! (SQS and KMS), whose addresses `infra/test.sh` (or `infra/emulators.sh`)
//! exports. A missing or unreachable emulator panics: AWS tests fail, never
//! skip.

use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use courier_aws::schema::{self, QueueUrls};
use courier_aws::{AwsBackend, CallCounter, DynamoStore, KmsSealer, ResourceNames};
use tokio::sync::OnceCell;

use crate::queue::SqsTestQueue;

/// Env var with DynamoDB Local's URL.
pub const DYNAMODB_ENDPOINT_VAR: &str = "COURIER_TEST_DYNAMODB_ENDPOINT";
/// Env var with moto's URL (SQS, and KMS: moto answers both).
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

/// A KMS client on moto, created in the calling test's runtime.
pub fn kms_client() -> aws_sdk_kms::Client {
    let kms =
        aws_sdk_kms::config::Builder::from(&sdk_config()).endpoint_url(endpoint(SQS_ENDPOINT_VAR));
    aws_sdk_kms::Client::from_conf(kms.build())
}

/// The id of this process's `SecretsKey` in moto, created on first use.
static SECRETS_KEY: OnceCell<String> = OnceCell::const_new();

/// The KMS key that seals endpoint secrets in this process's tests, as the
/// template's `SecretsKey` does in a deployment. Panics when moto cannot be
/// reached.
pub async fn secrets_key() -> String {
    SECRETS_KEY
        .get_or_init(|| async {
            let created = tokio::time::timeout(
                REACH_TIMEOUT,
                kms_client()
                    .create_key()
                    .description("courier test secrets key")
                    .send(),
            )
            .await;
            match created {
                Ok(Ok(out)) => out
                    .key_metadata()
                    .map(|m| m.key_id().to_owned())
                    .expect("CreateKey returns the key's metadata"),
                Ok(Err(e)) => panic!(
                    "moto (KMS) at {} failed: {} (is it running?)",
                    endpoint(SQS_ENDPOINT_VAR),
                    courier_aws::error_text(&e)
                ),
                Err(_) => panic!(
                    "moto (KMS) at {} did not answer within {REACH_TIMEOUT:?}",
                    endpoint(SQS_ENDPOINT_VAR)
                ),
            }
        })
        .await
        .clone()
}

/// The KMS sealer on [`secrets_key`], as the api and delivery functions use.
pub async fn kms_sealer() -> Arc<KmsSealer> {
    Arc::new(KmsSealer::new(kms_client(), &secrets_key().await))
}

/// The variables that give a function binary started on the emulators the
/// secrets key, as the template gives the api and delivery functions:
/// `SECRETS_KEY_ID` and moto as the KMS endpoint.
pub async fn secrets_env() -> [(String, String); 2] {
    [
        (
            courier_aws::schema::ENV_SECRETS_KEY_ID.to_owned(),
            secrets_key().await,
        ),
        (
            "AWS_ENDPOINT_URL_KMS".to_owned(),
            endpoint(SQS_ENDPOINT_VAR),
        ),
    ]
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

/// A store on this process's tables, sealing secrets with KMS on moto.
pub async fn store() -> DynamoStore {
    let (endpoints, deliveries) = tables().await;
    let (dynamodb, _) = clients(None);
    DynamoStore::new(dynamodb, &endpoints, &deliveries).with_sealer(kms_sealer().await)
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
        secrets_key_id: Some(secrets_key().await),
    };
    (
        AwsBackend::from_clients(dynamodb, sqs, kms_client(), &names),
        urls,
    )
}
