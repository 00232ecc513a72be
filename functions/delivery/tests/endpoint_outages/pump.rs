//! Drives the delivery function as Lambda's SQS event source does under
//! load: many invocations at once (here up to `in_flight` messages, each
//! handled as soon as it is received, so a slow one holds only itself),
//! and the deliveries table's stream counted every 200 ms (scaled like the
//! retry schedule: the template's batching window is 5 s against a first
//! retry delay of 60 s), while the test publishes.

use std::sync::Arc;
use std::time::Duration;

use courier::circuit::HealthRules;
use courier::ids::TenantId;
use courier_delivery::Deliverer;
use courier_testkit::{ReceivingQueue, TestBackend};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// A running pump; stops when [`Pump::stop`] is called.
pub struct Pump {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Pump {
    /// Starts pumping `queue` through `deliverer`, counting `tenants`.
    pub fn start(
        deliverer: Arc<Deliverer>,
        queue: Arc<dyn ReceivingQueue>,
        backend: Box<dyn TestBackend + Send>,
        tenants: Vec<TenantId>,
        rules: HealthRules,
        in_flight: usize,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut until = stopped.clone();
        tasks.spawn(async move {
            let slots = Arc::new(Semaphore::new(in_flight));
            let mut handlers = JoinSet::new();
            while !*until.borrow() {
                let free = slots.available_permits().clamp(1, 10);
                let permits = tokio::select! {
                    p = slots.clone().acquire_many_owned(free as u32) => p.unwrap(),
                    _ = until.changed() => break,
                };
                let batch = match queue.receive(free, Duration::from_secs(1)).await {
                    Ok(batch) => batch,
                    Err(_) => continue,
                };
                let mut permits = permits;
                for message in batch {
                    let permit = permits.split(1).unwrap();
                    let (deliverer, queue) = (deliverer.clone(), queue.clone());
                    handlers.spawn(async move {
                        let receipt = message.receipt.clone();
                        let failed = deliverer.handle_batch(&[message]).await;
                        if failed.is_empty() {
                            let _ = queue.delete(&receipt).await;
                        }
                        drop(permit);
                    });
                }
                while handlers.try_join_next().is_some() {}
            }
            while handlers.join_next().await.is_some() {}
        });
        let mut until = stopped;
        tasks.spawn(async move {
            loop {
                for tenant in &tenants {
                    backend.count_logged(tenant, &rules).await;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = until.changed() => {}
                }
                if *until.borrow() {
                    for tenant in &tenants {
                        backend.count_logged(tenant, &rules).await;
                    }
                    return;
                }
            }
        });
        Self { stop, tasks }
    }

    /// Stops receiving, lets the messages in flight finish, counts once more.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}
