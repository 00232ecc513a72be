//! [`SqsQueue`]: the delivery queue on SQS.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use courier::ids::MessageId;
use courier::message::{DeliveryMessage, ReceivedMessage};
use courier::ports::{DeliveryQueue, QueueError};
use futures::StreamExt;

use crate::error_text;

/// SendMessageBatch's limit on entries.
const BATCH_ENTRIES: usize = 10;
/// SendMessageBatch's limit on the bodies' total size (the classic 256 KiB,
/// which every SQS implementation accepts).
const BATCH_BYTES: usize = 256 * 1024;
/// Batches sent at once: a 1,000-endpoint fan-out is 100 batches, so about
/// 13 round trips instead of 100.
const IN_FLIGHT: usize = 8;
/// Resends of the entries (or whole calls) that failed.
const RETRIES: u32 = 3;
/// Longest visibility SQS accepts (12 hours).
const MAX_VISIBILITY_SECS: u64 = 43_200;

/// The delivery queue on SQS.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    /// The queue at `queue_url`.
    pub fn new(client: Client, queue_url: &str) -> Self {
        Self {
            client,
            queue_url: queue_url.to_owned(),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.queue_url
    }

    /// Receives up to `max` (at most 10) messages, long-polling up to `wait`
    /// (at most 20 s); `visibility` overrides the queue's visibility timeout.
    /// For tests and local tooling: in Lambda, the event source mapping receives.
    pub async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .set_visibility_timeout(visibility.map(|v| visibility_secs(v) as i32))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| QueueError::Unavailable(error_text(&e)))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                ReceivedMessage {
                    queue_message_id: m.message_id.unwrap_or_default(),
                    receipt: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default().into(),
                    receive_count,
                }
            })
            .collect())
    }

    /// Deletes a received message (acknowledges it).
    pub async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| QueueError::Unavailable(error_text(&e)))?;
        Ok(())
    }

    /// Sends one batch, resending failed entries; returns those never sent.
    async fn send_batch(&self, batch: Vec<(MessageId, String)>) -> Vec<MessageId> {
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        for round in 0..=RETRIES {
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(50 << round)).await;
            }
            // Entry ids only need to be unique within the batch: the index.
            let entries: Result<Vec<_>, _> = pending
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&batch[i].1)
                        .build()
                })
                .collect();
            let entries = match entries {
                Ok(entries) => entries,
                Err(e) => {
                    tracing::error!(error = %e, "could not build a SendMessageBatch entry");
                    break;
                }
            };
            match self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => {
                    for f in out.failed() {
                        tracing::warn!(
                            code = f.code(),
                            sender_fault = f.sender_fault(),
                            message = f.message().unwrap_or(""),
                            round,
                            "SQS refused a delivery message"
                        );
                    }
                    let sent: Vec<usize> = out
                        .successful()
                        .iter()
                        .filter_map(|s| s.id().parse().ok())
                        .collect();
                    pending.retain(|i| !sent.contains(i));
                }
                Err(e) => {
                    tracing::warn!(error = %error_text(&e), round, "SendMessageBatch failed");
                }
            }
            if pending.is_empty() {
                break;
            }
        }
        pending.into_iter().map(|i| batch[i].0).collect()
    }
}

fn visibility_secs(d: Duration) -> u64 {
    // Rounded up: a retry must never come back before it is due.
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.min(MAX_VISIBILITY_SECS)
}

/// Groups bodies into batches within both SendMessageBatch limits.
fn pack(messages: &[DeliveryMessage]) -> Vec<Vec<(MessageId, String)>> {
    let mut batches: Vec<Vec<(MessageId, String)>> = Vec::new();
    let mut bytes = 0;
    for m in messages {
        let body = m.to_json();
        let full = batches
            .last()
            .is_none_or(|b| b.len() == BATCH_ENTRIES || bytes + body.len() > BATCH_BYTES);
        if full {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += body.len();
        if let Some(b) = batches.last_mut() {
            b.push((m.message_id, body));
        }
    }
    batches
}

#[async_trait]
impl DeliveryQueue for SqsQueue {
    async fn enqueue(&self, messages: &[DeliveryMessage]) -> Result<(), QueueError> {
        let failed: Vec<MessageId> = futures::stream::iter(pack(messages))
            .map(|batch| self.send_batch(batch))
            .buffer_unordered(IN_FLIGHT)
            .flat_map(futures::stream::iter)
            .collect()
            .await;
        if failed.is_empty() {
            Ok(())
        } else {
            Err(QueueError::NotEnqueued { failed })
        }
    }

    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(visibility_secs(delay) as i32)
            .send()
            .await
            .map_err(|e| QueueError::Unavailable(error_text(&e)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use courier::event::Event;
    use courier::ids::EndpointId;
    use courier::message::Trigger;

    fn message(data_len: usize) -> DeliveryMessage {
        let data = format!("\"{}\"", "x".repeat(data_len));
        let event = Event {
            id: "evt_1".parse().unwrap(),
            tenant_id: "t".parse().unwrap(),
            event_type: "a.b".parse().unwrap(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            data: serde_json::value::RawValue::from_string(data).unwrap(),
        };
        DeliveryMessage::new(EndpointId::generate(), Trigger::Event, event)
    }

    #[test]
    fn batches_hold_at_most_ten_entries_and_256_kib() {
        let small: Vec<_> = (0..25).map(|_| message(10)).collect();
        let sizes: Vec<usize> = pack(&small).iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5]);
        let big: Vec<_> = (0..3).map(|_| message(100 * 1024)).collect();
        let sizes: Vec<usize> = pack(&big).iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 1]);
        assert!(pack(&[]).is_empty());
    }

    #[test]
    fn visibility_rounds_up_and_is_clamped() {
        assert_eq!(visibility_secs(Duration::ZERO), 0);
        assert_eq!(visibility_secs(Duration::from_millis(1500)), 2);
        assert_eq!(visibility_secs(Duration::from_secs(60)), 60);
        assert_eq!(visibility_secs(Duration::from_secs(100_000)), 43_200);
    }
}
