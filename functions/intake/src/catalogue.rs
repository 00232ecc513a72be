//! The event-type check, cached in the process: every event used to read
//! its type's item with a consistent read, one hot key shared by all
//! tenants (about 3,000 events/s per type before DynamoDB throttles it).
//!
//! Only types found are remembered, for [`KNOWN_FOR`]: a type created a
//! moment ago is read (consistently) and accepted at once, while a deleted
//! type may still be accepted by a warm instance for up to a minute, which
//! is harmless (deleting a type touches no endpoint or delivery). A cache
//! rather than an eventually consistent read, because such a read would
//! still cost one read per event and could refuse a type just created.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use courier::event_type::EventTypeName;
use courier::ports::{Store, StoreError};

/// How long a found type is taken as existing without another read.
pub const KNOWN_FOR: Duration = Duration::from_secs(60);
/// Types remembered at most (the catalogue is a platform's, not a tenant's,
/// so this is only a guard against unbounded growth).
const MAX_KNOWN: usize = 1024;

/// The catalogue as the intake sees it.
pub struct Catalogue {
    store: Arc<dyn Store>,
    known: Mutex<HashMap<EventTypeName, Instant>>,
}

impl Catalogue {
    /// A catalogue read through `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `name` is in the catalogue: from memory when it was found
    /// within [`KNOWN_FOR`], else read from the store.
    pub async fn contains(&self, name: &EventTypeName) -> Result<bool, StoreError> {
        if self
            .lock()
            .get(name)
            .is_some_and(|found| found.elapsed() < KNOWN_FOR)
        {
            return Ok(true);
        }
        let found = self.store.event_type(name).await?.is_some();
        let mut known = self.lock();
        if found {
            if known.len() >= MAX_KNOWN {
                known.clear();
            }
            known.insert(name.clone(), Instant::now());
        } else {
            known.remove(name);
        }
        Ok(found)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EventTypeName, Instant>> {
        // Plain data: a panic elsewhere cannot leave it half-written.
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use courier::embedded::EmbeddedStore;
    use courier::event_type::EventType;
    use courier::ports::EventTypeStore;
    use time::OffsetDateTime;

    #[tokio::test]
    async fn a_found_type_is_remembered_and_a_missing_one_is_read_again() {
        let store = Arc::new(EmbeddedStore::new());
        let catalogue = Catalogue::new(store.clone());
        let name: EventTypeName = "booking.created".parse().unwrap();
        assert!(!catalogue.contains(&name).await.unwrap());
        let event_type = EventType {
            name: name.clone(),
            description: String::new(),
            created_at: OffsetDateTime::now_utc(),
        };
        store.create_event_type(&event_type).await.unwrap();
        // Not remembered as missing: accepted as soon as it exists.
        assert!(catalogue.contains(&name).await.unwrap());
        // Remembered as found: no read, so the deletion is not seen yet.
        store.delete_event_type(&name).await.unwrap();
        assert!(catalogue.contains(&name).await.unwrap());
        let other: EventTypeName = "order.created".parse().unwrap();
        assert!(!catalogue.contains(&other).await.unwrap());
    }
}
