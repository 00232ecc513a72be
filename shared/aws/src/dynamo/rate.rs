//! Rate-limit counters (deliveries table): one item per endpoint and
//! second, so each second's takes write an item of their own and the
//! hot-key ceiling of about 1,000 writes a second applies per window
//! (`courier::rate::MAX_RATE_LIMIT`).
//!
//! | item | pk | sk | attributes | expires |
//! |---|---|---|---|---|
//! | rate window | `RATE#{tenant}#{ep_id}#{unix second}` | `RATE` | `count` | a minute after its second |
//!
//! The stream's event source mapping lets only `LOG#` inserts through, so
//! a take invokes nothing.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use courier::ids::{EndpointId, TenantId};
use courier::ports::{RateLimits, StoreError};
use courier::rate::WINDOW_RETENTION;

use super::{DynamoStore, get_n, key, n, unavailable};
use crate::schema::TTL_ATTRIBUTE;

const COUNT: &str = "count";

fn window_key(tenant: &TenantId, endpoint: EndpointId, window: i64) -> super::Item {
    key(format!("RATE#{tenant}#{endpoint}#{window}"), "RATE".into())
}

#[async_trait]
impl RateLimits for DynamoStore {
    async fn take_rate_slot(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        window: i64,
    ) -> Result<u64, StoreError> {
        // One write unit: ADD creates the item at 1 or increments it, and
        // answers with the count every caller of this second shares.
        let expires = window + WINDOW_RETENTION.as_secs() as i64;
        let out = self
            .client
            .update_item()
            .table_name(&self.deliveries_table)
            .set_key(Some(window_key(tenant, endpoint, window)))
            .update_expression("ADD #count :one SET #exp = :exp")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n(expires))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(unavailable)?;
        out.attributes
            .as_ref()
            .and_then(|a| get_n::<u64>(a, COUNT))
            .ok_or_else(|| {
                StoreError::Unavailable("a rate window answered without its count".into())
            })
    }
}
