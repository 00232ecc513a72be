//! The delivery log: one item per attempt under its endpoint's partition,
//! sorted by the time-ordered delivery id (deliveries table).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use courier::attempt::{DeliveryAttempt, DeliveryQuery, StatusFilter};
use courier::ids::{DeliveryId, EndpointId, TenantId};
use courier::paging::{MAX_PAGE, decode_cursor, encode_cursor, ulid_floor, unix_seconds};
use courier::ports::{DeliveryLog, Page, StoreError};
use ulid::Ulid;

use super::{
    DynamoStore, Item, build, condition_failed, from_item, into_page, key, n, now_secs, s, to_item,
    unavailable, unexpired,
};
use crate::schema::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};

/// The entry's exact expiry; `expiresAt` holds it in whole seconds for TTL.
const EXPIRES_AT_RFC3339: &str = "expiresAtRfc3339";
/// BatchWriteItem's limit.
const BATCH: usize = 25;
/// Rounds of resending unprocessed items (throttling) before giving up.
const MAX_BATCH_TRIES: u32 = 8;
/// Largest page a filtered read asks for at once.
const MAX_READ: i32 = 1000;
/// Queries one page may spend. A filter that matches little in a busy
/// endpoint's log would otherwise read days of entries in one API call; past
/// this budget the page is returned short, with a cursor that resumes where
/// reading stopped.
const MAX_QUERIES_PER_PAGE: usize = 8;

/// Partition keys of log entries start with this.
pub(super) const LOG_PREFIX: &str = "LOG#";

fn log_pk(tenant: &TenantId, endpoint: EndpointId) -> String {
    format!("{LOG_PREFIX}{tenant}#{endpoint}")
}

fn attempt_item(a: &DeliveryAttempt) -> Result<Item, StoreError> {
    let mut item = to_item(a)?;
    if let Some(exact) = item.remove(TTL_ATTRIBUTE) {
        item.insert(EXPIRES_AT_RFC3339.into(), exact);
    }
    item.insert(TTL_ATTRIBUTE.into(), n(unix_seconds(a.expires_at)));
    item.extend(key(log_pk(&a.tenant_id, a.endpoint_id), a.id.to_string()));
    Ok(item)
}

pub(super) fn attempt_from_item(mut item: Item) -> Result<DeliveryAttempt, StoreError> {
    if let Some(exact) = item.remove(EXPIRES_AT_RFC3339) {
        item.insert(TTL_ATTRIBUTE.into(), exact);
    }
    from_item(item)
}

fn empty() -> Page<DeliveryAttempt> {
    Page {
        items: vec![],
        next_cursor: None,
    }
}

impl DynamoStore {
    /// Writes up to 25 items, resending what DynamoDB leaves unprocessed.
    async fn write_batch(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let mut requests: Vec<WriteRequest> = Vec::with_capacity(items.len());
        for item in items {
            let put = build(PutRequest::builder().set_item(Some(item)).build())?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        for round in 0..MAX_BATCH_TRIES {
            if round > 0 {
                // Unprocessed items mean throttling: back off exponentially.
                tokio::time::sleep(Duration::from_millis(25 << round)).await;
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.deliveries_table, requests)
                .send()
                .await
                .map_err(unavailable)?;
            requests = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.deliveries_table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(format!(
            "{} log entries stayed unprocessed after {MAX_BATCH_TRIES} tries",
            requests.len()
        )))
    }
}

#[async_trait]
impl DeliveryLog for DynamoStore {
    async fn record_attempt(
        &self,
        attempt: &DeliveryAttempt,
        _disable_after: u32,
    ) -> Result<bool, StoreError> {
        // Counted later from the table's stream (see the accounting module),
        // by the delivery function with its own DISABLE_AFTER_FAILURES.
        let put = self
            .client
            .put_item()
            .table_name(&self.deliveries_table)
            .set_item(Some(attempt_item(attempt)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn find_attempt(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryAttempt>, StoreError> {
        // Eventually consistent (half the read units): a miss of an entry
        // written a moment ago costs at most a repeated POST, whose entry
        // then fails its condition and is logged once.
        let out = self
            .client
            .get_item()
            .table_name(&self.deliveries_table)
            .set_key(Some(key(log_pk(tenant, endpoint), id.to_string())))
            .send()
            .await
            .map_err(unavailable)?;
        out.item.map(attempt_from_item).transpose()
    }

    async fn record_attempts(&self, attempts: &[DeliveryAttempt]) -> Result<(), StoreError> {
        // A batch may not name one key twice; the last write of a key wins,
        // as it would with separate puts.
        let mut position: HashMap<(String, String), usize> = HashMap::new();
        let mut items: Vec<Item> = Vec::with_capacity(attempts.len());
        for a in attempts {
            let k = (log_pk(&a.tenant_id, a.endpoint_id), a.id.to_string());
            let item = attempt_item(a)?;
            match position.get(&k) {
                Some(&i) => items[i] = item,
                None => {
                    position.insert(k, items.len());
                    items.push(item);
                }
            }
        }
        while !items.is_empty() {
            let rest = items.split_off(items.len().min(BATCH));
            self.write_batch(items).await?;
            items = rest;
        }
        Ok(())
    }

    async fn delivery(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryAttempt>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.deliveries_table)
            .set_key(Some(key(log_pk(tenant, endpoint), id.to_string())))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item
            .filter(unexpired)
            .map(attempt_from_item)
            .transpose()
    }

    async fn recent_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        query: &DeliveryQuery,
    ) -> Result<Page<DeliveryAttempt>, StoreError> {
        let before: Option<DeliveryId> = match &query.cursor {
            Some(c) => Some(
                decode_cursor(c)?
                    .parse()
                    .map_err(|_| StoreError::InvalidCursor)?,
            ),
            None => None,
        };
        let limit = query.limit.clamp(1, MAX_PAGE);
        // The sort key range: from `since` (inclusive) to the smaller of
        // `until` and the cursor (exclusive, made inclusive as the ULID
        // just below, since a key condition holds one range).
        let lower = query.since.map(ulid_floor);
        let upper = match (query.until.map(ulid_floor), before.map(|b| b.ulid())) {
            (Some(u), Some(b)) => Some(u.min(b)),
            (u, b) => u.or(b),
        };
        let upper = match upper {
            Some(u) if u.0 == 0 => return Ok(empty()),
            Some(u) => Some(Ulid(u.0 - 1)),
            None => None,
        };
        if let (Some(lo), Some(hi)) = (lower, upper)
            && hi < lo
        {
            return Ok(empty());
        }
        let sk = |u: Ulid| s(DeliveryId::from_ulid(u).to_string());
        let key_condition = match (lower, upper) {
            (Some(_), Some(_)) => "#pk = :pk AND #sk BETWEEN :lo AND :hi",
            (Some(_), None) => "#pk = :pk AND #sk >= :lo",
            (None, Some(_)) => "#pk = :pk AND #sk <= :hi",
            (None, None) => "#pk = :pk",
        };
        // Expired entries may linger until TTL removes them: never show them.
        let mut filter = vec!["#exp > :now"];
        if query.event_type.is_some() {
            filter.push("#et = :et");
        }
        // `retrying` is `failed` with a next attempt; the exact test runs
        // below, on the decoded entries.
        let status = query.status.map(|st| match st {
            StatusFilter::Succeeded => "succeeded",
            StatusFilter::Failed | StatusFilter::Retrying => "failed",
            StatusFilter::Skipped => "skipped",
        });
        if status.is_some() {
            filter.push("#st = :st");
        }
        let mut items: Vec<DeliveryAttempt> = Vec::new();
        let mut start: Option<Item> = None;
        let mut read_size = (limit + 1) as i32;
        let mut queries = 0;
        // Keep reading until the page is full (one more tells whether a
        // next page exists) or the range ends, however much the filter drops.
        while items.len() <= limit {
            let mut request = self
                .client
                .query()
                .table_name(&self.deliveries_table)
                .key_condition_expression(key_condition)
                .filter_expression(filter.join(" AND "))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(read_size)
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                .expression_attribute_values(":pk", s(log_pk(tenant, endpoint)))
                .expression_attribute_values(":now", n(now_secs()))
                .set_exclusive_start_key(start.take());
            if lower.is_some() || upper.is_some() {
                request = request.expression_attribute_names("#sk", SORT_KEY);
            }
            if let Some(lo) = lower {
                request = request.expression_attribute_values(":lo", sk(lo));
            }
            if let Some(hi) = upper {
                request = request.expression_attribute_values(":hi", sk(hi));
            }
            if let Some(t) = &query.event_type {
                request = request
                    .expression_attribute_names("#et", "eventType")
                    .expression_attribute_values(":et", s(t.as_str()));
            }
            if let Some(st) = status {
                request = request
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":st", s(st));
            }
            let out = request.send().await.map_err(unavailable)?;
            queries += 1;
            for item in out.items.unwrap_or_default() {
                let attempt = attempt_from_item(item)?;
                if query.matches(&attempt) {
                    items.push(attempt);
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => {
                    let resume = k.get(SORT_KEY).and_then(|v| v.as_s().ok()).cloned();
                    if let (true, Some(resume)) = (queries >= MAX_QUERIES_PER_PAGE, resume) {
                        // Everything up to `resume` has been read; the cursor
                        // is an exclusive bound, so the next page starts below it.
                        return Ok(Page {
                            items,
                            next_cursor: Some(encode_cursor(&resume)),
                        });
                    }
                    start = Some(k);
                }
                _ => break,
            }
            read_size = (read_size * 2).min(MAX_READ);
        }
        Ok(into_page(items, limit, |a| a.id.to_string()))
    }
}
