//! Rate-limit counters, and the limit as an endpoint setting.

use courier::ports::Store;
use time::OffsetDateTime;

use super::{endpoint, unique_tenant};

/// Each take of a window counts once, concurrent takes included; windows,
/// endpoints and tenants count apart; the limit round-trips and is removed.
pub async fn rate_slots_count_per_endpoint_window_and_tenant(store: &dyn Store) {
    let a = unique_tenant();
    let b = unique_tenant();
    let mut ep = endpoint(&a, &["*"]);
    ep.rate_limit_per_second = Some(5);
    store.create_endpoint(&ep).await.unwrap();
    let read = store.endpoint(&a, ep.id).await.unwrap().unwrap();
    assert_eq!(read.rate_limit_per_second, Some(5));
    let mut unlimited = read.clone();
    unlimited.rate_limit_per_second = None;
    unlimited.revision += 1;
    store.update_endpoint(&read, &unlimited).await.unwrap();
    let read = store.endpoint(&a, ep.id).await.unwrap().unwrap();
    assert_eq!(read.rate_limit_per_second, None, "null removes the limit");

    let window = courier::rate::window_of(OffsetDateTime::now_utc());
    let take = |tenant, endpoint, window| async move {
        store
            .take_rate_slot(tenant, endpoint, window)
            .await
            .unwrap()
    };
    for expected in 1..=3 {
        assert_eq!(take(&a, ep.id, window).await, expected);
    }
    // Twenty at once get the twenty next counts, each once.
    let mut counts = futures::future::join_all((0..20).map(|_| take(&a, ep.id, window))).await;
    counts.sort_unstable();
    assert_eq!(counts, (4..=23).collect::<Vec<u64>>());

    assert_eq!(take(&a, ep.id, window + 1).await, 1, "the next second");
    assert_eq!(take(&a, ep.id, window - 1).await, 1, "the previous second");
    let other = endpoint(&a, &["*"]);
    assert_eq!(take(&a, other.id, window).await, 1, "another endpoint");
    assert_eq!(take(&b, ep.id, window).await, 1, "another tenant");
    assert_eq!(take(&a, ep.id, window).await, 24);
}
