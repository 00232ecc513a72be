//! The Lambda side of the SQS event source mapping: SQS records in, batch
//! item failures out.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use courier::message::ReceivedMessage;

use tokio::time::Instant;

use crate::Deliverer;

/// The Lambda invocation's deadline (milliseconds since the epoch, from
/// `Context::deadline`) on the monotonic clock; `None` when it is not in
/// the future (emulators such as `cargo lambda watch` send a duration).
pub fn deadline_of(deadline_ms: u64) -> Option<Instant> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let left = deadline_ms.checked_sub(now_ms).filter(|ms| *ms > 0)?;
    Some(Instant::now() + std::time::Duration::from_millis(left))
}

/// Handles one SQS event as the event source mapping hands it over.
///
/// A record without a message id cannot be named in a batch item failure,
/// and skipping it would let Lambda delete it unseen. So such a batch is
/// handed back whole, unhandled (an empty item identifier makes Lambda
/// treat the whole batch as failed): its messages come back and, if the
/// record stays unnamed, reach the dead-letter queue by the redrive policy.
pub async fn handle_sqs_event(
    deliverer: &Deliverer,
    event: SqsEvent,
    deadline: Option<Instant>,
) -> SqsBatchResponse {
    match received_messages(event) {
        Some(messages) => batch_response(deliverer.handle_batch_until(&messages, deadline).await),
        None => {
            tracing::error!("SQS record without a message id: the whole batch is returned");
            whole_batch_failure()
        }
    }
}

/// The records of an SQS event as received messages; `None` when a record
/// has no message id. A record without a receipt or body is kept so it
/// fails and reaches the DLQ.
pub fn received_messages(event: SqsEvent) -> Option<Vec<ReceivedMessage>> {
    event
        .records
        .into_iter()
        .map(|record| {
            let id = record.message_id?;
            let receive_count = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            Some(ReceivedMessage {
                queue_message_id: id,
                receipt: record.receipt_handle.unwrap_or_default(),
                body: record.body.unwrap_or_default().into(),
                receive_count,
            })
        })
        .collect()
}

/// The `ReportBatchItemFailures` response naming the messages to keep.
pub fn batch_response(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for id in failed {
        response.add_failure(id);
    }
    response
}

/// A response that makes Lambda keep every message of the batch.
fn whole_batch_failure() -> SqsBatchResponse {
    batch_response(vec![String::new()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(records: serde_json::Value) -> SqsEvent {
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    #[test]
    fn a_deadline_in_the_past_is_no_deadline() {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert_eq!(deadline_of(600_000), None, "cargo lambda watch's value");
        let left = deadline_of(now_ms + 30_000).unwrap() - Instant::now();
        assert!(
            left > std::time::Duration::from_secs(29) && left <= std::time::Duration::from_secs(30)
        );
    }

    #[test]
    fn records_become_received_messages_with_their_receive_count() {
        let got = received_messages(event(serde_json::json!([{
            "messageId": "m1", "receiptHandle": "r1", "body": "{}",
            "attributes": {"ApproximateReceiveCount": "3"},
            "messageAttributes": {}, "eventSource": "aws:sqs"
        }])))
        .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].queue_message_id, "m1");
        assert_eq!(got[0].receipt, "r1");
        assert_eq!(got[0].receive_count, 3);
        let response = serde_json::to_value(batch_response(vec!["m1".into()])).unwrap();
        assert_eq!(response["batchItemFailures"][0]["itemIdentifier"], "m1");
    }

    #[tokio::test]
    async fn a_record_without_a_message_id_returns_the_whole_batch_unhandled() {
        let records = event(serde_json::json!([
            {"messageId": "m1", "receiptHandle": "r1", "body": "{}", "attributes": {},
             "messageAttributes": {}},
            {"receiptHandle": "r2", "body": "{}", "attributes": {}, "messageAttributes": {}}
        ]));
        let store = std::sync::Arc::new(courier::embedded::EmbeddedStore::new());
        let queue = std::sync::Arc::new(courier::embedded::EmbeddedQueue::new(
            courier::embedded::QueueSettings::default(),
        ));
        let deliverer = Deliverer::new(store, queue, courier::config::Settings::default()).unwrap();
        let response =
            serde_json::to_value(handle_sqs_event(&deliverer, records, None).await).unwrap();
        // Lambda reads an empty identifier as "the whole batch failed": nothing
        // of it is deleted, so the unnamed record is not lost.
        assert_eq!(
            response["batchItemFailures"],
            serde_json::json!([{"itemIdentifier": ""}])
        );
    }
}
