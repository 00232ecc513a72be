//! `record_outcome`: the failure counter, `lastAttemptAt`, and auto-disable.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem, Update};
use courier::endpoint::{DisabledReason, Endpoint};
use courier::ids::{EndpointId, TenantId};
use courier::policy;
use courier::ports::{EndpointOutcome, OutcomeRecorded, StoreError};
use time::format_description::well_known::Rfc3339;

use super::accounting::COUNTED_SEQ;
use super::endpoints::{
    CONSECUTIVE_FAILURES, LAST_ATTEMPT_AT, LAST_ATTEMPT_MS, MAX_TRIES, all_filters, endpoint_sk,
    millis, tenant_pk,
};
use super::{
    DynamoStore, Item, backoff, build, condition_failed, from_item, key, n, s,
    transaction_cancelled, unavailable,
};
use crate::schema::PARTITION_KEY;

impl DynamoStore {
    /// One `UpdateItem` counts the outcome; only when the endpoint must be
    /// disabled does a transaction follow. See [`courier::ports::EndpointStore::record_outcome`].
    pub(super) async fn apply_outcome(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        outcome: &EndpointOutcome,
        disable_after: u32,
        guard: Option<(&str, &str)>,
    ) -> Result<Option<OutcomeRecorded>, StoreError> {
        // lastAttemptAt only moves forward: the first try also sets it,
        // conditional on being newer; if that condition fails (an older
        // batch finishing late, or no endpoint) the counter alone is updated.
        // With a guard (counting from the stream), `None` may also mean the
        // entries were counted before (see the accounting module).
        let attributes = match self.count_outcome(tenant, id, outcome, true, guard).await? {
            Some(a) => a,
            None => match self
                .count_outcome(tenant, id, outcome, false, guard)
                .await?
            {
                Some(a) => a,
                None => return Ok(None),
            },
        };
        let mut ep: Endpoint = from_item(attributes)?;
        let consecutive_failures = ep.consecutive_failures;
        for round in 0..MAX_TRIES {
            let Some(reason) =
                policy::disable_reason(ep.consecutive_failures, disable_after, outcome.gone)
            else {
                return Ok(Some(OutcomeRecorded {
                    consecutive_failures,
                    disabled: None,
                }));
            };
            if !ep.enabled {
                return Ok(Some(OutcomeRecorded {
                    consecutive_failures,
                    disabled: None,
                }));
            }
            if self.disable(&ep, reason, disable_after).await? {
                return Ok(Some(OutcomeRecorded {
                    consecutive_failures,
                    disabled: Some(reason),
                }));
            }
            // Someone else changed it first (disabled, re-enabled, reset the
            // counter, or edited its filters): decide again on what is stored.
            backoff(round + 1).await;
            match self.read_endpoint(tenant, id).await? {
                Some(current) => ep = current,
                None => {
                    return Ok(Some(OutcomeRecorded {
                        consecutive_failures,
                        disabled: None,
                    }));
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "endpoint {id} kept changing while being disabled"
        )))
    }

    /// The counter update; `None` when its condition failed.
    async fn count_outcome(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        outcome: &EndpointOutcome,
        with_time: bool,
        guard: Option<(&str, &str)>,
    ) -> Result<Option<Item>, StoreError> {
        let mut sets = Vec::new();
        let mut add = "";
        if outcome.succeeded {
            sets.push("#cf = :n");
        } else {
            add = " ADD #cf :n";
        }
        let mut condition = "attribute_exists(#pk)".to_owned();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.endpoints_table)
            .set_key(Some(key(tenant_pk(tenant), endpoint_sk(id))))
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#cf", CONSECUTIVE_FAILURES)
            .expression_attribute_values(":n", n(outcome.failures))
            .return_values(ReturnValue::AllNew);
        if let Some((first, last)) = guard {
            sets.push("#seq = :last");
            condition.push_str(" AND (attribute_not_exists(#seq) OR #seq < :first)");
            request = request
                .expression_attribute_names("#seq", COUNTED_SEQ)
                .expression_attribute_values(":first", s(first))
                .expression_attribute_values(":last", s(last));
        }
        if with_time {
            let at = outcome
                .attempted_at
                .format(&Rfc3339)
                .map_err(|e| StoreError::Unavailable(format!("bad attempt time: {e}")))?;
            sets.push("#la = :la");
            sets.push("#lams = :lams");
            condition.push_str(" AND (attribute_not_exists(#lams) OR #lams <= :lams)");
            request = request
                .expression_attribute_names("#la", LAST_ATTEMPT_AT)
                .expression_attribute_names("#lams", LAST_ATTEMPT_MS)
                .expression_attribute_values(":la", s(at))
                .expression_attribute_values(":lams", n(millis(outcome.attempted_at)));
        }
        let set = if sets.is_empty() {
            String::new()
        } else {
            format!("SET {}", sets.join(", "))
        };
        match request
            .update_expression(format!("{set}{add}").trim())
            .condition_expression(condition)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
            Err(e) if condition_failed(&e) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Disables `ep` and removes it from the subscription index if it is
    /// still as read (same revision, enabled, and for consecutive failures
    /// still at the threshold); false when it was not.
    async fn disable(
        &self,
        ep: &Endpoint,
        reason: DisabledReason,
        disable_after: u32,
    ) -> Result<bool, StoreError> {
        // Written as serde writes it, so the endpoint item still decodes.
        let reason_value = serde_dynamo::to_attribute_value(reason)
            .map_err(|e| StoreError::Unavailable(format!("could not encode reason: {e}")))?;
        let mut condition = "#rev = :rev AND #en = :true".to_owned();
        let mut update = Update::builder()
            .table_name(&self.endpoints_table)
            .set_key(Some(key(tenant_pk(&ep.tenant_id), endpoint_sk(ep.id))))
            .update_expression("SET #en = :false, #dr = :reason, #rev = #rev + :one")
            .expression_attribute_names("#rev", "revision")
            .expression_attribute_names("#en", "enabled")
            .expression_attribute_names("#dr", "disabledReason")
            .expression_attribute_values(":rev", n(ep.revision))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":reason", reason_value)
            .expression_attribute_values(":one", n(1));
        if reason == DisabledReason::ConsecutiveFailures {
            condition.push_str(" AND #cf >= :limit");
            update = update
                .expression_attribute_names("#cf", CONSECUTIVE_FAILURES)
                .expression_attribute_values(":limit", n(disable_after));
        }
        let update = build(update.condition_expression(condition).build())?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        for filter in all_filters(ep) {
            items.push(self.delete_subscription(&ep.tenant_id, &filter, ep.id)?);
        }
        match self.transact(items).await {
            Ok(_) => Ok(true),
            Err(e) if transaction_cancelled(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }
}
