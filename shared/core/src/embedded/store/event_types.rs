//! The event-type catalogue.

use async_trait::async_trait;

use crate::event_type::{EventType, EventTypeName};
use crate::paging::{decode_cursor, encode_cursor};
use crate::ports::*;

use super::{EmbeddedStore, page_size};

#[async_trait]
impl EventTypeStore for EmbeddedStore {
    async fn create_event_type(&self, event_type: &EventType) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.event_types.contains_key(&event_type.name) {
            return Err(StoreError::AlreadyExists);
        }
        s.event_types
            .insert(event_type.name.clone(), event_type.clone());
        Ok(())
    }

    async fn event_type(&self, name: &EventTypeName) -> Result<Option<EventType>, StoreError> {
        Ok(self.lock().event_types.get(name).cloned())
    }

    async fn list_event_types(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<EventType>, StoreError> {
        let after: Option<EventTypeName> = match cursor {
            Some(c) => Some(
                decode_cursor(c)?
                    .parse()
                    .map_err(|_| StoreError::InvalidCursor)?,
            ),
            None => None,
        };
        let limit = page_size(limit);
        let s = self.lock();
        let mut items: Vec<EventType> = s
            .event_types
            .values()
            .filter(|t| after.as_ref().is_none_or(|a| &t.name > a))
            .take(limit + 1)
            .cloned()
            .collect();
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|t| encode_cursor(t.name.as_str()))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn delete_event_type(&self, name: &EventTypeName) -> Result<bool, StoreError> {
        Ok(self.lock().event_types.remove(name).is_some())
    }
}
