//! The catalogue of event types: one partition of the endpoints table,
//! sorted by name.

use async_trait::async_trait;
use courier::event_type::{EventType, EventTypeName};
use courier::paging::{MAX_PAGE, decode_cursor};
use courier::ports::{EventTypeStore, Page, StoreError};

use super::{
    DynamoStore, Item, condition_failed, from_item, into_page, key, query_first, s, to_item,
    unavailable,
};
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
        let start = match cursor {
            Some(c) => {
                let after: EventTypeName = decode_cursor(c)?
                    .parse()
                    .map_err(|_| StoreError::InvalidCursor)?;
                Some(event_type_key(&after))
            }
            None => None,
        };
        let query = self
            .client
            .query()
            .table_name(&self.endpoints_table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":pk", s(EVENT_TYPE_PK))
            .consistent_read(true);
        let items = query_first(query, start, limit + 1)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<EventType>, _>>()?;
        Ok(into_page(items, limit, |t| t.name.to_string()))
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
