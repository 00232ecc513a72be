//! The API, the delivery function and a receiver on one backend: what is
//! queued through the API is handed to `Deliverer::handle_batch` the way the
//! SQS event source mapping does, and lands at a loopback receiver.

use std::sync::Arc;
use std::time::Duration;

use courier::attempt::{DeliveryAttempt, DeliveryQuery};
use courier::config::Settings;
use courier::event::Event;
use courier::ids::{EndpointId, TenantId};
use courier::message::{DeliveryMessage, Trigger};
use courier::ports::DeliveryQueue;
use courier_delivery::Deliverer;
use courier_testkit::{Receiver, TestBackend};
use serde_json::json;

use crate::common::{Api, endpoints_path, unique_tenant};

/// How long a scenario may wait for the log entries it expects.
const PATIENCE: Duration = Duration::from_secs(30);

/// One retry after 1 s (two attempts in all), a 500 ms timeout, and
/// loopback targets allowed (the receiver listens on 127.0.0.1).
pub fn fast_settings() -> Settings {
    Settings {
        retry_schedule: "1".parse().unwrap(),
        delivery_timeout: Duration::from_millis(500),
        allow_private_targets: true,
        ..Settings::default()
    }
}

pub struct Pipeline {
    pub api: Api,
    pub deliverer: Deliverer,
    pub settings: Settings,
    pub receiver: Receiver,
    pub tenant: String,
    backend: Box<dyn TestBackend + Send>,
}

impl Pipeline {
    pub async fn new(backend: &dyn TestBackend) -> Self {
        let settings = fast_settings();
        let store = backend.store().await;
        let queue = backend.queue().await;
        let as_queue: Arc<dyn DeliveryQueue> = queue.clone();
        Self {
            deliverer: Deliverer::new(store.clone(), as_queue, settings.clone()).unwrap(),
            api: Api::with(store, queue, settings.clone()),
            settings,
            receiver: Receiver::start().await,
            tenant: unique_tenant(),
            backend: backend.owned(),
        }
    }

    /// A delivery function over the same store and queue with other settings.
    pub fn deliverer_with(&self, settings: Settings) -> Deliverer {
        let queue: Arc<dyn DeliveryQueue> = self.api.queue.clone();
        Deliverer::new(self.api.store.clone(), queue, settings).unwrap()
    }

    /// Creates an endpoint of the tenant at `url`, subscribed to `*`.
    pub async fn endpoint_at(&self, url: &str) -> String {
        let reply = self
            .api
            .post(
                &endpoints_path(&self.tenant),
                json!({ "url": url, "eventTypes": ["*"] }),
            )
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// An endpoint at the receiver.
    pub async fn endpoint(&self) -> String {
        self.endpoint_at(&self.receiver.url()).await
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant.parse().unwrap()
    }

    /// Publishes an event to one endpoint as intake does: stored, then queued.
    pub async fn publish(&self, endpoint: &str) -> Event {
        let event = courier_testkit::event(
            &self.tenant_id(),
            "booking.created",
            r#"{"bookingId":"bk_1","guests":2}"#,
        );
        self.api
            .store
            .store_event(&event, event.created_at + self.settings.retention)
            .await
            .unwrap();
        let message =
            DeliveryMessage::new(endpoint.parse().unwrap(), Trigger::Event, event.clone());
        self.api.queue.enqueue(&[message]).await.unwrap();
        event
    }

    /// One receive, handle and delete round with `deliverer`; returns the
    /// messages it handled.
    pub async fn pump_once(&self, deliverer: &Deliverer, wait: Duration) -> Vec<DeliveryMessage> {
        let batch = self.api.queue.receive(10, wait).await.unwrap();
        let messages = batch
            .iter()
            .map(|m| DeliveryMessage::from_json(&m.body).unwrap())
            .collect();
        let receipts: Vec<(String, String)> = batch
            .iter()
            .map(|m| (m.queue_message_id.clone(), m.receipt.clone()))
            .collect();
        if batch.is_empty() {
            return messages;
        }
        let failed = deliverer.handle_batch(&batch).await;
        for (id, receipt) in receipts {
            if !failed.contains(&id) {
                self.api.queue.delete(&receipt).await.unwrap();
            }
        }
        // Counted as the deployment counts them (DynamoDB: from the stream).
        let tenant = self.tenant.parse().unwrap();
        self.backend.count_logged(&tenant, deliverer.rules()).await;
        messages
    }

    /// Pumps with `deliverer` until `endpoint` has `entries` log entries;
    /// returns the messages handled on the way.
    pub async fn pump_until(
        &self,
        deliverer: &Deliverer,
        endpoint: &str,
        entries: usize,
    ) -> Vec<DeliveryMessage> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut handled = Vec::new();
        while self.log(endpoint).await.len() < entries {
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited {PATIENCE:?} for {entries} log entries; have {:?}",
                self.log(endpoint).await
            );
            handled.extend(self.pump_once(deliverer, Duration::from_secs(1)).await);
        }
        handled
    }

    /// Asserts that no message comes back, even after the retry delay.
    pub async fn assert_quiet(&self) {
        let late = self
            .pump_once(&self.deliverer, Duration::from_secs(2))
            .await;
        assert!(late.is_empty(), "unexpected deliveries: {late:?}");
    }

    /// The endpoint's log, oldest first, read from the store.
    pub async fn log(&self, endpoint: &str) -> Vec<DeliveryAttempt> {
        let query = DeliveryQuery {
            limit: 100,
            ..DeliveryQuery::default()
        };
        let id: EndpointId = endpoint.parse().unwrap();
        let mut page = self
            .api
            .store
            .recent_deliveries(&self.tenant_id(), id, &query)
            .await
            .unwrap()
            .items;
        page.reverse();
        page
    }
}
