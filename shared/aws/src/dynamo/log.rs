//! The delivery log: one item per attempt under its endpoint's partition,
//! sorted by the time-ordered delivery id (deliveries table).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use courier::attempt::{DeliveryAttempt, DeliveryQuery, StatusFilter};
use courier::ids::{DeliveryId, EndpointId, TenantId};
use courier::paging::{MAX_PAGE, decode_cursor, encode_cursor, ulid_floor, unix_seconds};
use courier::ports::{DeliveryLog, Page, Recorded, StoreError};
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

/// What a stored entry leaves out because its key holds it: `id` (the sort
/// key), `tenantId` and `endpointId` (the partition key). Request headers
/// are one `name: value` line each, in one string. A typical entry stays
/// under 1 KB, one write unit (see the test below).
const FROM_KEY: [&str; 3] = ["id", "tenantId", "endpointId"];
const REQUEST_HEADERS: &str = "requestHeaders";

fn attempt_item(a: &DeliveryAttempt) -> Result<Item, StoreError> {
    let mut item = to_item(a)?;
    for name in FROM_KEY {
        item.remove(name);
    }
    let headers: String = a
        .request_headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect();
    item.remove(REQUEST_HEADERS);
    if !a.probe {
        item.remove("probe");
    }
    if !headers.is_empty() {
        item.insert(REQUEST_HEADERS.into(), s(headers));
    }
    if let Some(exact) = item.remove(TTL_ATTRIBUTE) {
        item.insert(EXPIRES_AT_RFC3339.into(), exact);
    }
    item.insert(TTL_ATTRIBUTE.into(), n(unix_seconds(a.expires_at)));
    item.extend(key(log_pk(&a.tenant_id, a.endpoint_id), a.id.to_string()));
    Ok(item)
}

pub(super) fn attempt_from_item(mut item: Item) -> Result<DeliveryAttempt, StoreError> {
    let bad = |what: &str| StoreError::Unavailable(format!("log entry without a valid {what}"));
    // Entries of earlier releases carry these themselves; newer ones in the key.
    if !item.contains_key("id") {
        let sk = item.get(SORT_KEY).cloned().ok_or_else(|| bad("sort key"))?;
        item.insert("id".into(), sk);
    }
    if !item.contains_key("tenantId") || !item.contains_key("endpointId") {
        let pk = item
            .get(PARTITION_KEY)
            .and_then(|v| v.as_s().ok())
            .and_then(|pk| pk.strip_prefix(LOG_PREFIX))
            .ok_or_else(|| bad("partition key"))?;
        let (tenant, endpoint) = pk.rsplit_once('#').ok_or_else(|| bad("partition key"))?;
        let (tenant, endpoint) = (s(tenant), s(endpoint));
        item.insert("tenantId".into(), tenant);
        item.insert("endpointId".into(), endpoint);
    }
    // The exact expiry, else (written by hand) the TTL's whole seconds.
    let expires = match item.remove(EXPIRES_AT_RFC3339) {
        Some(exact) => exact,
        None => {
            let secs: i64 = item
                .get(TTL_ATTRIBUTE)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| bad("expiry"))?;
            let at = time::OffsetDateTime::from_unix_timestamp(secs).map_err(|_| bad("expiry"))?;
            s(at.format(&time::format_description::well_known::Rfc3339)
                .map_err(|_| bad("expiry"))?)
        }
    };
    item.insert(TTL_ATTRIBUTE.into(), expires);
    if let Some(AttributeValue::S(lines)) = item.get(REQUEST_HEADERS) {
        let pairs: Vec<AttributeValue> = lines
            .lines()
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| AttributeValue::L(vec![s(name), s(value)]))
            .collect();
        item.insert(REQUEST_HEADERS.into(), AttributeValue::L(pairs));
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
        _rules: &courier::circuit::HealthRules,
    ) -> Result<Recorded, StoreError> {
        // Counted later from the table's stream (see the accounting module),
        // by the delivery function with its own rules.
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
            Ok(_) => Ok(Recorded::Deferred),
            Err(e) if condition_failed(&e) => Ok(Recorded::Duplicate),
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;
    use courier::attempt::{AttemptStatus, ErrorClass};
    use courier::ids::{EndpointId, MessageId};
    use courier::message::Trigger;
    use time::OffsetDateTime;

    /// DynamoDB's item size: attribute names plus values (numbers about
    /// one byte per two digits; lists and maps 3 bytes plus 1 per element).
    fn size(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len().div_ceil(2) + 1,
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::L(l) => 3 + l.iter().map(|e| 1 + size(e)).sum::<usize>(),
            AttributeValue::M(m) => 3 + m.iter().map(|(k, e)| 1 + k.len() + size(e)).sum::<usize>(),
            _ => 0,
        }
    }

    pub(crate) fn item_size(item: &Item) -> usize {
        item.iter().map(|(k, v)| k.len() + size(v)).sum()
    }

    /// A typical failed, retried attempt: a real URL, a 200-byte response body.
    fn typical() -> DeliveryAttempt {
        let now = OffsetDateTime::now_utc();
        let message = MessageId::generate();
        DeliveryAttempt {
            id: DeliveryId::for_attempt(message, 1, now),
            tenant_id: "store_66f1a2b3c4d5e6f7".parse().unwrap(),
            endpoint_id: EndpointId::generate(),
            event_id: "evt_2Qk8rX7mN4pL9vB3cF6hJ1tY".parse().unwrap(),
            event_type: "booking.confirmed".parse().unwrap(),
            message_id: message,
            attempt: 1,
            trigger: Trigger::Event,
            status: AttemptStatus::Failed,
            url: "https://hooks.example-booking-partner.com/integrations/courier/webhooks".into(),
            http_status: Some(503),
            response_time_ms: Some(1234),
            error_class: Some(ErrorClass::ServerError),
            error: Some("receiver answered HTTP 503".into()),
            response_body: Some("x".repeat(200)),
            request_headers: vec![
                ("content-type".into(), "application/json".into()),
                ("user-agent".into(), "Courier-Webhooks/0.1.0".into()),
                ("webhook-id".into(), "evt_2Qk8rX7mN4pL9vB3cF6hJ1tY".into()),
                ("webhook-timestamp".into(), "1796126182".into()),
                ("webhook-signature".into(), "v1,<redacted>".into()),
                ("webhook-attempt".into(), "1".into()),
                ("x-webhook-signature".into(), "sha256=<redacted>".into()),
            ]
            .into(),
            created_at: now,
            next_attempt_at: Some(now + time::Duration::seconds(60)),
            expires_at: now + time::Duration::days(7),
            probe: false,
        }
    }

    #[test]
    fn a_typical_log_entry_is_at_most_one_kilobyte_and_reads_back_whole() {
        let entry = typical();
        let item = attempt_item(&entry).unwrap();
        let bytes = item_size(&item);
        assert!(bytes <= 1024, "{bytes} bytes: {item:?}");
        println!("a typical log entry: {bytes} bytes");
        assert_eq!(attempt_from_item(item).unwrap(), entry);
    }

    #[test]
    fn an_entry_of_an_earlier_release_still_reads() {
        let entry = typical();
        let mut item = to_item(&entry).unwrap();
        let exact = item.remove(TTL_ATTRIBUTE).unwrap();
        item.insert(EXPIRES_AT_RFC3339.into(), exact);
        item.insert(TTL_ATTRIBUTE.into(), n(unix_seconds(entry.expires_at)));
        item.extend(key(
            log_pk(&entry.tenant_id, entry.endpoint_id),
            entry.id.to_string(),
        ));
        assert_eq!(attempt_from_item(item).unwrap(), entry);
    }
}
