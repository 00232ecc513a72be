//! AWS adapters of courier's ports: [`DynamoStore`] (every storage port on
//! two DynamoDB tables) and [`SqsQueue`] (the delivery queue), plus the
//! table and queue definitions they rely on ([`schema`]), the wiring from
//! the environment ([`AwsBackend`]), the IAM actions each port method needs
//! ([`iam`]), the KMS envelope encryption of stored secrets
//! ([`KmsSealer`]) and an SDK call counter ([`CallCounter`]).
//! This is the only crate that names AWS SDK types.

mod backend;
mod counter;
mod dynamo;
pub mod iam;
mod kms;
pub mod logging;
pub mod roots;
pub mod schema;
mod sdk_http;
mod sqs;

pub use backend::{AwsBackend, BackendError, ResourceNames, sdk_config_from};
pub use counter::{CallCounter, CountCalls};
pub use dynamo::DynamoStore;
pub use dynamo::accounting::{Counted, LoggedEntry, StreamAccounting, entry_from_stream_image};
pub use kms::{DATA_KEY_TTL, KmsSealer, MAX_OPENED_KEYS};
pub use sqs::SqsQueue;

/// The text of an SDK error and its sources (`service error:
/// ConditionalCheckFailedException: ...`), for
/// [`courier::ports::StoreError::Unavailable`] and logs. Display only: no
/// `Debug` dumps of raw responses, and SDK errors never carry item contents.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn error_text_names_every_source() {
        let e = Outer(std::io::Error::other("connection refused"));
        assert_eq!(error_text(&e), "outer: connection refused");
    }
}
