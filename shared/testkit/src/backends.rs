//! The backends the conformance suite runs on.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use courier::embedded::{EmbeddedQueue, EmbeddedStore, QueueSettings};
use courier::ids::TenantId;
use courier::ports::Store;
use courier_aws::{LoggedEntry, StreamAccounting};

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
    async fn queue(&self) -> Arc<dyn ReceivingQueue> {
        self.queue_with_visibility(TEST_VISIBILITY).await
    }
    /// An empty queue of its own whose messages stay invisible `visibility`
    /// after a receive unless changed.
    async fn queue_with_visibility(&self, visibility: Duration) -> Arc<dyn ReceivingQueue>;
    /// Counts `tenant`'s logged attempts into statistics and endpoint
    /// counters and circuits under `rules`, as the deployment would by now: the
    /// embedded store counted them as it logged them; on DynamoDB the
    /// delivery function counts them from the table's stream, which this
    /// reads and counts.
    async fn count_logged(&self, tenant: &TenantId, rules: &courier::circuit::HealthRules);
    /// `tenant`'s new log entries as the table's stream hands them to the
    /// delivery function, with the store that counts them; `None` on the
    /// embedded store, which counted them as it logged them.
    async fn stream_batch(&self, tenant: &TenantId) -> Option<StreamBatch>;
    /// This backend, owned (to keep in a test's harness).
    fn owned(&self) -> Box<dyn TestBackend + Send>;
}

/// A batch of the deliveries table's stream, for tests that run the
/// delivery function's stream handler.
pub struct StreamBatch {
    /// The store the handler counts with.
    pub accounting: Arc<dyn StreamAccounting>,
    /// New log entries, in stream order.
    pub entries: Vec<LoggedEntry>,
}

/// The embedded adapters.
pub struct EmbeddedTestBackend;

#[async_trait]
impl TestBackend for EmbeddedTestBackend {
    async fn store(&self) -> Arc<dyn Store> {
        Arc::new(EmbeddedStore::new())
    }

    async fn queue_with_visibility(&self, visibility: Duration) -> Arc<dyn ReceivingQueue> {
        Arc::new(EmbeddedQueue::new(QueueSettings {
            visibility_timeout: visibility,
            ..QueueSettings::default()
        }))
    }

    async fn count_logged(&self, _tenant: &TenantId, _rules: &courier::circuit::HealthRules) {}

    async fn stream_batch(&self, _tenant: &TenantId) -> Option<StreamBatch> {
        None
    }

    fn owned(&self) -> Box<dyn TestBackend + Send> {
        Box::new(Self)
    }
}

/// The AWS adapters on DynamoDB Local and moto (see [`crate::aws`]).
pub struct AwsTestBackend;

#[async_trait]
impl TestBackend for AwsTestBackend {
    async fn store(&self) -> Arc<dyn Store> {
        Arc::new(crate::aws::store().await)
    }

    async fn queue_with_visibility(&self, visibility: Duration) -> Arc<dyn ReceivingQueue> {
        Arc::new(crate::aws::queue(visibility).await)
    }

    async fn count_logged(&self, tenant: &TenantId, rules: &courier::circuit::HealthRules) {
        crate::stream::count_logged(&crate::aws::store().await, tenant, rules).await;
    }

    async fn stream_batch(&self, tenant: &TenantId) -> Option<StreamBatch> {
        let entries = crate::stream::take_logged(tenant).await;
        Some(StreamBatch {
            accounting: Arc::new(crate::aws::store().await),
            entries,
        })
    }

    fn owned(&self) -> Box<dyn TestBackend + Send> {
        Box::new(Self)
    }
}
