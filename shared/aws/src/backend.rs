//! Wiring: the SDK configuration, read once, and the adapters built from it.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};

use crate::counter::CallCounter;
use crate::dynamo::DynamoStore;
use crate::schema::{ENV_DELIVERIES_TABLE, ENV_DELIVERY_QUEUE_URL, ENV_ENDPOINTS_TABLE};
use crate::sqs::SqsQueue;

/// A start-up failure; names the variable at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// A required environment variable is unset or empty.
    #[error("environment variable {0} is not set (the SAM template passes it to the functions)")]
    MissingVariable(&'static str),
}

/// Names of the tables and the queue URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNames {
    /// `ENDPOINTS_TABLE`.
    pub endpoints_table: String,
    /// `DELIVERIES_TABLE`.
    pub deliveries_table: String,
    /// `DELIVERY_QUEUE_URL`.
    pub delivery_queue_url: String,
}

impl ResourceNames {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, BackendError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the names through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, BackendError> {
        let get = |var: &'static str| {
            lookup(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or(BackendError::MissingVariable(var))
        };
        Ok(Self {
            endpoints_table: get(ENV_ENDPOINTS_TABLE)?,
            deliveries_table: get(ENV_DELIVERIES_TABLE)?,
            delivery_queue_url: get(ENV_DELIVERY_QUEUE_URL)?,
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
    /// Reads the resource names and the SDK configuration (region,
    /// credentials, and endpoint overrides such as `AWS_ENDPOINT_URL_DYNAMODB`
    /// and `AWS_ENDPOINT_URL_SQS`, which the SDK applies itself) from the
    /// environment. Call once, at start-up.
    pub async fn from_env() -> Result<Self, BackendError> {
        let names = ResourceNames::from_env()?;
        let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let (dynamodb, sqs) = sdk_clients(&sdk, None);
        Ok(Self::from_clients(dynamodb, sqs, &names))
    }

    /// A backend on given clients (tests point them at emulators).
    pub fn from_clients(
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        names: &ResourceNames,
    ) -> Self {
        Self {
            store: Arc::new(DynamoStore::new(
                dynamodb,
                &names.endpoints_table,
                &names.deliveries_table,
            )),
            queue: Arc::new(SqsQueue::new(sqs, &names.delivery_queue_url)),
        }
    }
}

/// DynamoDB and SQS clients from one SDK configuration, optionally counting
/// their calls into `counter`.
pub fn sdk_clients(
    sdk: &SdkConfig,
    counter: Option<&Arc<CallCounter>>,
) -> (aws_sdk_dynamodb::Client, aws_sdk_sqs::Client) {
    let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk);
    let mut sqs = aws_sdk_sqs::config::Builder::from(sdk);
    if let Some(counter) = counter {
        dynamodb = dynamodb.interceptor(counter.interceptor());
        sqs = sqs.interceptor(counter.interceptor());
    }
    (
        aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
        aws_sdk_sqs::Client::from_conf(sqs.build()),
    )
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
        assert_eq!(names.endpoints_table, "v-ENDPOINTS_TABLE");
        assert_eq!(names.deliveries_table, "v-DELIVERIES_TABLE");
        assert_eq!(names.delivery_queue_url, "v-DELIVERY_QUEUE_URL");
    }
}
