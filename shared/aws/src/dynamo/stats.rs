//! Daily statistics per endpoint (deliveries table), counted with atomic
//! `ADD`s so concurrent deliveries never lose an update.

use std::collections::BTreeMap;

use async_trait::async_trait;
use courier::attempt::ErrorClass;
use courier::ids::{EndpointId, TenantId};
use courier::ports::{StatsStore, StoreError};
use courier::stats::{DailyStats, STATS_RETENTION_DAYS, StatsDelta};
use time::macros::format_description;
use time::{Date, Duration};

use super::accounting::COUNTED_SEQ;
use super::{
    DynamoStore, Item, condition_failed, get_n, get_s, key, n, now_secs, query_all, s, unavailable,
};
use crate::schema::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};

const DAY_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

fn stats_pk(tenant: &TenantId, endpoint: EndpointId) -> String {
    format!("STATS#{tenant}#{endpoint}")
}

fn day_sk(day: Date) -> Result<String, StoreError> {
    day.format(DAY_FORMAT)
        .map_err(|e| StoreError::Unavailable(format!("bad day: {e}")))
}

/// The attribute counting failures of one class (`f_4xx`, `f_timeout`).
fn class_attribute(class: ErrorClass) -> String {
    format!("f_{}", class.as_str())
}

fn stats_from_item(item: &Item) -> Result<DailyStats, StoreError> {
    let day = get_s(item, SORT_KEY)
        .and_then(|sk| Date::parse(sk, DAY_FORMAT).ok())
        .ok_or_else(|| StoreError::Unavailable("stats item without a valid day".into()))?;
    let failures: BTreeMap<ErrorClass, u64> = ErrorClass::ALL
        .into_iter()
        .filter_map(|c| get_n::<u64>(item, &class_attribute(c)).map(|v| (c, v)))
        .filter(|(_, v)| *v > 0)
        .collect();
    Ok(DailyStats {
        day,
        counts: StatsDelta {
            attempts: get_n(item, "attempts").unwrap_or(0),
            succeeded: get_n(item, "succeeded").unwrap_or(0),
            failed: get_n(item, "failed").unwrap_or(0),
            failures,
        },
    })
}

impl DynamoStore {
    /// The key of an endpoint's day.
    pub(super) fn stats_key(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        day: Date,
    ) -> Result<Item, StoreError> {
        Ok(key(stats_pk(tenant, endpoint), day_sk(day)?))
    }

    /// Adds counts once: only if the day's `countedSeq` is before `first`,
    /// then setting it to `last` (see the accounting module); false when
    /// some of these entries were counted already.
    pub(super) async fn add_stats_once(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        day: Date,
        delta: &StatsDelta,
        (first, last): (&str, &str),
    ) -> Result<bool, StoreError> {
        self.add_counts(tenant, endpoint, day, delta, Some((first, last)))
            .await
    }

    async fn add_counts(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        day: Date,
        delta: &StatsDelta,
        guard: Option<(&str, &str)>,
    ) -> Result<bool, StoreError> {
        let expires = (day + Duration::days(STATS_RETENTION_DAYS))
            .midnight()
            .assume_utc()
            .unix_timestamp();
        let mut adds = vec![
            "#att :att".to_owned(),
            "#ok :ok".to_owned(),
            "#fail :fail".to_owned(),
        ];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.deliveries_table)
            .set_key(Some(key(stats_pk(tenant, endpoint), day_sk(day)?)))
            .expression_attribute_names("#att", "attempts")
            .expression_attribute_names("#ok", "succeeded")
            .expression_attribute_names("#fail", "failed")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":att", n(delta.attempts))
            .expression_attribute_values(":ok", n(delta.succeeded))
            .expression_attribute_values(":fail", n(delta.failed))
            .expression_attribute_values(":exp", n(expires));
        for (i, (class, count)) in delta.failures.iter().filter(|(_, c)| **c > 0).enumerate() {
            adds.push(format!("#f{i} :f{i}"));
            request = request
                .expression_attribute_names(format!("#f{i}"), class_attribute(*class))
                .expression_attribute_values(format!(":f{i}"), n(count));
        }
        let mut set = "SET #exp = :exp".to_owned();
        if let Some((first, last)) = guard {
            set.push_str(", #seq = :last");
            request = request
                .condition_expression("attribute_not_exists(#seq) OR #seq < :first")
                .expression_attribute_names("#seq", COUNTED_SEQ)
                .expression_attribute_values(":first", s(first))
                .expression_attribute_values(":last", s(last));
        }
        match request
            .update_expression(format!("{set} ADD {}", adds.join(", ")))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl StatsStore for DynamoStore {
    async fn add_stats(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        day: Date,
        delta: &StatsDelta,
    ) -> Result<(), StoreError> {
        self.add_counts(tenant, endpoint, day, delta, None)
            .await
            .map(|_| ())
    }

    async fn daily_stats(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        from: Date,
        to: Date,
    ) -> Result<Vec<DailyStats>, StoreError> {
        if to < from {
            return Ok(vec![]);
        }
        let query = self
            .client
            .query()
            .table_name(&self.deliveries_table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            // Days past retention may linger until TTL removes them.
            .filter_expression("#exp > :now")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":pk", s(stats_pk(tenant, endpoint)))
            .expression_attribute_values(":from", s(day_sk(from)?))
            .expression_attribute_values(":to", s(day_sk(to)?))
            .expression_attribute_values(":now", n(now_secs()))
            .consistent_read(true);
        query_all(query)
            .await?
            .iter()
            .map(stats_from_item)
            .collect()
    }
}
