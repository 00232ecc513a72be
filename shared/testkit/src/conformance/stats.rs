//! Daily statistics.

use courier::attempt::ErrorClass;
use courier::ids::EndpointId;
use courier::ports::Store;
use courier::stats::{DailyStats, STATS_RETENTION_DAYS, StatsDelta};
use time::{Duration, OffsetDateTime};

use super::unique_tenant;

/// Counts added to a day add up (successes, failures, failures by class);
/// reads return the days in range with counts, oldest first.
pub async fn stats_add_up_per_day_and_read_by_range(store: &dyn Store) {
    let t = unique_tenant();
    let ep = EndpointId::generate();
    let today = OffsetDateTime::now_utc().date();
    let (d0, d1, d2) = (today - Duration::days(3), today - Duration::days(1), today);
    let mut a = StatsDelta::default();
    a.success();
    a.success();
    a.failure(ErrorClass::ClientError);
    let mut b = StatsDelta::default();
    b.failure(ErrorClass::ClientError);
    b.failure(ErrorClass::Timeout);
    let mut c = StatsDelta::default();
    c.failure(ErrorClass::Blocked);
    c.failure(ErrorClass::Redirect);
    store.add_stats(&t, ep, d0, &a).await.unwrap();
    store.add_stats(&t, ep, d0, &b).await.unwrap();
    store.add_stats(&t, ep, d2, &c).await.unwrap();
    store
        .add_stats(&t, EndpointId::generate(), d1, &a)
        .await
        .unwrap();

    let mut merged = a.clone();
    merged.merge(&b);
    assert_eq!(merged.failures[&ErrorClass::ClientError], 2);
    let all = store
        .daily_stats(&t, ep, d0 - Duration::days(30), d2)
        .await
        .unwrap();
    assert_eq!(
        all,
        vec![
            DailyStats {
                day: d0,
                counts: merged.clone()
            },
            DailyStats {
                day: d2,
                counts: c.clone()
            },
        ]
    );
    assert_eq!(
        store.daily_stats(&t, ep, d1, d2).await.unwrap(),
        vec![DailyStats { day: d2, counts: c }]
    );
    assert_eq!(store.daily_stats(&t, ep, d0, d0).await.unwrap().len(), 1);
    assert!(store.daily_stats(&t, ep, d1, d1).await.unwrap().is_empty());
    assert!(store.daily_stats(&t, ep, d2, d0).await.unwrap().is_empty());
    assert!(
        store
            .daily_stats(&unique_tenant(), ep, d0, d2)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Days older than the retention are not returned, even before they are removed.
pub async fn stats_past_retention_are_not_returned(store: &dyn Store) {
    let t = unique_tenant();
    let ep = EndpointId::generate();
    let today = OffsetDateTime::now_utc().date();
    let old = today - Duration::days(STATS_RETENTION_DAYS + 1);
    let kept = today - Duration::days(STATS_RETENTION_DAYS - 1);
    let mut delta = StatsDelta::default();
    delta.success();
    store.add_stats(&t, ep, old, &delta).await.unwrap();
    store.add_stats(&t, ep, kept, &delta).await.unwrap();
    let days: Vec<_> = store
        .daily_stats(&t, ep, old - Duration::days(1), today)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.day)
        .collect();
    assert_eq!(days, [kept]);
}
