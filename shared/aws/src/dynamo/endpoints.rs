//! Endpoints and their subscription index (endpoints table).

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, Select, TransactWriteItem, Update};
use courier::circuit::{HealthRules, Observed};
use courier::endpoint::Endpoint;
use courier::event_type::{EventTypeFilter, EventTypeName};
use courier::ids::{EndpointId, TenantId};
use courier::paging::{MAX_PAGE, decode_cursor};
use courier::ports::{EndpointStore, OutcomeRecorded, Page, StoreError};
use futures::future::try_join_all;

use super::outcome::Stored;
use super::sealed::{HEADERS, SECRETS, endpoint_from_item};
use super::{
    DynamoStore, Item, backoff, build, first_condition_failed, get_s, into_page, key, n,
    query_first, s, transaction_cancelled, unavailable,
};
use crate::schema::{PARTITION_KEY, SORT_KEY};

/// The failure counter: written by `record_outcome` (and reset by a re-enable).
pub(super) const CONSECUTIVE_FAILURES: &str = "consecutiveFailures";
/// The last attempt's time: written by `record_outcome` only.
pub(super) const LAST_ATTEMPT_AT: &str = "lastAttemptAt";
/// `lastAttemptAt` in unix milliseconds: DynamoDB compares numbers, not
/// timestamps, and `lastAttemptAt` must only move forward.
pub(super) const LAST_ATTEMPT_MS: &str = "lastAttemptMs";

/// How often a write that lost a race re-reads the endpoint and tries again.
pub(super) const MAX_TRIES: usize = 5;

pub(super) fn tenant_pk(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}")
}

pub(super) fn endpoint_sk(id: EndpointId) -> String {
    format!("EP#{id}")
}

fn subscription_pk(tenant: &TenantId, filter: &str) -> String {
    format!("SUB#{tenant}#{filter}")
}

pub(super) fn millis(t: time::OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 1_000_000
}

/// The filters an endpoint is indexed under: none while it is disabled.
/// A set, because a transaction may touch each subscription item once.
fn indexed_filters(ep: &Endpoint) -> BTreeSet<String> {
    if ep.enabled {
        all_filters(ep)
    } else {
        BTreeSet::new()
    }
}

pub(super) fn all_filters(ep: &Endpoint) -> BTreeSet<String> {
    ep.event_types
        .iter()
        .map(EventTypeFilter::to_string)
        .collect()
}

impl DynamoStore {
    /// The endpoint's item: its attributes, key and `lastAttemptMs`.
    async fn endpoint_item(&self, ep: &Endpoint) -> Result<Item, StoreError> {
        let mut item = self.endpoint_attributes(ep).await?;
        item.extend(key(tenant_pk(&ep.tenant_id), endpoint_sk(ep.id)));
        if let Some(t) = ep.last_attempt_at {
            item.insert(LAST_ATTEMPT_MS.into(), n(millis(t)));
        }
        Ok(item)
    }

    /// A query of `tenant`'s endpoint items (not its subscriptions), the
    /// listing's and the count's, with a consistent read.
    fn tenant_endpoints_query(
        &self,
        tenant: &TenantId,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.endpoints_table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :ep)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(tenant_pk(tenant)))
            .expression_attribute_values(":ep", s("EP#"))
            .consistent_read(true)
    }

    fn put_subscription(
        &self,
        tenant: &TenantId,
        filter: &str,
        id: EndpointId,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = build(
            Put::builder()
                .table_name(&self.endpoints_table)
                .set_item(Some(key(subscription_pk(tenant, filter), endpoint_sk(id))))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub(super) fn delete_subscription(
        &self,
        tenant: &TenantId,
        filter: &str,
        id: EndpointId,
    ) -> Result<TransactWriteItem, StoreError> {
        let delete = build(
            Delete::builder()
                .table_name(&self.endpoints_table)
                .set_key(Some(key(subscription_pk(tenant, filter), endpoint_sk(id))))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// The endpoint as stored now, read consistently, its secrets opened.
    pub(super) async fn read_endpoint(
        &self,
        tenant: &TenantId,
        id: EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        match self.read_for_counting(tenant, id).await? {
            Some(stored) => Ok(Some(self.opened((stored.endpoint, stored.sealed)).await?)),
            None => Ok(None),
        }
    }

    /// The first `limit` endpoint ids after `after` in one subscription
    /// partition (keys only, in id order).
    async fn subscribers(
        &self,
        pk: String,
        after: Option<EndpointId>,
        limit: usize,
    ) -> Result<Vec<EndpointId>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.endpoints_table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(pk.as_str()))
            .projection_expression("#sk")
            .consistent_read(true);
        let start = after.map(|a| key(pk.clone(), endpoint_sk(a)));
        query_first(query, start, limit)
            .await?
            .iter()
            .map(|item| {
                get_s(item, SORT_KEY)
                    .and_then(|sk| sk.strip_prefix("EP#"))
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| {
                        StoreError::Unavailable(format!("malformed subscription item in {pk}"))
                    })
            })
            .collect()
    }
}

#[async_trait]
impl EndpointStore for DynamoStore {
    async fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let put = build(
            Put::builder()
                .table_name(&self.endpoints_table)
                .set_item(Some(self.endpoint_item(endpoint).await?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .build(),
        )?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        for filter in indexed_filters(endpoint) {
            items.push(self.put_subscription(&endpoint.tenant_id, &filter, endpoint.id)?);
        }
        match self.transact(items).await {
            Ok(_) => Ok(()),
            Err(e) if first_condition_failed(&e) => Err(StoreError::AlreadyExists),
            // Someone else is writing the same new endpoint right now.
            Err(e) if transaction_cancelled(&e) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn endpoint(
        &self,
        tenant: &TenantId,
        id: EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        self.read_endpoint(tenant, id).await
    }

    async fn list_endpoints(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Endpoint>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        // The cursor names only an endpoint id; the partition is always the
        // caller's tenant, so a cursor cannot reach another tenant's items.
        let start = match cursor {
            Some(c) => {
                let after: EndpointId = decode_cursor(c)?
                    .parse()
                    .map_err(|_| StoreError::InvalidCursor)?;
                Some(key(tenant_pk(tenant), endpoint_sk(after)))
            }
            None => None,
        };
        let query = self.tenant_endpoints_query(tenant);
        let mut items = Vec::new();
        for item in query_first(query, start, limit + 1).await? {
            items.push(self.opened(endpoint_from_item(item)?).await?);
        }
        Ok(into_page(items, limit, |ep| ep.id.to_string()))
    }

    async fn update_endpoint(
        &self,
        previous: &Endpoint,
        updated: &Endpoint,
    ) -> Result<(), StoreError> {
        let mut attributes = self.endpoint_attributes(updated).await?;
        // The delivery bookkeeping belongs to record_outcome; only a
        // re-enable resets the counter (as `Endpoint::set_enabled` did).
        attributes.remove(LAST_ATTEMPT_AT);
        if previous.enabled || !updated.enabled {
            attributes.remove(CONSECUTIVE_FAILURES);
            attributes.remove(super::outcome::CIRCUIT);
            attributes.remove(super::outcome::PROBE_LEASE);
        }
        let mut names = HashMap::from([
            ("#rev".to_owned(), "revision".to_owned()),
            ("#plain".to_owned(), SECRETS.to_owned()),
            ("#hdrs".to_owned(), HEADERS.to_owned()),
        ]);
        let mut values = HashMap::from([(":prev".to_owned(), n(previous.revision))]);
        let mut sets = Vec::with_capacity(attributes.len());
        for (i, (name, value)) in attributes.into_iter().enumerate() {
            names.insert(format!("#a{i}"), name);
            values.insert(format!(":a{i}"), value);
            sets.push(format!("#a{i} = :a{i}"));
        }
        let update = build(
            Update::builder()
                .table_name(&self.endpoints_table)
                .set_key(Some(key(
                    tenant_pk(&previous.tenant_id),
                    endpoint_sk(previous.id),
                )))
                // Plaintext secrets of an earlier release go with this write;
                // headers are never stored in plaintext (they are sealed).
                .update_expression(format!("SET {} REMOVE #plain, #hdrs", sets.join(", ")))
                .condition_expression("#rev = :prev")
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .build(),
        )?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        let old = indexed_filters(previous);
        let new = indexed_filters(updated);
        for filter in &new {
            items.push(self.put_subscription(&updated.tenant_id, filter, updated.id)?);
        }
        for filter in old.difference(&new) {
            items.push(self.delete_subscription(&previous.tenant_id, filter, previous.id)?);
        }
        match self.transact(items).await {
            Ok(_) => Ok(()),
            Err(e) if transaction_cancelled(&e) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete_endpoint(&self, tenant: &TenantId, id: EndpointId) -> Result<bool, StoreError> {
        for round in 0..MAX_TRIES {
            if round > 0 {
                backoff(round).await;
            }
            // Its secrets stay sealed: a delete needs only revision and filters.
            let Some(Stored { endpoint: ep, .. }) = self.read_for_counting(tenant, id).await?
            else {
                return Ok(false);
            };
            // Conditional on the revision read, so the subscription items
            // deleted are exactly those of the endpoint being deleted.
            let delete = build(
                Delete::builder()
                    .table_name(&self.endpoints_table)
                    .set_key(Some(key(tenant_pk(tenant), endpoint_sk(id))))
                    .condition_expression("#rev = :rev")
                    .expression_attribute_names("#rev", "revision")
                    .expression_attribute_values(":rev", n(ep.revision))
                    .build(),
            )?;
            let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
            for filter in all_filters(&ep) {
                items.push(self.delete_subscription(tenant, &filter, id)?);
            }
            match self.transact(items).await {
                Ok(_) => return Ok(true),
                Err(e) if transaction_cancelled(&e) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Conflict)
    }

    async fn subscribed_endpoints_after(
        &self,
        tenant: &TenantId,
        event_type: &EventTypeName,
        after: Option<EndpointId>,
        limit: usize,
    ) -> Result<Vec<EndpointId>, StoreError> {
        // One query per filter that can select the type (`*`, each prefix,
        // the name), run concurrently. Each partition is sorted by id, so the
        // first `limit` ids of the union are among the first `limit` of each.
        let limit = limit.max(1);
        let queries = event_type
            .matching_filters()
            .into_iter()
            .map(|f| self.subscribers(subscription_pk(tenant, &f.to_string()), after, limit));
        let found = try_join_all(queries).await?;
        let ids: BTreeSet<EndpointId> = found.into_iter().flatten().collect();
        Ok(ids.into_iter().take(limit).collect())
    }

    async fn endpoint_count(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let mut count = 0;
        let mut start: Option<Item> = None;
        loop {
            // Select COUNT returns no items, but is billed like reading them.
            let out = self
                .tenant_endpoints_query(tenant)
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            count += out.count.max(0) as usize;
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(count),
            }
        }
    }

    async fn record_outcome(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        attempts: &[Observed],
        rules: &HealthRules,
    ) -> Result<Option<OutcomeRecorded>, StoreError> {
        let all = |_: Option<&str>| Some((attempts.to_vec(), None));
        self.count_health(tenant, id, &all, rules).await
    }

    async fn claim_probe(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        seen: Option<time::OffsetDateTime>,
        now: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.take_probe(tenant, id, seen, now, until).await
    }
}
