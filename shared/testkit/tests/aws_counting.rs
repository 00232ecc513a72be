//! Counting from the deliveries table's stream on DynamoDB Local, beyond
//! the conformance suite: a stream batch that Lambda hands over again after
//! the function died part-way through it counts each entry once.

use courier::attempt::{AttemptStatus, ErrorClass};
use courier::circuit::HealthRules;
use courier::ids::{DeliveryId, MessageId};
use courier::ports::{DeliveryLog, EndpointStore, StatsStore};
use courier_aws::StreamAccounting;
use courier_testkit::conformance::{attempt, endpoint, unique_tenant};
use courier_testkit::stream::StreamReader;
use time::OffsetDateTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_counted_part_way_and_handed_over_again_counts_each_entry_once() {
    let store = courier_testkit::aws::store().await;
    let (_, deliveries) = courier_testkit::aws::tables().await;
    let mut reader = StreamReader::new(&deliveries);
    reader.read().await; // what earlier tests wrote
    let t = unique_tenant();
    let (a, b) = (endpoint(&t, &["*"]), endpoint(&t, &["*"]));
    store.create_endpoint(&a).await.unwrap();
    store.create_endpoint(&b).await.unwrap();
    let now = OffsetDateTime::now_utc();
    // Endpoint a: fail, fail, succeed, fail; endpoint b: fail × 3.
    let plan = [
        (&a, AttemptStatus::Failed),
        (&b, AttemptStatus::Failed),
        (&a, AttemptStatus::Failed),
        (&b, AttemptStatus::Failed),
        (&a, AttemptStatus::Succeeded),
        (&b, AttemptStatus::Failed),
        (&a, AttemptStatus::Failed),
    ];
    for (i, (ep, status)) in plan.iter().enumerate() {
        let mut entry = attempt(
            &t,
            ep.id,
            "booking.created",
            // A second apart: each failure started after the one before was logged.
            now + time::Duration::seconds(60 * i as i64),
        );
        let message = MessageId::generate();
        entry.message_id = message;
        entry.id = DeliveryId::for_attempt(message, 1, entry.created_at);
        entry.status = *status;
        if *status == AttemptStatus::Failed {
            entry.http_status = Some(500);
            entry.error_class = Some(ErrorClass::ServerError);
        }
        assert!(
            store
                .record_attempt(&entry, &HealthRules::default())
                .await
                .unwrap()
                .is_new()
        );
    }
    let entries: Vec<_> = reader
        .read()
        .await
        .into_iter()
        .filter(|e| e.attempt.tenant_id == t)
        .collect();
    assert_eq!(entries.len(), plan.len());
    // The function counted the first four and died; Lambda hands the whole
    // batch over again, then (a retry after a lost answer) once more.
    store
        .count_entries(&entries[..4], &HealthRules::default())
        .await
        .unwrap();
    let counted = store
        .count_entries(&entries, &HealthRules::default())
        .await
        .unwrap();
    assert_eq!(counted.entries, 3, "only the entries not counted before");
    store
        .count_entries(&entries, &HealthRules::default())
        .await
        .unwrap();

    let today = now.date();
    let totals = [(&a, (4, 1, 3)), (&b, (3, 0, 3))];
    for (ep, (attempts, succeeded, failed)) in totals {
        let stats = store.daily_stats(&t, ep.id, today, today).await.unwrap();
        let c = &stats[0].counts;
        assert_eq!(
            (c.attempts, c.succeeded, c.failed),
            (attempts, succeeded, failed)
        );
    }
    let read = |id| {
        let store = &store;
        let t = &t;
        async move { store.endpoint(t, id).await.unwrap().unwrap() }
    };
    assert_eq!(
        read(a.id).await.consecutive_failures,
        1,
        "the failure after the success"
    );
    assert_eq!(read(b.id).await.consecutive_failures, 3);
}

/// A reader that first looks at a stream with no record yet still reads
/// every entry written afterwards (DynamoDB Local refuses an iterator taken
/// on an empty shard).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_read_before_any_write_misses_nothing_after() {
    let (dynamodb, _) = courier_testkit::aws::clients(None);
    let table = courier_testkit::aws::unique_name("stream-empty");
    courier_aws::schema::create_table(&dynamodb, &table, &courier_aws::schema::DELIVERIES_TABLE)
        .await
        .unwrap();
    let mut reader = StreamReader::new(&table);
    assert!(reader.read().await.is_empty());
    let (endpoints, _) = courier_testkit::aws::tables().await;
    let store = courier_aws::DynamoStore::new(dynamodb, &endpoints, &table);
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    let entry = attempt(&t, ep.id, "booking.created", OffsetDateTime::now_utc());
    assert!(
        store
            .record_attempt(&entry, &HealthRules::default())
            .await
            .unwrap()
            .is_new()
    );
    let read = reader.read().await;
    assert_eq!(read.len(), 1, "{read:?}");
}
