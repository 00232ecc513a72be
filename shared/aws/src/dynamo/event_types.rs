//! The catalogue of event types: one partition of the endpoints table,
//! sorted by name.

use async_trait::async_trait;
use courier::event_type::{EventType, EventTypeName};
use courier::paging::{MAX_PAGE, decode_cursor, encode_cursor};
use courier::ports::{EventTypeStore, Page, StoreError};

use super::{DynamoStore, Item, condition_failed, from_item, key, s, to_item, unavailable};
use crate::schema::PARTITION_KEY;

const EVENT_TYPE_PK: &str = "EVENTTYPE";

fn event_type_key(name: &EventTypeName) -> Item {
    key(EVENT_TYPE_PK.to_owned(), name.to_string())
}

#[async_trait]
impl EventTypeStore for DynamoStore {
    async fn create_event_type(&self, event_type: &EventType) -> Result<(), StoreError> {
        let mut item = to_item(event_type)?;
        item.extend(event_type_key(&event_type.name));
        match self
            .client
            .put_item()
            .table_name(&self.endpoints_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::AlreadyExists),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn event_type(&self, name: &EventTypeName) -> Result<Option<EventType>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.endpoints_table)
            .set_key(Some(event_type_key(name)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.map(from_item).transpose()
    }

    async fn list_event_types(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<EventType>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let mut start = match cursor {
            Some(c) => {
                let after: EventTypeName = decode_cursor(c)?
                    .parse()
                    .map_err(|_| StoreError::InvalidCursor)?;
                Some(event_type_key(&after))
            }
            None => None,
        };
        let mut items: Vec<EventType> = Vec::new();
        // One more than a page tells whether there is a next page.
        while items.len() <= limit {
            let out = self
                .client
                .query()
                .table_name(&self.endpoints_table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_values(":pk", s(EVENT_TYPE_PK))
                .limit((limit + 1 - items.len()) as i32)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items.unwrap_or_default() {
                items.push(from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|t| encode_cursor(t.name.as_str()))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn delete_event_type(&self, name: &EventTypeName) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.endpoints_table)
            .set_key(Some(event_type_key(name)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}
