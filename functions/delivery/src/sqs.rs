//! The Lambda side of the SQS event source mapping: SQS records in, batch
//! item failures out.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use courier::message::ReceivedMessage;

/// The records of an SQS event as received messages. A record without a
/// message id cannot be reported back and is skipped with an error log; a
/// record without a receipt or body is kept so it fails and reaches the DLQ.
pub fn received_messages(event: SqsEvent) -> Vec<ReceivedMessage> {
    event
        .records
        .into_iter()
        .filter_map(|record| {
            let Some(id) = record.message_id else {
                tracing::error!("SQS record without a message id");
                return None;
            };
            let receive_count = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            Some(ReceivedMessage {
                queue_message_id: id,
                receipt: record.receipt_handle.unwrap_or_default(),
                body: record.body.unwrap_or_default(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_received_messages_with_their_receive_count() {
        let event: SqsEvent = serde_json::from_value(serde_json::json!({
            "Records": [{
                "messageId": "m1", "receiptHandle": "r1", "body": "{}",
                "attributes": {"ApproximateReceiveCount": "3"},
                "messageAttributes": {}, "eventSource": "aws:sqs"
            }]
        }))
        .unwrap();
        let got = received_messages(event);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].queue_message_id, "m1");
        assert_eq!(got[0].receipt, "r1");
        assert_eq!(got[0].receive_count, 3);
        let response = serde_json::to_value(batch_response(vec!["m1".into()])).unwrap();
        assert_eq!(response["batchItemFailures"][0]["itemIdentifier"], "m1");
    }
}
