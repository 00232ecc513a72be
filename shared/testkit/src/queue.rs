//! Receiving from a delivery queue, which the `DeliveryQueue` port leaves to
//! the runtime (the SQS event source mapping, or the embedded consumer), so
//! that the queue conformance tests are written once; and what tests need
//! beside it: a raw message, and a look at the dead-letter queue.

use std::time::Duration;

use async_trait::async_trait;
use courier::embedded::EmbeddedQueue;
use courier::message::{DeliveryMessage, ReceivedMessage};
use courier::ports::{DeliveryQueue, QueueError};
use courier_aws::SqsQueue;

/// A delivery queue that tests can also receive from.
#[async_trait]
pub trait ReceivingQueue: DeliveryQueue {
    /// Up to `max` (at most 10) visible messages, waiting up to `wait`
    /// (whole seconds on SQS) for the first.
    async fn receive(&self, max: usize, wait: Duration)
    -> Result<Vec<ReceivedMessage>, QueueError>;
    /// Deletes a received message.
    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;
    /// Sends a body as it is, which need not be a delivery message.
    async fn send_raw(&self, body: &str) -> Result<(), QueueError>;
    /// The bodies the queue's redrive policy moved to its dead-letter queue.
    async fn dead_letters(&self) -> Result<Vec<String>, QueueError>;
}

#[async_trait]
impl ReceivingQueue for EmbeddedQueue {
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        Ok(EmbeddedQueue::receive(self, max, wait).await)
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        EmbeddedQueue::delete(self, receipt)
    }

    async fn send_raw(&self, body: &str) -> Result<(), QueueError> {
        EmbeddedQueue::send_raw(self, body.to_owned());
        Ok(())
    }

    async fn dead_letters(&self) -> Result<Vec<String>, QueueError> {
        Ok(EmbeddedQueue::dead_letters(self))
    }
}

/// Every delivery message on `queue`, parsed, deleting each as it is read,
/// until a receive finds none.
pub async fn drain_messages(queue: &dyn ReceivingQueue) -> Vec<DeliveryMessage> {
    let mut seen = Vec::new();
    loop {
        let batch = queue
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive from the test queue");
        if batch.is_empty() {
            return seen;
        }
        for m in batch {
            seen.push(DeliveryMessage::from_json(&m.body).expect("a delivery message"));
            queue
                .delete(&m.receipt)
                .await
                .expect("delete from the test queue");
        }
    }
}

/// An SQS queue with its dead-letter queue (redrive after
/// `courier_aws::schema::MAX_RECEIVE_COUNT` receives, as deployed).
pub struct SqsTestQueue {
    /// The delivery queue, as the functions use it.
    pub queue: SqsQueue,
    dead_letter_queue: SqsQueue,
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsTestQueue {
    /// The queue at `urls`, through `client`.
    pub fn new(client: aws_sdk_sqs::Client, urls: &courier_aws::schema::QueueUrls) -> Self {
        Self {
            queue: SqsQueue::new(client.clone(), &urls.queue_url),
            dead_letter_queue: SqsQueue::new(client.clone(), &urls.dead_letter_queue_url),
            client,
            queue_url: urls.queue_url.clone(),
        }
    }
}

#[async_trait]
impl DeliveryQueue for SqsTestQueue {
    async fn enqueue(&self, messages: &[DeliveryMessage]) -> Result<(), QueueError> {
        self.queue.enqueue(messages).await
    }

    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.queue.retry_after(receipt, delay).await
    }
}

#[async_trait]
impl ReceivingQueue for SqsTestQueue {
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.queue.receive(max, wait, None).await
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.queue.delete(receipt).await
    }

    async fn send_raw(&self, body: &str) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| QueueError::Unavailable(courier_aws::error_text(&e)))?;
        Ok(())
    }

    async fn dead_letters(&self) -> Result<Vec<String>, QueueError> {
        // Received with no visibility timeout: they stay for the next look.
        let found = self
            .dead_letter_queue
            .receive(10, Duration::from_secs(1), Some(Duration::ZERO))
            .await?;
        Ok(found.into_iter().map(|m| m.body.to_string()).collect())
    }
}
