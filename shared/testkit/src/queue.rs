//! Receiving from a delivery queue, which the `DeliveryQueue` port leaves to
//! the runtime (the SQS event source mapping, or the embedded consumer), so
//! that the queue conformance tests are written once.

use std::time::Duration;

use async_trait::async_trait;
use courier::embedded::EmbeddedQueue;
use courier::message::ReceivedMessage;
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
}

#[async_trait]
impl ReceivingQueue for SqsQueue {
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        SqsQueue::receive(self, max, wait, None).await
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        SqsQueue::delete(self, receipt).await
    }
}
