//! An in-process queue with SQS semantics: a received message stays
//! invisible for the visibility timeout and comes back unless deleted; each
//! receive increments its receive count and issues a new receipt handle; a
//! message received more than `max_receives` times moves to a dead-letter
//! list. Includes the consumer loop the local server runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::message::{DeliveryMessage, ReceivedMessage};
use crate::ports::{DeliveryQueue, QueueError};

/// Queue behaviour; the defaults mirror the SAM template.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// How long a received message stays hidden unless changed.
    pub visibility_timeout: Duration,
    /// Receives after which a message goes to the dead-letter list.
    pub max_receives: u32,
    /// Most messages handed out per receive (SQS: 10).
    pub batch_size: usize,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(60),
            max_receives: crate::policy::MAX_RECEIVES,
            batch_size: 10,
        }
    }
}

struct Queued {
    body: Arc<str>,
    visible_at: Instant,
    receive_count: u32,
    /// The receive that handed it out last (`{seq}:{receipt}` is its handle).
    receipt: Option<u64>,
}

#[derive(Default)]
struct QueueState {
    messages: BTreeMap<u64, Queued>,
    next_seq: u64,
    next_receipt: u64,
    dead: Vec<String>,
}

/// The embedded delivery queue.
pub struct EmbeddedQueue {
    state: Mutex<QueueState>,
    arrived: Notify,
    settings: QueueSettings,
}

impl EmbeddedQueue {
    /// An empty queue.
    pub fn new(settings: QueueSettings) -> Self {
        Self {
            state: Mutex::new(QueueState::default()),
            arrived: Notify::new(),
            settings,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a raw body (tests use it to enqueue unparseable messages).
    pub fn send_raw(&self, body: String) {
        let mut s = self.lock();
        let seq = s.next_seq;
        s.next_seq += 1;
        s.messages.insert(
            seq,
            Queued {
                body: body.into(),
                visible_at: Instant::now(),
                receive_count: 0,
                receipt: None,
            },
        );
        drop(s);
        self.arrived.notify_waiters();
    }

    /// Receives up to `max` visible messages, waiting up to `wait` for one.
    pub async fn receive(&self, max: usize, wait: Duration) -> Vec<ReceivedMessage> {
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.arrived.notified();
            let (batch, next_visible) = self.take_visible(max);
            if !batch.is_empty() {
                return batch;
            }
            let until = next_visible.map_or(deadline, |v| v.min(deadline));
            if Instant::now() >= deadline {
                return batch;
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }

    fn take_visible(&self, max: usize) -> (Vec<ReceivedMessage>, Option<Instant>) {
        let now = Instant::now();
        let mut s = self.lock();
        // Under the lock only what marks the messages taken; their copies
        // are made after it, as every delivery of the process waits on it.
        let mut taken: Vec<(u64, u64, Arc<str>, u32)> =
            Vec::with_capacity(max.min(s.messages.len()));
        let mut next_visible: Option<Instant> = None;
        let mut dead = Vec::new();
        let visibility = self.settings.visibility_timeout;
        let mut receipt_seq = s.next_receipt;
        for (seq, m) in s.messages.iter_mut() {
            if m.visible_at > now {
                next_visible = Some(next_visible.map_or(m.visible_at, |v| v.min(m.visible_at)));
                continue;
            }
            if taken.len() >= max {
                break;
            }
            // SQS moves a message to the DLQ when a receive would exceed maxReceiveCount.
            if m.receive_count >= self.settings.max_receives {
                dead.push(*seq);
                continue;
            }
            m.receive_count += 1;
            receipt_seq += 1;
            m.receipt = Some(receipt_seq);
            m.visible_at = now + visibility;
            taken.push((*seq, receipt_seq, m.body.clone(), m.receive_count));
        }
        s.next_receipt = receipt_seq;
        for seq in dead {
            if let Some(m) = s.messages.remove(&seq) {
                s.dead.push(m.body.to_string());
            }
        }
        drop(s);
        let out = taken
            .into_iter()
            .map(|(seq, receipt, body, receive_count)| {
                let queue_message_id = seq.to_string();
                // "<seq>:<n>", sized once: two u64s are at most 41 bytes.
                let mut handle = String::with_capacity(41);
                handle.push_str(&queue_message_id);
                let _ = write!(handle, ":{receipt}");
                ReceivedMessage {
                    queue_message_id,
                    receipt: handle,
                    body,
                    receive_count,
                }
            })
            .collect();
        (out, next_visible)
    }

    fn with_receipt<T>(
        &self,
        receipt: &str,
        f: impl FnOnce(&mut QueueState, u64) -> T,
    ) -> Result<T, QueueError> {
        let Some((seq, n)) = parse_receipt(receipt) else {
            return Err(QueueError::Unavailable(format!(
                "invalid receipt handle '{receipt}'"
            )));
        };
        let mut s = self.lock();
        if !s.holds(seq, n) {
            return Err(QueueError::Unavailable(format!(
                "receipt handle '{receipt}' is no longer valid"
            )));
        }
        Ok(f(&mut s, seq))
    }

    /// Deletes a received message (acknowledges it).
    pub fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.with_receipt(receipt, |s, seq| {
            s.messages.remove(&seq);
        })
    }

    /// Deletes the received messages of a batch under one lock, as the SQS
    /// event source deletes a batch with one `DeleteMessageBatch`. A stale
    /// or invalid receipt is skipped, as SQS refuses that entry alone;
    /// returns how many messages were deleted.
    pub fn delete_batch<'a>(&self, receipts: impl IntoIterator<Item = &'a str>) -> usize {
        let parsed: Vec<(u64, u64)> = receipts.into_iter().filter_map(parse_receipt).collect();
        let mut s = self.lock();
        let mut deleted = 0;
        for (seq, n) in parsed {
            if s.holds(seq, n) {
                s.messages.remove(&seq);
                deleted += 1;
            }
        }
        deleted
    }

    /// Messages not yet deleted, visible or not.
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    /// True when no message is waiting or in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bodies moved to the dead-letter list.
    pub fn dead_letters(&self) -> Vec<String> {
        self.lock().dead.clone()
    }
}

impl QueueState {
    /// True when receive `n` of message `seq` is the one that holds it
    /// (its receipt is not stale).
    fn holds(&self, seq: u64, n: u64) -> bool {
        self.messages
            .get(&seq)
            .is_some_and(|m| m.receipt == Some(n))
    }
}

/// A receipt handle's message and receive (`{seq}:{receive}`).
fn parse_receipt(receipt: &str) -> Option<(u64, u64)> {
    let (seq, n) = receipt.split_once(':')?;
    Some((seq.parse().ok()?, n.parse().ok()?))
}

#[async_trait]
impl DeliveryQueue for EmbeddedQueue {
    async fn enqueue(&self, messages: &[DeliveryMessage]) -> Result<(), QueueError> {
        for m in messages {
            self.send_raw(m.to_json());
        }
        Ok(())
    }

    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.with_receipt(receipt, |s, seq| {
            if let Some(m) = s.messages.get_mut(&seq) {
                m.visible_at = Instant::now() + delay;
            }
        })?;
        // Wake receivers so they re-plan their wait around the new time.
        self.arrived.notify_waiters();
        Ok(())
    }
}

/// Batches a [`Consumer`] handles at once, as the template's default
/// `DeliveryMaxConcurrency` (50) lets Lambda run: a batch waiting on a slow
/// receiver holds only its own slot while the others keep receiving.
pub const BATCHES_IN_FLIGHT: usize = 50;

/// Plays the SQS event source mapping for the embedded queue: receives
/// batches, hands each to a handler (up to [`BATCHES_IN_FLIGHT`] at once),
/// deletes the messages the handler did not report as failed.
pub struct Consumer {
    queue: Arc<EmbeddedQueue>,
}

impl Consumer {
    /// A consumer of `queue`.
    pub fn new(queue: Arc<EmbeddedQueue>) -> Self {
        Self { queue }
    }

    /// Runs until `shutdown` turns true, then lets the batches in hand
    /// finish. `handler` returns the `queue_message_id`s of failed
    /// messages, like `ReportBatchItemFailures`.
    pub async fn run<F, Fut>(self, handler: F, mut shutdown: watch::Receiver<bool>)
    where
        F: Fn(Vec<ReceivedMessage>) -> Fut,
        Fut: Future<Output = Vec<String>> + Send + 'static,
    {
        let batch_size = self.queue.settings.batch_size;
        let slots = Arc::new(tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT));
        let mut running = tokio::task::JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let slot = tokio::select! {
                s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
                _ = shutdown.changed() => break,
            };
            let batch = tokio::select! {
                b = self.queue.receive(batch_size, Duration::from_secs(1)) => b,
                _ = shutdown.changed() => break,
            };
            while running.try_join_next().is_some() {}
            if batch.is_empty() {
                continue;
            }
            let receipts: Vec<(String, String)> = batch
                .iter()
                .map(|m| (m.queue_message_id.clone(), m.receipt.clone()))
                .collect();
            let handled = handler(batch);
            let queue = self.queue.clone();
            running.spawn(async move {
                let failed = handled.await;
                // A stale receipt means the message came back already; SQS
                // would also refuse that delete, so it is not an error here.
                queue.delete_batch(
                    receipts
                        .iter()
                        .filter(|(id, _)| !failed.contains(id))
                        .map(|(_, receipt)| receipt.as_str()),
                );
                drop(slot);
            });
        }
        while running.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests;
