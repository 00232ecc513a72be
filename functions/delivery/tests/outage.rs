//! Outages and deadlines on both backends: an hour of store unavailability
//! played in seconds sends nothing to the dead-letter queue and loses no
//! delivery; a batch too close to its Lambda deadline starts no attempt.

mod harness;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use courier::attempt::{AttemptStatus, DeliveryAttempt, DeliveryQuery};
use courier::endpoint::Endpoint;
use courier::ids::TenantId;
use courier::message::{DeliveryMessage, Trigger};
use courier::ports::{DeliveryQueue, Store};
use courier_delivery::Deliverer;
use courier_testkit::faults::{FaultRates, Faults, FaultyStore};
use courier_testkit::{Receiver, TestBackend};
use tokio::time::Instant;

courier_testkit::backend_tests!(
    an_hour_of_store_outage_sends_nothing_to_the_dead_letter_queue,
    a_batch_near_its_deadline_starts_no_attempt
);

/// Messages come back this long after a receive unless their visibility
/// was changed.
const VISIBILITY: Duration = Duration::from_secs(2);

fn settings() -> courier::config::Settings {
    harness::fast_settings()
}

/// An endpoint's log (up to 100 entries), newest first.
async fn whole_log(store: &dyn Store, tenant: &TenantId, ep: &Endpoint) -> Vec<DeliveryAttempt> {
    let query = DeliveryQuery {
        limit: 100,
        ..DeliveryQuery::default()
    };
    store
        .recent_deliveries(tenant, ep.id, &query)
        .await
        .unwrap()
        .items
}

/// An hour of DynamoDB unavailability, played at 1 s = 5 ms: the waits
/// after faults grow to 15 "minutes", so the messages spend a handful of
/// their 100 receives, none reaches the dead-letter queue, and every
/// delivery is made once the store is back.
async fn an_hour_of_store_outage_sends_nothing_to_the_dead_letter_queue(b: &dyn TestBackend) {
    const SCALE_MS: u64 = 5;
    let hour = Duration::from_millis(3600 * SCALE_MS);
    let store = b.store().await;
    let queue = b.queue_with_visibility(VISIBILITY).await;
    let faults = Faults::new(0, FaultRates::NONE);
    let faulty_store: Arc<dyn Store> = Arc::new(FaultyStore::new(store.clone(), faults.clone()));
    let plain_queue: Arc<dyn DeliveryQueue> = queue.clone();
    let deliverer = Deliverer::new(faulty_store, plain_queue, settings())
        .unwrap()
        .with_fault_backoff_unit(Duration::from_millis(SCALE_MS));
    let receiver = Receiver::start().await;
    let tenant = courier_testkit::unique_tenant();
    let ep = courier_testkit::endpoint_at(&tenant, &receiver.url(), &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let messages: Vec<DeliveryMessage> = (0..30)
        .map(|n| {
            let event =
                courier_testkit::event(&tenant, "booking.created", &format!("{{\"n\":{n}}}"));
            DeliveryMessage::new(ep.id, Trigger::Event, event)
        })
        .collect();
    queue.enqueue(&messages).await.unwrap();
    faults.set_outage(true);
    let outage_ends = Instant::now() + hour;
    let mut max_receives = 0;
    let deadline = outage_ends + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "deliveries did not finish after the outage"
        );
        if Instant::now() >= outage_ends {
            faults.set_outage(false);
        }
        let batch = queue.receive(10, Duration::from_millis(200)).await.unwrap();
        max_receives = batch
            .iter()
            .map(|m| m.receive_count)
            .max()
            .unwrap_or(0)
            .max(max_receives);
        let receipts: Vec<(String, String)> = batch
            .iter()
            .map(|m| (m.queue_message_id.clone(), m.receipt.clone()))
            .collect();
        if !batch.is_empty() {
            let failed = deliverer.handle_batch(&batch).await;
            for (id, receipt) in receipts {
                if !failed.contains(&id) {
                    queue.delete(&receipt).await.unwrap();
                }
            }
        }
        let log = whole_log(&*store, &tenant, &ep).await;
        if log.len() == messages.len() && Instant::now() >= outage_ends {
            assert!(
                log.iter()
                    .all(|e| e.status == AttemptStatus::Succeeded && e.attempt == 1)
            );
            break;
        }
    }
    assert!(receiver.requests().len() >= messages.len());
    let ids: BTreeSet<String> = receiver
        .requests()
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    assert_eq!(
        ids.len(),
        messages.len(),
        "every event reached the receiver"
    );
    assert_eq!(queue.dead_letters().await.unwrap(), Vec::<String>::new());
    println!(
        "a scaled hour of store outage: at most {max_receives} receives of a message (redrive at {}), \
         faults: {:?}",
        courier::policy::MAX_RECEIVES,
        faults.injected()
    );
    assert!(max_receives < 30, "{max_receives} receives");
}

/// With less time left than an attempt and its logging take, the batch
/// starts no attempt: its messages come back soon, none is POSTed half-way.
async fn a_batch_near_its_deadline_starts_no_attempt(b: &dyn TestBackend) {
    let store = b.store().await;
    let queue = b.queue_with_visibility(VISIBILITY).await;
    let plain_queue: Arc<dyn DeliveryQueue> = queue.clone();
    let deliverer = Deliverer::new(store.clone(), plain_queue, settings()).unwrap();
    let receiver = Receiver::start().await;
    let tenant = courier_testkit::unique_tenant();
    let ep = courier_testkit::endpoint_at(&tenant, &receiver.url(), &["*"]);
    store.create_endpoint(&ep).await.unwrap();
    let event = courier_testkit::event(&tenant, "booking.created", "{}");
    let message = DeliveryMessage::new(ep.id, Trigger::Event, event);
    queue.enqueue(std::slice::from_ref(&message)).await.unwrap();
    let batch = queue.receive(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(batch.len(), 1);
    let id = batch[0].queue_message_id.clone();
    let soon = Instant::now() + Duration::from_secs(5);
    assert_eq!(deliverer.handle_batch_until(&batch, Some(soon)).await, [id]);
    assert!(receiver.requests().is_empty(), "no attempt was started");
    assert!(whole_log(&*store, &tenant, &ep).await.is_empty());
    // It comes back within seconds (not the queue's visibility) and is
    // delivered by an invocation with time to spare.
    let again = queue.receive(10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(again.len(), 1, "back after the short fault wait");
    let later = Instant::now() + Duration::from_secs(60);
    assert!(
        deliverer
            .handle_batch_until(&again, Some(later))
            .await
            .is_empty()
    );
    assert_eq!(receiver.requests().len(), 1);
}
