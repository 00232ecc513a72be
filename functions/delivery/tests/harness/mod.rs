//! Drives the delivery function the way the SQS event source mapping does:
//! receive a batch, hand it to `Deliverer::handle_batch`, delete what the
//! batch response did not name, leave the rest to come back.

// Each test binary uses a part of the harness.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use courier::attempt::{DeliveryAttempt, DeliveryQuery};
use courier::config::Settings;
use courier::endpoint::Endpoint;
use courier::event::Event;
use courier::ids::TenantId;
use courier::message::{DeliveryMessage, Trigger};
use courier::ports::{DeliveryQueue, Store};
use courier_delivery::Deliverer;
use courier_testkit::{Receiver, ReceivingQueue, TestBackend};

pub struct Harness {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn ReceivingQueue>,
    pub deliverer: Deliverer,
    pub receiver: Receiver,
    pub tenant: TenantId,
    pub backend: Box<dyn TestBackend + Send>,
    pub rules: courier::circuit::HealthRules,
}

/// Settings with a fast schedule (`1,2`), a 1 s timeout, and loopback allowed.
pub fn fast_settings() -> Settings {
    Settings {
        retry_schedule: "1,2".parse().unwrap(),
        delivery_timeout: Duration::from_millis(1000),
        allow_private_targets: true,
        ..Settings::default()
    }
}

impl Harness {
    pub async fn new(backend: &dyn TestBackend, settings: Settings) -> Self {
        let store = backend.store().await;
        let queue = backend.queue().await;
        let as_queue: Arc<dyn DeliveryQueue> = queue.clone();
        let rules = settings.health_rules();
        let deliverer = Deliverer::new(store.clone(), as_queue, settings).unwrap();
        let tenant = courier_testkit::unique_tenant();
        Self {
            store,
            queue,
            deliverer,
            receiver: Receiver::start().await,
            tenant,
            backend: backend.owned(),
            rules,
        }
    }

    /// An enabled endpoint of the harness tenant pointing at the receiver.
    pub async fn endpoint(&self) -> Endpoint {
        self.endpoint_at(&self.receiver.url()).await
    }

    pub async fn endpoint_at(&self, url: &str) -> Endpoint {
        let ep = courier_testkit::endpoint_at(&self.tenant, url, &["*"]);
        self.store.create_endpoint(&ep).await.unwrap();
        ep
    }

    pub fn event(&self) -> Event {
        courier_testkit::event(
            &self.tenant,
            "booking.created",
            r#"{"bookingId":"bk_1","guests":2}"#,
        )
    }

    /// Enqueues a fresh event for `ep`.
    pub async fn enqueue(&self, ep: &Endpoint) -> DeliveryMessage {
        let message = DeliveryMessage::new(ep.id, Trigger::Event, self.event());
        self.queue
            .enqueue(std::slice::from_ref(&message))
            .await
            .unwrap();
        message
    }

    /// Plays one receive → handle → delete round; returns messages handled.
    pub async fn pump_once(&self, wait: Duration) -> usize {
        let batch = self.queue.receive(10, wait).await.unwrap();
        let n = batch.len();
        if n == 0 {
            return 0;
        }
        let receipts: Vec<(String, String)> = batch
            .iter()
            .map(|m| (m.queue_message_id.clone(), m.receipt.clone()))
            .collect();
        let failed = self.deliverer.handle_batch(&batch).await;
        for (id, receipt) in receipts {
            if !failed.contains(&id) {
                self.queue.delete(&receipt).await.unwrap();
            }
        }
        self.count().await;
        n
    }

    /// Pumps until `log_len` entries exist for `ep` and the queue has stayed
    /// quiet for `quiet`, or panics after `timeout`.
    pub async fn pump_until(
        &self,
        ep: &Endpoint,
        log_len: usize,
        quiet: Duration,
        timeout: Duration,
    ) -> Vec<DeliveryAttempt> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut quiet_since: Option<tokio::time::Instant> = None;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {log_len} log entries; have {:?}",
                self.log(ep).await.len()
            );
            let handled = self.pump_once(Duration::from_secs(1)).await;
            let log = self.log(ep).await;
            if handled > 0 || log.len() < log_len {
                quiet_since = None;
                continue;
            }
            let since = *quiet_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= quiet {
                return log;
            }
        }
    }

    /// Counts what was logged into statistics and counters, as the
    /// deployment does (on DynamoDB: from the table's stream, through the
    /// delivery function's stream handler, operational webhooks included).
    pub async fn count(&self) {
        self.count_tenant(&self.tenant).await;
    }

    /// [`Self::count`] for `tenant`'s deliveries.
    pub async fn count_tenant(&self, tenant: &TenantId) {
        if let Some(batch) = self.backend.stream_batch(tenant).await
            && !batch.entries.is_empty()
        {
            let operations = self.deliverer.operations();
            courier_delivery::count_and_report(
                &*batch.accounting,
                operations,
                &batch.entries,
                &self.rules,
            )
            .await
            .expect("counting and reporting logged attempts");
        }
    }

    /// The endpoint's log, oldest first.
    pub async fn log(&self, ep: &Endpoint) -> Vec<DeliveryAttempt> {
        let query = DeliveryQuery {
            limit: 100,
            ..DeliveryQuery::default()
        };
        let mut page = self
            .store
            .recent_deliveries(&self.tenant, ep.id, &query)
            .await
            .unwrap()
            .items;
        page.reverse();
        page
    }

    pub async fn reload(&self, ep: &Endpoint) -> Endpoint {
        self.store
            .endpoint(&self.tenant, ep.id)
            .await
            .unwrap()
            .unwrap()
    }
}
