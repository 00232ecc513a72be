//! Delivery progress: conditional advances.

use courier::ids::MessageId;
use courier::ports::{MessageProgress, Store};
use time::{Duration, OffsetDateTime};

fn in_a_week() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::days(7)
}

fn at(attempts: u32, done: bool) -> MessageProgress {
    MessageProgress {
        attempts,
        done,
        next_attempt_at: None,
    }
}

/// Progress moves only from the count the caller saw: of two workers that
/// saw the same count, one wins.
pub async fn progress_advances_only_from_the_recorded_count(store: &dyn Store) {
    let id = MessageId::generate();
    assert_eq!(store.progress(id).await.unwrap(), None);
    assert!(
        store
            .advance_progress(id, 0, at(1, false), in_a_week())
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance_progress(id, 0, at(1, false), in_a_week())
            .await
            .unwrap()
    );
    assert_eq!(store.progress(id).await.unwrap(), Some(at(1, false)));
    // The due time of the next attempt survives, to the millisecond.
    let due = courier::event::to_millis(OffsetDateTime::now_utc() + Duration::seconds(60));
    let waiting = MessageProgress {
        next_attempt_at: Some(due),
        ..at(1, false)
    };
    let other = MessageId::generate();
    assert!(
        store
            .advance_progress(other, 0, waiting, in_a_week())
            .await
            .unwrap()
    );
    assert_eq!(store.progress(other).await.unwrap(), Some(waiting));
    assert!(
        !store
            .advance_progress(id, 2, at(3, false), in_a_week())
            .await
            .unwrap()
    );
    assert!(
        store
            .advance_progress(id, 1, at(2, true), in_a_week())
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance_progress(id, 1, at(2, true), in_a_week())
            .await
            .unwrap()
    );
    assert_eq!(store.progress(id).await.unwrap(), Some(at(2, true)));
    assert_eq!(store.progress(MessageId::generate()).await.unwrap(), None);
}

/// Expired progress is no progress: it reads as absent and counts as 0.
pub async fn expired_progress_counts_as_absent(store: &dyn Store) {
    let id = MessageId::generate();
    let past = OffsetDateTime::now_utc() - Duration::minutes(1);
    assert!(
        store
            .advance_progress(id, 0, at(1, false), past)
            .await
            .unwrap()
    );
    assert_eq!(store.progress(id).await.unwrap(), None);
    assert!(
        !store
            .advance_progress(id, 1, at(2, false), in_a_week())
            .await
            .unwrap()
    );
    assert!(
        store
            .advance_progress(id, 0, at(1, false), in_a_week())
            .await
            .unwrap()
    );
    assert_eq!(store.progress(id).await.unwrap(), Some(at(1, false)));
}
