//! Progress of each queued delivery, so attempt numbers survive SQS
//! redeliveries and duplicates (deliveries table).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use courier::ids::MessageId;
use courier::paging::unix_seconds;
use courier::ports::{DeliveryProgress, MessageProgress, StoreError};
use time::OffsetDateTime;

use super::{DynamoStore, Item, condition_failed, get_n, key, n, now_secs, unavailable, unexpired};
use crate::schema::{PARTITION_KEY, TTL_ATTRIBUTE};

const PROGRESS_SK: &str = "PROGRESS";
/// When the next attempt is due, in milliseconds since the epoch.
const NEXT_ATTEMPT_MS: &str = "nextAttemptMs";

fn progress_key(id: MessageId) -> Item {
    key(format!("MSG#{id}"), PROGRESS_SK.to_owned())
}

#[async_trait]
impl DeliveryProgress for DynamoStore {
    async fn progress(&self, id: MessageId) -> Result<Option<MessageProgress>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.deliveries_table)
            .set_key(Some(progress_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item.filter(unexpired).map(|item| MessageProgress {
            attempts: get_n(&item, "attempts").unwrap_or(0),
            done: item
                .get("done")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            next_attempt_at: get_n::<i64>(&item, NEXT_ATTEMPT_MS).and_then(|ms| {
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
            }),
        }))
    }

    async fn advance_progress(
        &self,
        id: MessageId,
        previous_attempts: u32,
        progress: MessageProgress,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut item = progress_key(id);
        item.extend([
            ("attempts".to_owned(), n(progress.attempts)),
            ("done".to_owned(), AttributeValue::Bool(progress.done)),
            (TTL_ATTRIBUTE.to_owned(), n(unix_seconds(expires_at))),
        ]);
        if let Some(due) = progress.next_attempt_at {
            let ms = (due.unix_timestamp_nanos() / 1_000_000) as i64;
            item.insert(NEXT_ATTEMPT_MS.to_owned(), n(ms));
        }
        // An expired record counts as absent, i.e. as 0 attempts.
        let condition = if previous_attempts == 0 {
            "attribute_not_exists(#pk) OR #exp <= :now OR #att = :prev"
        } else {
            "#att = :prev AND #exp > :now"
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.deliveries_table)
            .set_item(Some(item))
            .condition_expression(condition)
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_names("#att", "attempts")
            .expression_attribute_values(":now", n(now_secs()))
            .expression_attribute_values(":prev", n(previous_attempts));
        let put = if previous_attempts == 0 {
            put.expression_attribute_names("#pk", PARTITION_KEY)
        } else {
            put
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }
}
