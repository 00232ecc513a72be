use super::*;

fn queue(visibility_ms: u64, max_receives: u32) -> EmbeddedQueue {
    EmbeddedQueue::new(QueueSettings {
        visibility_timeout: Duration::from_millis(visibility_ms),
        max_receives,
        batch_size: 10,
    })
}

#[tokio::test]
async fn received_messages_reappear_after_the_visibility_timeout() {
    let q = queue(200, 10);
    q.send_raw("a".into());
    let first = q.receive(10, Duration::ZERO).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    assert!(q.receive(10, Duration::from_millis(50)).await.is_empty());
    let again = q.receive(10, Duration::from_secs(2)).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].receive_count, 2);
    assert_ne!(again[0].receipt, first[0].receipt);
    // The first receipt is stale now.
    assert!(q.delete(&first[0].receipt).is_err());
    q.delete(&again[0].receipt).unwrap();
    assert!(q.is_empty());
}

#[tokio::test]
async fn a_batch_delete_skips_stale_and_invalid_receipts() {
    let q = queue(200, 10);
    for body in ["a", "b", "c"] {
        q.send_raw(body.into());
    }
    let first = q.receive(10, Duration::ZERO).await;
    assert_eq!(first.len(), 3);
    // "a" comes back: its first receipt is stale.
    q.retry_after(&first[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    let again = q.receive(1, Duration::from_secs(1)).await;
    assert_eq!(&*again[0].body, "a");
    let receipts = [
        first[0].receipt.as_str(),
        first[1].receipt.as_str(),
        "nonsense",
    ];
    assert_eq!(q.delete_batch(receipts), 1, "only b's receipt is current");
    assert_eq!(q.len(), 2);
    assert_eq!(
        q.delete_batch([again[0].receipt.as_str(), first[2].receipt.as_str()]),
        2
    );
    assert!(q.is_empty());
}

#[tokio::test]
async fn retry_after_sets_the_next_visibility() {
    let q = queue(60_000, 10);
    q.send_raw("a".into());
    let m = q.receive(10, Duration::ZERO).await.remove(0);
    q.retry_after(&m.receipt, Duration::from_millis(100))
        .await
        .unwrap();
    let started = Instant::now();
    let back = q.receive(10, Duration::from_secs(2)).await;
    assert_eq!(back.len(), 1);
    assert!(started.elapsed() >= Duration::from_millis(90));
}

#[tokio::test]
async fn messages_received_too_often_go_to_the_dead_letter_list() {
    let q = queue(10, 2);
    q.send_raw("poison".into());
    for _ in 0..2 {
        assert_eq!(q.receive(10, Duration::from_secs(1)).await.len(), 1);
    }
    assert!(q.receive(10, Duration::from_millis(100)).await.is_empty());
    assert_eq!(q.dead_letters(), vec!["poison".to_string()]);
    assert!(q.is_empty());
}

#[tokio::test]
async fn consumer_deletes_all_but_the_failed_messages() {
    let q = Arc::new(queue(100, 10));
    q.send_raw("ok".into());
    q.send_raw("fail".into());
    let (tx, rx) = watch::channel(false);
    let consumer = tokio::spawn(Consumer::new(q.clone()).run(
        |batch: Vec<ReceivedMessage>| async move {
            batch
                .into_iter()
                .filter(|m| &*m.body == "fail")
                .map(|m| m.queue_message_id)
                .collect()
        },
        rx,
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.send(true).unwrap();
    consumer.await.unwrap();
    assert_eq!(q.len(), 1);
}
