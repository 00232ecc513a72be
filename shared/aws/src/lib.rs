//! AWS adapters of courier's ports: [`DynamoStore`] (every storage port on
//! two DynamoDB tables) and [`SqsQueue`] (the delivery queue), plus the
//! table and queue definitions they rely on ([`schema`]), the wiring from
//! the environment ([`AwsBackend`]) and an SDK call counter ([`CallCounter`]).
//! This is the only crate that names AWS SDK types.

mod backend;
mod counter;
mod dynamo;
pub mod schema;
mod sqs;

pub use backend::{AwsBackend, BackendError, ResourceNames, sdk_clients};
pub use counter::{CallCounter, CountCalls};
pub use dynamo::DynamoStore;
pub use sqs::SqsQueue;

/// The full text of an SDK error (its sources included), for
/// [`courier::ports::StoreError::Unavailable`] and logs. The SDK's errors
/// describe the request, never item contents.
pub(crate) fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()
}
