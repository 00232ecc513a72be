//! Wiring: the SDK configuration, read once, and the adapters built from it.
//!
//! On Lambda the configuration is the function's environment and nothing
//! else: region, the role's credentials (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, which Lambda sets for the
//! life of the sandbox) and, for tests, endpoint overrides. So the SDK's
//! credential chain (profiles, SSO, STS web identity, processes, instance
//! metadata) is not linked in at all, and no start-up time is spent on it.

use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::config::BehaviorVersion;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::sdk_config::TimeoutConfig;

use courier::ports::SecretSealer;
use courier::sealing::NoSealer;

use crate::dynamo::DynamoStore;
use crate::kms::KmsSealer;
use crate::schema::{
    ENV_DELIVERIES_TABLE, ENV_DELIVERY_QUEUE_URL, ENV_ENDPOINTS_TABLE, ENV_SECRETS_KEY_ID,
};
use crate::sqs::SqsQueue;

/// A start-up failure; names the variable at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// A required environment variable is unset or empty.
    #[error("environment variable {0} is not set (the SAM template passes it to the functions)")]
    MissingVariable(&'static str),
    /// Neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set.
    #[error("environment variable AWS_REGION is not set (Lambda sets it)")]
    MissingRegion,
    /// The role's credentials are not in the environment.
    #[error("environment variable {0} is not set (Lambda sets the role's credentials)")]
    MissingCredentials(&'static str),
}

/// How long one DynamoDB or SQS request may take before it is abandoned
/// and retried: a hung call must not hold a batch until the Lambda times
/// out (the SDK retries up to 3 attempts within the operation timeout).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one DynamoDB or SQS operation may take, retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting to the service endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The SDK configuration of a function, from its environment (read through
/// `lookup`; tests pass a map): region, credentials and the timeouts above.
pub fn sdk_config_from(lookup: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, BackendError> {
    let get = |var: &str| {
        lookup(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let region = get("AWS_REGION")
        .or_else(|| get("AWS_DEFAULT_REGION"))
        .ok_or(BackendError::MissingRegion)?;
    let key = |var: &'static str| get(var).ok_or(BackendError::MissingCredentials(var));
    let credentials = Credentials::new(
        key("AWS_ACCESS_KEY_ID")?,
        key("AWS_SECRET_ACCESS_KEY")?,
        get("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let mut sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .sleep_impl(TokioSleep::new())
        // rustls on ring with the system's root certificates, read once
        // (crate::roots): the same TLS stack and roots as deliveries.
        .http_client(crate::sdk_http::https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
    if let Some(url) = get("AWS_ENDPOINT_URL") {
        sdk = sdk.endpoint_url(url);
    }
    Ok(sdk.build())
}

/// Names of the tables, the queue URL and the secrets key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNames {
    /// `ENDPOINTS_TABLE`.
    pub endpoints_table: String,
    /// `DELIVERIES_TABLE`.
    pub deliveries_table: String,
    /// `DELIVERY_QUEUE_URL`.
    pub delivery_queue_url: String,
    /// `SECRETS_KEY_ID`: the KMS key sealing endpoint secrets. Unset for the
    /// intake, whose store then refuses to seal or open any.
    pub secrets_key_id: Option<String>,
}

impl ResourceNames {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, BackendError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the names through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, BackendError> {
        let optional = |var: &'static str| {
            lookup(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let get = |var: &'static str| optional(var).ok_or(BackendError::MissingVariable(var));
        Ok(Self {
            endpoints_table: get(ENV_ENDPOINTS_TABLE)?,
            deliveries_table: get(ENV_DELIVERIES_TABLE)?,
            delivery_queue_url: get(ENV_DELIVERY_QUEUE_URL)?,
            secrets_key_id: optional(ENV_SECRETS_KEY_ID),
        })
    }
}

/// The production backend: the store and the queue.
#[derive(Clone)]
pub struct AwsBackend {
    /// Every storage port, on DynamoDB.
    pub store: Arc<DynamoStore>,
    /// The delivery queue, on SQS.
    pub queue: Arc<SqsQueue>,
}

impl AwsBackend {
    /// Reads the resource names and the SDK configuration (see
    /// [`sdk_config_from`]; endpoint overrides `AWS_ENDPOINT_URL`,
    /// `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SQS` and
    /// `AWS_ENDPOINT_URL_KMS` for emulators) from the environment. Call
    /// once, at start-up. Endpoint secrets are sealed with KMS under
    /// `SECRETS_KEY_ID`.
    pub async fn from_env() -> Result<Self, BackendError> {
        let (names, sdk) = environment()?;
        let mut kms = aws_sdk_kms::config::Builder::from(&sdk);
        if let Some(url) = endpoint_override("AWS_ENDPOINT_URL_KMS") {
            kms = kms.endpoint_url(url);
        }
        Ok(Self::from_clients(
            dynamodb_client(&sdk),
            sqs_client(&sdk),
            aws_sdk_kms::Client::from_conf(kms.build()),
            &names,
        ))
    }

    /// As [`Self::from_env`] for a function that never reads or writes an
    /// endpoint's secrets (the intake): no KMS client is built, and the
    /// store refuses to seal or open a secret.
    pub async fn from_env_without_secrets() -> Result<Self, BackendError> {
        let (names, sdk) = environment()?;
        Ok(Self::with_sealer(
            dynamodb_client(&sdk),
            sqs_client(&sdk),
            Arc::new(NoSealer(
                "this function does not handle endpoint secrets (the api and delivery functions do)",
            )),
            &names,
        ))
    }

    /// A backend on given clients (tests point them at emulators); endpoint
    /// secrets are sealed under `names.secrets_key_id` with `kms`.
    pub fn from_clients(
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        kms: aws_sdk_kms::Client,
        names: &ResourceNames,
    ) -> Self {
        let sealer: Arc<dyn SecretSealer> = match &names.secrets_key_id {
            Some(key_id) => Arc::new(KmsSealer::new(kms, key_id)),
            None => Arc::new(NoSealer(
                "SECRETS_KEY_ID is not set (the template sets it for the api and delivery functions)",
            )),
        };
        Self::with_sealer(dynamodb, sqs, sealer, names)
    }

    fn with_sealer(
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        sealer: Arc<dyn SecretSealer>,
        names: &ResourceNames,
    ) -> Self {
        let store = DynamoStore::new(dynamodb, &names.endpoints_table, &names.deliveries_table)
            .with_sealer(sealer);
        Self {
            store: Arc::new(store),
            queue: Arc::new(SqsQueue::new(sqs, &names.delivery_queue_url)),
        }
    }
}

/// The resource names and the SDK configuration, from the process environment.
fn environment() -> Result<(ResourceNames, SdkConfig), BackendError> {
    let lookup = |name: &str| std::env::var(name).ok();
    Ok((
        ResourceNames::from_lookup(lookup)?,
        sdk_config_from(lookup)?,
    ))
}

/// An endpoint override for one service (emulators), when set.
fn endpoint_override(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

fn dynamodb_client(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(url) = endpoint_override("AWS_ENDPOINT_URL_DYNAMODB") {
        config = config.endpoint_url(url);
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

fn sqs_client(sdk: &SdkConfig) -> aws_sdk_sqs::Client {
    let mut config = aws_sdk_sqs::config::Builder::from(sdk);
    if let Some(url) = endpoint_override("AWS_ENDPOINT_URL_SQS") {
        config = config.endpoint_url(url);
    }
    aws_sdk_sqs::Client::from_conf(config.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_missing_variable_is_named() {
        let vars: HashMap<&str, &str> = [
            (ENV_ENDPOINTS_TABLE, "endpoints"),
            (ENV_DELIVERY_QUEUE_URL, "http://q"),
            (ENV_DELIVERIES_TABLE, " "),
        ]
        .into();
        let err = ResourceNames::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap_err();
        assert_eq!(err, BackendError::MissingVariable(ENV_DELIVERIES_TABLE));
        assert!(err.to_string().contains("DELIVERIES_TABLE"));
    }

    #[test]
    fn names_are_read() {
        let names = ResourceNames::from_lookup(|k| Some(format!("v-{k}"))).unwrap();
        assert_eq!(names.secrets_key_id.as_deref(), Some("v-SECRETS_KEY_ID"));
        let without =
            ResourceNames::from_lookup(|k| (k != ENV_SECRETS_KEY_ID).then(|| format!("v-{k}")))
                .unwrap();
        assert_eq!(
            without.secrets_key_id, None,
            "optional: the intake has none"
        );
        assert_eq!(names.endpoints_table, "v-ENDPOINTS_TABLE");
        assert_eq!(names.deliveries_table, "v-DELIVERIES_TABLE");
        assert_eq!(names.delivery_queue_url, "v-DELIVERY_QUEUE_URL");
    }

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_sdk_configuration_is_the_environment_and_the_timeouts() {
        let sdk = sdk_config_from(lookup(&[
            ("AWS_REGION", "eu-central-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]))
        .unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-central-1"));
        let timeouts = sdk.timeout_config().unwrap();
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert!(
            sdk.sleep_impl().is_some(),
            "timeouts need a sleep implementation"
        );
        assert!(
            sdk.http_client().is_some(),
            "no default client is linked in"
        );
        assert!(sdk.credentials_provider().is_some());
    }

    #[test]
    fn a_missing_region_or_credential_is_named() {
        assert_eq!(
            sdk_config_from(lookup(&[("AWS_ACCESS_KEY_ID", "a")])).unwrap_err(),
            BackendError::MissingRegion
        );
        assert_eq!(
            sdk_config_from(lookup(&[
                ("AWS_DEFAULT_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "a")
            ]))
            .unwrap_err(),
            BackendError::MissingCredentials("AWS_SECRET_ACCESS_KEY")
        );
    }
}
