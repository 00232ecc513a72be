//! The SQS event source mapping, played by the harness: receive a batch
//! from moto, invoke `delivery` with the SQS event Lambda would build, and
//! act on its answer as Lambda does with `ReportBatchItemFailures`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde_json::{Value, json};

use crate::watch::{FunctionError, Watch};

/// Largest batch the mapping hands over (the SQS receive limit).
const BATCH_SIZE: i32 = 10;

/// One record of a batch, as received.
#[derive(Debug, Clone)]
pub struct Record {
    /// SQS message id (the `itemIdentifier` of a batch item failure).
    pub message_id: String,
    /// `ApproximateReceiveCount`.
    pub receive_count: u32,
    /// The body.
    pub body: String,
    /// When the harness received it.
    pub received_at: Instant,
}

/// What became of one batch.
#[derive(Debug)]
pub struct Batch {
    /// The records handed to the function.
    pub records: Vec<Record>,
    /// The function's answer.
    pub response: Result<Value, FunctionError>,
    /// Message ids deleted afterwards; every other record comes back.
    pub deleted: Vec<String>,
}

impl Batch {
    /// The ids the function reported as batch item failures.
    pub fn failures(&self) -> Vec<String> {
        match &self.response {
            Ok(v) => failure_ids(v).into_iter().flatten().collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Polls a queue and invokes a function with what it receives.
pub struct EventSourceMapping<'a> {
    watch: &'a Watch,
    function: String,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
}

impl<'a> EventSourceMapping<'a> {
    /// A mapping from `queue_url` to `function`.
    pub async fn new(
        watch: &'a Watch,
        function: &str,
        sqs: aws_sdk_sqs::Client,
        queue_url: &str,
    ) -> Self {
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("the queue's ARN")
            .attributes
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("moto returns QueueArn");
        Self {
            watch,
            function: function.to_owned(),
            sqs,
            queue_url: queue_url.to_owned(),
            queue_arn,
        }
    }

    /// Receives one batch (long-polling up to `wait`, in whole seconds) and,
    /// if anything came, hands it to the function and deletes exactly the
    /// records the answer lets go. `None` when the queue had nothing visible.
    pub async fn poll(&self, wait: Duration) -> Option<Batch> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(BATCH_SIZE)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("ReceiveMessage on moto");
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return None;
        }
        let received_at = Instant::now();
        let mut receipts = HashMap::new();
        let mut records = Vec::new();
        let mut event_records = Vec::new();
        for m in &messages {
            let id = m.message_id().unwrap_or_default().to_owned();
            let attributes: serde_json::Map<String, Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), Value::from(v.as_str())))
                        .collect()
                })
                .unwrap_or_default();
            let receive_count = attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.as_str()?.parse().ok())
                .expect("moto returns ApproximateReceiveCount when asked for All");
            event_records.push(json!({
                "messageId": id,
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": self.queue_arn,
                "awsRegion": "us-east-1",
            }));
            receipts.insert(
                id.clone(),
                m.receipt_handle().unwrap_or_default().to_owned(),
            );
            records.push(Record {
                message_id: id,
                receive_count,
                body: m.body().unwrap_or_default().to_owned(),
                received_at,
            });
        }
        let response = self
            .watch
            .invoke(&self.function, &json!({ "Records": event_records }))
            .await;
        let ids: Vec<String> = records.iter().map(|r| r.message_id.clone()).collect();
        let deleted = to_delete(&ids, &response);
        if !deleted.is_empty() {
            let entries = deleted.iter().enumerate().map(|(i, id)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(&receipts[id])
                    .build()
                    .expect("id and receipt are set")
            });
            let out = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries.collect()))
                .send()
                .await
                .expect("DeleteMessageBatch on moto");
            assert!(
                out.failed().is_empty(),
                "moto refused to delete: {:?}",
                out.failed()
            );
        }
        Some(Batch {
            records,
            response,
            deleted,
        })
    }

    /// Polls until a batch arrives; panics after `timeout`.
    pub async fn next_batch(&self, timeout: Duration) -> Batch {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(batch) = self.poll(Duration::from_secs(1)).await {
                return batch;
            }
        }
        panic!("no message became visible on the delivery queue within {timeout:?}");
    }

    /// Messages in the queue, visible or in flight.
    pub async fn messages_left(&self) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("GetQueueAttributes on moto")
            .attributes
            .unwrap_or_default();
        [
            A::ApproximateNumberOfMessages,
            A::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .filter_map(|a| attrs.get(a)?.parse::<u64>().ok())
        .sum()
    }
}

/// The `itemIdentifier`s of a `ReportBatchItemFailures` answer; `None` for
/// an entry without a usable one. An answer without the list (`null`, `{}`)
/// names no failure.
fn failure_ids(response: &Value) -> Vec<Option<String>> {
    response["batchItemFailures"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    i["itemIdentifier"]
                        .as_str()
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Which of a batch's `records` Lambda deletes, given the function's answer:
/// none when the invocation failed, none when a failure names no record of
/// the batch (Lambda then treats the whole batch as failed), otherwise every
/// record not named.
pub fn to_delete(records: &[String], response: &Result<Value, FunctionError>) -> Vec<String> {
    let Ok(answer) = response else {
        return Vec::new();
    };
    let failures = failure_ids(answer);
    let all_known = failures
        .iter()
        .all(|f| f.as_ref().is_some_and(|id| records.contains(id)));
    if !all_known {
        return Vec::new();
    }
    records
        .iter()
        .filter(|id| !failures.iter().any(|f| f.as_deref() == Some(id.as_str())))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[test]
    fn records_not_named_as_failures_are_deleted() {
        let answer = json!({"batchItemFailures": [{"itemIdentifier": "b"}]});
        assert_eq!(to_delete(&ids(), &Ok(answer)), ["a", "c"]);
    }

    #[test]
    fn an_answer_without_failures_deletes_the_whole_batch() {
        for answer in [json!({"batchItemFailures": []}), json!({}), Value::Null] {
            assert_eq!(to_delete(&ids(), &Ok(answer)), ["a", "b", "c"]);
        }
    }

    #[test]
    fn a_failed_invocation_deletes_nothing() {
        let err = FunctionError {
            error_type: "Runtime.ExitError".into(),
            message: "boom".into(),
        };
        assert!(to_delete(&ids(), &Err(err)).is_empty());
    }

    #[test]
    fn an_unknown_or_empty_identifier_fails_the_whole_batch() {
        let unknown = json!({"batchItemFailures": [{"itemIdentifier": "zzz"}]});
        assert!(to_delete(&ids(), &Ok(unknown)).is_empty());
        let empty = json!({"batchItemFailures": [{"itemIdentifier": ""}]});
        assert!(to_delete(&ids(), &Ok(empty)).is_empty());
    }
}
