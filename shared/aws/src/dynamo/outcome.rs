//! An endpoint's health: the failure counter, the circuit, `lastAttemptAt`,
//! auto-disable, and the probe's lease.
//!
//! Counting is read, fold ([`courier::circuit::Circuit::observe`]), and one
//! conditional `UpdateItem`: the circuit is a rule table over the
//! endpoint's recent outcomes, which no update expression can evaluate. The
//! write is conditional on the endpoint's `revision` (a settings change or
//! a re-enable in between) and on `healthVersion` (another counting in
//! between); on a race it reads again. One strongly consistent read (one
//! read unit) and one write per endpoint and stream batch, whatever the
//! number of entries.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem, Update};
use courier::circuit::{HealthRules, Observed};
use courier::endpoint::{DisabledReason, Endpoint};
use courier::ids::{EndpointId, TenantId};
use courier::ports::{OutcomeRecorded, StoreError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::accounting::COUNTED_SEQ;
use super::endpoints::{
    CONSECUTIVE_FAILURES, LAST_ATTEMPT_AT, LAST_ATTEMPT_MS, MAX_TRIES, all_filters, endpoint_sk,
    millis, tenant_pk,
};
use super::sealed::endpoint_from_item;
use super::{
    DynamoStore, backoff, build, condition_failed, get_n, get_s, key, n, s, to_item,
    transaction_cancelled, unavailable,
};
use crate::schema::PARTITION_KEY;

/// The endpoint's circuit (a map; see `courier::circuit::Circuit`).
pub(super) const CIRCUIT: &str = "circuit";
/// The probe's lease, in unix milliseconds.
pub(super) const PROBE_LEASE: &str = "probeLeaseUntil";
/// Bumped by every counting write, so two countings never interleave.
const HEALTH_VERSION: &str = "healthVersion";
/// Counting writes that lost a race before giving up (the stream counts one
/// shard at a time, so races are rare; the batch is retried after that).
const COUNT_TRIES: usize = 16;

/// What is left to count given the `countedSeq` stored: the attempts, and
/// the sequence number to store as counted (none outside the stream).
pub(super) type Pending<'a> =
    dyn Fn(Option<&str>) -> Option<(Vec<Observed>, Option<String>)> + Sync + 'a;

/// The endpoint as counting reads it: the item (secrets not opened:
/// counting needs none), what was counted into it (`countedSeq`), and its
/// health version.
pub(super) struct Stored {
    pub endpoint: Endpoint,
    /// The sealed secrets (see `endpoint_from_item`).
    pub sealed: Option<Vec<u8>>,
    pub counted_seq: Option<String>,
    version: Option<u64>,
}

impl DynamoStore {
    /// Reads the endpoint consistently, with what counting keeps beside it;
    /// `None` when it is gone.
    pub(super) async fn read_for_counting(
        &self,
        tenant: &TenantId,
        id: EndpointId,
    ) -> Result<Option<Stored>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.endpoints_table)
            .set_key(Some(key(tenant_pk(tenant), endpoint_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let counted_seq = get_s(&item, COUNTED_SEQ).map(str::to_owned);
        let version = get_n(&item, HEALTH_VERSION);
        let (endpoint, sealed) = endpoint_from_item(item)?;
        Ok(Some(Stored {
            endpoint,
            sealed,
            counted_seq,
            version,
        }))
    }

    /// Folds what `pending` picks (given what was counted before) into the
    /// endpoint's health and writes it, recording `seq` as counted when
    /// given; then disables the endpoint if the rules say so. `None` when
    /// the endpoint is gone or nothing was left to count.
    pub(super) async fn count_health(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        pending: &Pending<'_>,
        rules: &HealthRules,
    ) -> Result<Option<OutcomeRecorded>, StoreError> {
        for round in 0..COUNT_TRIES {
            let Some(stored) = self.read_for_counting(tenant, id).await? else {
                return Ok(None);
            };
            let Some((attempts, seq)) = pending(stored.counted_seq.as_deref()) else {
                return Ok(None);
            };
            let mut ep = stored.endpoint.clone();
            let mut disable = None;
            let mut probed = false;
            let mut changes = Vec::new();
            for o in &attempts {
                let enabled = ep.enabled && disable.is_none();
                let seen = ep
                    .circuit
                    .observe(&mut ep.consecutive_failures, enabled, o, rules);
                disable = disable.or(seen.disable);
                changes.extend(seen.changed.map(|state| (state, ep.consecutive_failures)));
                probed |= o.probe;
            }
            let latest = attempts.iter().map(|o| o.logged_at).max();
            let newer = latest.filter(|t| ep.last_attempt_at.is_none_or(|last| last < *t));
            if !self
                .write_health(&stored, &ep, newer, probed, seq.as_deref())
                .await?
            {
                // Spread apart, so racing counters do not collide again.
                let jitter = u64::from(OffsetDateTime::now_utc().nanosecond() % 20_000_000);
                tokio::time::sleep(std::time::Duration::from_nanos(jitter)).await;
                backoff(round.min(3)).await;
                continue;
            }
            // Reported once the write took: a lost race folds them again.
            for (state, failures) in changes {
                courier::circuit::report_change(tenant, id, state, failures);
            }
            let disabled = match disable {
                Some(reason) => self.disable_as_counted(ep.clone(), reason, rules).await?,
                None => None,
            };
            return Ok(Some(OutcomeRecorded {
                consecutive_failures: ep.consecutive_failures,
                disabled,
            }));
        }
        Err(StoreError::Unavailable(format!(
            "endpoint {id} kept changing while being counted"
        )))
    }

    /// Disables the endpoint counting just left at `reason`; when a settings
    /// change came first, decides again on what is stored.
    async fn disable_as_counted(
        &self,
        mut ep: Endpoint,
        reason: DisabledReason,
        rules: &HealthRules,
    ) -> Result<Option<DisabledReason>, StoreError> {
        for round in 0..MAX_TRIES {
            let still = ep.enabled
                && (reason == DisabledReason::Gone
                    || ep.consecutive_failures >= rules.disable_after);
            if !still {
                return Ok(None);
            }
            if self.disable(&ep, reason, rules.disable_after).await? {
                return Ok(Some(reason));
            }
            backoff(round + 1).await;
            match self.read_for_counting(&ep.tenant_id, ep.id).await? {
                Some(stored) => ep = stored.endpoint,
                None => return Ok(None),
            }
        }
        Err(StoreError::Unavailable(format!(
            "endpoint {} kept changing while being disabled",
            ep.id
        )))
    }

    /// The counting write; false when someone else wrote in between.
    async fn write_health(
        &self,
        stored: &Stored,
        ep: &Endpoint,
        latest: Option<OffsetDateTime>,
        probed: bool,
        seq: Option<&str>,
    ) -> Result<bool, StoreError> {
        let circuit = to_item(&ep.circuit)?;
        let version = stored.version.unwrap_or(0);
        let mut sets = vec!["#cf = :cf", "#ci = :ci", "#hv = :next"];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.endpoints_table)
            .set_key(Some(key(tenant_pk(&ep.tenant_id), endpoint_sk(ep.id))))
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#rev", "revision")
            .expression_attribute_names("#cf", CONSECUTIVE_FAILURES)
            .expression_attribute_names("#ci", CIRCUIT)
            .expression_attribute_names("#hv", HEALTH_VERSION)
            .expression_attribute_values(":rev", n(ep.revision))
            .expression_attribute_values(":cf", n(ep.consecutive_failures))
            .expression_attribute_values(":ci", AttributeValue::M(circuit))
            .expression_attribute_values(":next", n(version + 1))
            .return_values(ReturnValue::None);
        let mut condition = "attribute_exists(#pk) AND #rev = :rev AND ".to_owned();
        match stored.version {
            Some(v) => {
                condition.push_str("#hv = :hv");
                request = request.expression_attribute_values(":hv", n(v));
            }
            None => condition.push_str("attribute_not_exists(#hv)"),
        }
        if let Some(seq) = seq {
            sets.push("#seq = :seq");
            request = request
                .expression_attribute_names("#seq", COUNTED_SEQ)
                .expression_attribute_values(":seq", s(seq));
        }
        if let Some(at) = latest {
            let text = at
                .format(&Rfc3339)
                .map_err(|e| StoreError::Unavailable(format!("bad attempt time: {e}")))?;
            sets.push("#la = :la");
            sets.push("#lams = :lams");
            request = request
                .expression_attribute_names("#la", LAST_ATTEMPT_AT)
                .expression_attribute_names("#lams", LAST_ATTEMPT_MS)
                .expression_attribute_values(":la", s(text))
                .expression_attribute_values(":lams", n(millis(at)));
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if probed {
            // The probe's outcome is known: the next one may be claimed.
            expression.push_str(" REMOVE #pl");
            request = request.expression_attribute_names("#pl", PROBE_LEASE);
        }
        match request
            .update_expression(expression)
            .condition_expression(condition)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Takes the probe's lease; see [`courier::ports::EndpointStore::claim_probe`].
    pub(super) async fn take_probe(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        seen: Option<OffsetDateTime>,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // A new endpoint's item holds the lease as NULL.
        let mut condition = "#ci.#st = :open AND (attribute_not_exists(#pl) OR attribute_type(#pl, :null) OR #pl < :now) AND ".to_owned();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.endpoints_table)
            .set_key(Some(key(tenant_pk(tenant), endpoint_sk(id))))
            .update_expression("SET #pl = :until")
            .expression_attribute_names("#ci", CIRCUIT)
            .expression_attribute_names("#st", "state")
            .expression_attribute_names("#na", "nextAttemptAt")
            .expression_attribute_names("#pl", PROBE_LEASE)
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":null", s("NULL"))
            .expression_attribute_values(":now", n(millis(now)))
            .expression_attribute_values(":until", n(millis(until)));
        // The next probe as the caller read it, written as serde writes it.
        match seen {
            Some(at) => {
                condition.push_str("#ci.#na = :seen");
                let text = at
                    .format(&Rfc3339)
                    .map_err(|e| StoreError::Unavailable(format!("bad probe time: {e}")))?;
                request = request.expression_attribute_values(":seen", s(text));
            }
            None => condition.push_str("attribute_not_exists(#ci.#na)"),
        }
        match request.condition_expression(condition).send().await {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
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
