//! A message that cannot be parsed is never dropped: it is left on the
//! queue, made visible again at once, and reaches the dead-letter queue
//! after `maxReceiveCount` receives rather than after that many visibility
//! timeouts.

use std::sync::Arc;
use std::time::Duration;

use courier::config::Settings;
use courier::embedded::{EmbeddedQueue, EmbeddedStore, QueueSettings};
use courier_delivery::Deliverer;

#[tokio::test]
async fn unparseable_messages_reach_the_dead_letter_queue_quickly() {
    let queue = Arc::new(EmbeddedQueue::new(QueueSettings {
        visibility_timeout: Duration::from_secs(60),
        max_receives: 3,
        batch_size: 10,
    }));
    let deliverer = Deliverer::new(
        Arc::new(EmbeddedStore::new()),
        queue.clone(),
        Settings::default(),
    )
    .unwrap();
    queue.send_raw("{not a delivery".into());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while queue.dead_letters().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the poison message did not reach the DLQ"
        );
        let batch = queue.receive(10, Duration::from_millis(200)).await;
        let failed = deliverer.handle_batch(batch.clone()).await;
        assert_eq!(
            failed.len(),
            batch.len(),
            "a poison message was acknowledged"
        );
    }
    assert_eq!(queue.dead_letters(), ["{not a delivery"]);
    assert!(queue.is_empty());
}
