//! Counting logged attempts: the daily statistics and the endpoints'
//! failure counters, derived from the deliveries table's stream.
//!
//! # Why from the stream
//! An attempt is recorded by one conditional `PutItem` of its log entry
//! (its claim; see [`courier::ports::DeliveryLog::record_attempt`]). Counting
//! it in the same step would take a transaction (twice the write units of
//! both items: about 4 WRU per delivery instead of 1), and counting it in a
//! second write after the first loses the count when the function dies in
//! between. The table's stream carries every new entry exactly once, in
//! order per endpoint (all of an endpoint's entries share a partition key,
//! so one shard at a time), to the delivery function; Lambda reads streams
//! for free, and one batch of up to 1,000 entries costs one `UpdateItem`
//! per endpoint and day for the statistics and one per endpoint for its
//! counter, whatever the number of entries.
//!
//! # Exactly once
//! Lambda retries a failed stream batch, so each counted item keeps the
//! sequence number of the last entry counted into it (`countedSeq`, padded
//! to compare as text) and every update is conditional on being past it:
//! a retried batch adds only what was not counted. An endpoint's entries
//! come from one shard in order, so one number per item suffices.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use courier::attempt::DeliveryAttempt;
use courier::circuit::HealthRules;
use courier::ids::{EndpointId, TenantId};
use courier::policy;
use courier::ports::{OutcomeRecorded, StoreError};
use courier::stats::StatsDelta;
use time::Date;

use super::{DynamoStore, Item, get_s};
use crate::schema::PARTITION_KEY;

/// The attribute holding the last sequence number counted into an item.
pub(super) const COUNTED_SEQ: &str = "countedSeq";
/// Stream sequence numbers are decimal strings of up to 40 digits.
const SEQ_WIDTH: usize = 40;
/// Rounds of "someone counted part of this already" before giving up.
const MAX_ROUNDS: usize = 4;

/// A new log entry as the table's stream delivered it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEntry {
    /// The stream record's sequence number.
    pub sequence: String,
    /// The entry.
    pub attempt: DeliveryAttempt,
}

/// What counting a batch of entries did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counted {
    /// Entries counted now (not counted before).
    pub entries: usize,
    /// Endpoints this batch disabled, with the counter they stopped at.
    pub disabled: Vec<(TenantId, EndpointId, OutcomeRecorded)>,
}

/// The sequence number padded so that text order is number order.
pub(super) fn padded(sequence: &str) -> String {
    format!("{sequence:0>SEQ_WIDTH$}")
}

/// Decodes a stream record's new image; `None` for items other than log
/// entries (events, statistics).
fn entry_from_image(sequence: &str, image: Item) -> Option<Result<LoggedEntry, StoreError>> {
    if !get_s(&image, PARTITION_KEY).is_some_and(|pk| pk.starts_with(super::log::LOG_PREFIX)) {
        return None;
    }
    Some(
        super::log::attempt_from_item(image).map(|attempt| LoggedEntry {
            sequence: padded(sequence),
            attempt,
        }),
    )
}

/// [`entry_from_image`] for a new image as Lambda's stream event carries it.
pub fn entry_from_stream_image(
    sequence: &str,
    image: serde_dynamo::Item,
) -> Option<Result<LoggedEntry, StoreError>> {
    entry_from_image(sequence, image.into())
}

/// Entries whose sequence number is past `counted` (all when `None`).
fn after<'a>(entries: &[&'a LoggedEntry], counted: Option<&str>) -> Vec<&'a LoggedEntry> {
    entries
        .iter()
        .copied()
        .filter(|e| counted.is_none_or(|c| e.sequence.as_str() > c))
        .collect()
}

/// Counting what the deliveries table's stream carries (DynamoDB only: the
/// embedded store counts each entry as it logs it).
#[async_trait]
pub trait StreamAccounting: Send + Sync {
    /// Counts new log entries (in stream order) into the statistics and the
    /// endpoints' counters, each exactly once however often it is called
    /// with the same entries; keeps each endpoint's circuit and disables
    /// endpoints under `rules` (see `courier::circuit`).
    async fn count_entries(
        &self,
        entries: &[LoggedEntry],
        rules: &HealthRules,
    ) -> Result<Counted, StoreError>;
}

#[async_trait]
impl StreamAccounting for DynamoStore {
    async fn count_entries(
        &self,
        entries: &[LoggedEntry],
        rules: &HealthRules,
    ) -> Result<Counted, StoreError> {
        let mut days: BTreeMap<(TenantId, EndpointId, Date), Vec<&LoggedEntry>> = BTreeMap::new();
        let mut endpoints: BTreeMap<(TenantId, EndpointId), Vec<&LoggedEntry>> = BTreeMap::new();
        for e in entries {
            if policy::result_of(&e.attempt).is_none() {
                continue; // skipped: nothing was sent, nothing to count
            }
            let a = &e.attempt;
            let day = (a.tenant_id.clone(), a.endpoint_id, a.created_at.date());
            days.entry(day).or_default().push(e);
            endpoints
                .entry((a.tenant_id.clone(), a.endpoint_id))
                .or_default()
                .push(e);
        }
        let mut counted = Counted::default();
        for list in days.values_mut().chain(endpoints.values_mut()) {
            list.sort_by(|a, b| a.sequence.cmp(&b.sequence));
        }
        for ((tenant, ep, day), list) in &days {
            counted.entries += self.count_day(tenant, *ep, *day, list).await?;
        }
        for ((tenant, ep), list) in &endpoints {
            if let Some(recorded) = self.count_endpoint(tenant, *ep, list, rules).await?
                && recorded.disabled.is_some()
            {
                counted.disabled.push((tenant.clone(), *ep, recorded));
            }
        }
        Ok(counted)
    }
}

impl DynamoStore {
    /// Adds entries to one endpoint's day; returns how many were new.
    async fn count_day(
        &self,
        tenant: &TenantId,
        ep: EndpointId,
        day: Date,
        list: &[&LoggedEntry],
    ) -> Result<usize, StoreError> {
        let mut known: Option<String> = None;
        for _ in 0..MAX_ROUNDS {
            let pending = after(list, known.as_deref());
            let (Some(first), Some(last)) = (pending.first(), pending.last()) else {
                return Ok(0);
            };
            let mut delta = StatsDelta::default();
            for e in &pending {
                if let Some(result) = policy::result_of(&e.attempt) {
                    delta.count(result);
                }
            }
            let guard = (first.sequence.as_str(), last.sequence.as_str());
            if self.add_stats_once(tenant, ep, day, &delta, guard).await? {
                return Ok(pending.len());
            }
            known = self
                .stats_counted_seq(self.stats_key(tenant, ep, day)?)
                .await?;
        }
        Err(StoreError::Unavailable(format!(
            "statistics of {ep} kept changing while being counted"
        )))
    }

    /// Folds entries into one endpoint's health; `None` when the endpoint
    /// no longer exists or everything was counted before.
    async fn count_endpoint(
        &self,
        tenant: &TenantId,
        ep: EndpointId,
        list: &[&LoggedEntry],
        rules: &HealthRules,
    ) -> Result<Option<OutcomeRecorded>, StoreError> {
        let pending = |counted: Option<&str>| {
            let pending = after(list, counted);
            let last = pending.last()?.sequence.clone();
            let observed = pending
                .iter()
                .filter_map(|e| policy::observed(&e.attempt))
                .collect();
            Some((observed, Some(last)))
        };
        self.count_health(tenant, ep, &pending, rules).await
    }

    // Two readers, one per table: each function names its table, which is
    // how the IAM test derives a role's resources from the code.

    /// The `countedSeq` of an endpoint's day, read consistently.
    async fn stats_counted_seq(&self, key: Item) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.deliveries_table)
            .set_key(Some(key))
            .projection_expression("#seq")
            .expression_attribute_names("#seq", COUNTED_SEQ)
            .consistent_read(true)
            .send()
            .await
            .map_err(super::unavailable)?;
        Ok(out.item.as_ref().and_then(counted))
    }
}

fn counted(item: &Item) -> Option<String> {
    match item.get(COUNTED_SEQ) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_sequence_numbers_sort_as_numbers() {
        let (small, big) = (padded("999"), padded("1000"));
        assert!(small < big);
        assert_eq!(big.len(), SEQ_WIDTH);
        let real = padded("4421584500000000017450439091");
        assert!(real > padded("4421584500000000017450439090"));
    }
}
