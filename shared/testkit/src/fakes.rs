//! The fakes the test crates share: queues that record what the functions
//! ask of them, or fail on cue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use courier::message::DeliveryMessage;
use courier::ports::{DeliveryQueue, QueueError};

/// A queue that accepts every message and records each `retry_after`
/// call (receipt, delay), for checking the schedule without waiting.
#[derive(Debug, Default)]
pub struct RecordingQueue {
    retries: Mutex<Vec<(String, Duration)>>,
}

impl RecordingQueue {
    /// The `retry_after` calls so far, in order.
    pub fn retries(&self) -> Vec<(String, Duration)> {
        self.retries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[async_trait]
impl DeliveryQueue for RecordingQueue {
    async fn enqueue(&self, _: &[DeliveryMessage]) -> Result<(), QueueError> {
        Ok(())
    }

    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.retries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((receipt.to_owned(), delay));
        Ok(())
    }
}

/// A queue in front of another that, once armed, enqueues only the first
/// half of the next call's messages and reports the rest as not enqueued:
/// an SQS partial failure.
pub struct PartlyFailingQueue {
    inner: Arc<dyn DeliveryQueue>,
    fail_next: AtomicBool,
}

impl PartlyFailingQueue {
    /// In front of `inner`, not armed.
    pub fn new(inner: Arc<dyn DeliveryQueue>) -> Self {
        Self {
            inner,
            fail_next: AtomicBool::new(false),
        }
    }

    /// Makes the next `enqueue` fail half-way.
    pub fn fail_next_enqueue(&self) {
        self.fail_next.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl DeliveryQueue for PartlyFailingQueue {
    async fn enqueue(&self, messages: &[DeliveryMessage]) -> Result<(), QueueError> {
        if self.fail_next.swap(false, Ordering::SeqCst) {
            let (sent, lost) = messages.split_at(messages.len() / 2);
            self.inner.enqueue(sent).await?;
            return Err(QueueError::NotEnqueued {
                failed: lost.iter().map(|m| m.message_id).collect(),
            });
        }
        self.inner.enqueue(messages).await
    }

    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.inner.retry_after(receipt, delay).await
    }
}
