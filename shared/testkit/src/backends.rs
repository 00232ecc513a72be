//! The backends the conformance suite runs on.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use courier::embedded::{EmbeddedQueue, EmbeddedStore, QueueSettings};
use courier::ports::Store;

use crate::queue::ReceivingQueue;

/// Visibility timeout of test queues: short, yet far longer than the
/// delays the queue tests wait for, so a message cannot come back early.
pub const TEST_VISIBILITY: Duration = Duration::from_secs(10);

/// Makes a fresh store or queue for one test.
#[async_trait]
pub trait TestBackend: Sync {
    /// A store; may share tables with other tests (they use their own tenants).
    async fn store(&self) -> Arc<dyn Store>;
    /// An empty queue of its own, with [`TEST_VISIBILITY`].
    async fn queue(&self) -> Arc<dyn ReceivingQueue>;
}

/// The embedded adapters.
pub struct EmbeddedTestBackend;

#[async_trait]
impl TestBackend for EmbeddedTestBackend {
    async fn store(&self) -> Arc<dyn Store> {
        Arc::new(EmbeddedStore::new())
    }

    async fn queue(&self) -> Arc<dyn ReceivingQueue> {
        Arc::new(EmbeddedQueue::new(QueueSettings {
            visibility_timeout: TEST_VISIBILITY,
            ..QueueSettings::default()
        }))
    }
}

/// The AWS adapters on DynamoDB Local and moto (see [`crate::aws`]).
pub struct AwsTestBackend;

#[async_trait]
impl TestBackend for AwsTestBackend {
    async fn store(&self) -> Arc<dyn Store> {
        Arc::new(crate::aws::store().await)
    }

    async fn queue(&self) -> Arc<dyn ReceivingQueue> {
        Arc::new(crate::aws::queue(TEST_VISIBILITY).await)
    }
}
