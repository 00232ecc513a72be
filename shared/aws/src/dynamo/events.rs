//! Published events, stored once per (tenant, id) for idempotency and
//! resends (deliveries table).
//!
//! Besides the attributes drawn in the module docs of `dynamo`, the event
//! item carries its fan-out lease: `fanOutLeasedUntil` (unix ms; set by the
//! first put, taken over by a conditional update once it has passed) and
//! `fanOutResumeAfter` (the last endpoint id a stopped fan-out enqueued).
//! Both are written only when a fan-out is taken over or stops early, since
//! every write of this item is billed by the size of its `data`.
//!
//! For the same reason a finished fan-out is not marked on the event item
//! (an update of a 1.3 KB item costs two write units, like its put) but by
//! a small item of its own beside it, `FANNED_OUT` (one unit): an event
//! costs three write units instead of four, 0.2 fewer per delivery at a
//! fan-out of 5. The marker names the event's `createdAt` (unix ns), so a
//! marker left by an expired event of the same id never finishes a new one;
//! one consistent `Query` of the partition reads event and marker together
//! (the same read unit as the event alone). Items of earlier releases,
//! marked by `fannedOut = true` on the event item, still read as finished.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use courier::event::Event;
use courier::ids::{EndpointId, EventId, TenantId};
use courier::paging::unix_seconds;
use courier::ports::{EventStore, FAN_OUT_LEASE, FanOutClaim, StoreError, StoredEvent};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    DynamoStore, Item, condition_failed, get_n, get_s, key, n, now_secs, s, unavailable, unexpired,
};
use crate::schema::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};

const EVENT_SK: &str = "EVENT";
/// The sort key of the marker of a finished fan-out.
const FANNED_OUT_SK: &str = "FANNED_OUT";
/// The marked event's `createdAt`, in unix nanoseconds.
const MARKS_CREATED: &str = "eventCreatedNs";
/// Earlier releases' mark on the event item itself.
const FANNED_OUT: &str = "fannedOut";
/// Unix milliseconds until which a request holds the fan-out.
const LEASED_UNTIL: &str = "fanOutLeasedUntil";
/// The last endpoint a stopped fan-out enqueued.
const RESUME_AFTER: &str = "fanOutResumeAfter";
/// Rounds of "put, find an expired copy, put again" before giving up.
const MAX_TRIES: usize = 3;

fn event_pk(tenant: &TenantId, id: &EventId) -> String {
    format!("EVENT#{tenant}#{id}")
}

fn event_key(tenant: &TenantId, id: &EventId) -> Item {
    key(event_pk(tenant, id), EVENT_SK.to_owned())
}

fn bad_item(what: &str) -> StoreError {
    StoreError::Unavailable(format!("stored event has no valid {what}"))
}

fn event_item(event: &Event, expires_at: OffsetDateTime) -> Result<Item, StoreError> {
    let created_at = event
        .created_at
        .format(&Rfc3339)
        .map_err(|e| StoreError::Unavailable(format!("bad event time: {e}")))?;
    let mut item = event_key(&event.tenant_id, &event.id);
    item.extend([
        ("id".to_owned(), s(event.id.as_str())),
        ("tenantId".to_owned(), s(event.tenant_id.as_str())),
        ("type".to_owned(), s(event.event_type.as_str())),
        ("createdAt".to_owned(), s(created_at)),
        // The producer's JSON as a string: a DynamoDB map would not keep
        // its bytes (key order, spacing, number formats).
        ("data".to_owned(), s(event.data.get())),
        (FANNED_OUT.to_owned(), AttributeValue::Bool(false)),
        (LEASED_UNTIL.to_owned(), n(lease_end())),
        (TTL_ATTRIBUTE.to_owned(), n(unix_seconds(expires_at))),
    ]);
    Ok(item)
}

fn event_from_item(item: &Item) -> Result<Event, StoreError> {
    let text = |name: &'static str| get_s(item, name).ok_or_else(|| bad_item(name));
    Ok(Event {
        id: text("id")?.parse().map_err(|_| bad_item("id"))?,
        tenant_id: text("tenantId")?
            .parse()
            .map_err(|_| bad_item("tenantId"))?,
        event_type: text("type")?.parse().map_err(|_| bad_item("type"))?,
        created_at: OffsetDateTime::parse(text("createdAt")?, &Rfc3339)
            .map_err(|_| bad_item("createdAt"))?,
        data: RawValue::from_string(text("data")?.to_owned()).map_err(|_| bad_item("data"))?,
    })
}

fn now_ms() -> i128 {
    OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000
}

/// When a lease taken now runs out, in unix milliseconds.
fn lease_end() -> i128 {
    now_ms() + FAN_OUT_LEASE.as_millis() as i128
}

/// True when `marker` (live, or none) says `event`'s fan-out finished, or
/// when the event item was marked by an earlier release.
fn is_fanned_out(event: &Item, marker: Option<&Item>) -> bool {
    let marked_here = event
        .get(FANNED_OUT)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false);
    let created = get_s(event, "createdAt")
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .map(|t| t.unix_timestamp_nanos());
    let marks_this_one = marker
        .filter(|m| unexpired(m))
        .and_then(|m| get_n::<i128>(m, MARKS_CREATED))
        .is_some_and(|ns| Some(ns) == created);
    marked_here || marks_this_one
}

impl DynamoStore {
    /// The stored event item if it has not expired, and whether its fan-out
    /// finished: the item and its marker, in one consistent query.
    async fn live_event_and_mark(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<(Item, bool)>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.deliveries_table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":pk", s(event_pk(tenant, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let (mut event, mut marker) = (None, None);
        for item in out.items.unwrap_or_default() {
            match get_s(&item, SORT_KEY) {
                Some(EVENT_SK) => event = Some(item),
                Some(FANNED_OUT_SK) => marker = Some(item),
                _ => {}
            }
        }
        Ok(event.filter(unexpired).map(|event| {
            let done = is_fanned_out(&event, marker.as_ref());
            (event, done)
        }))
    }

    /// The stored item if it has not expired, read consistently.
    async fn live_event_item(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.deliveries_table)
            .set_key(Some(event_key(tenant, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item.filter(unexpired))
    }
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn store_event(
        &self,
        event: &Event,
        expires_at: OffsetDateTime,
    ) -> Result<StoredEvent, StoreError> {
        let item = event_item(event, expires_at)?;
        for _ in 0..MAX_TRIES {
            // An expired copy that TTL has not removed yet counts as absent.
            let put = self
                .client
                .put_item()
                .table_name(&self.deliveries_table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(now_secs()))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(StoredEvent::New),
                Err(e) if condition_failed(&e) => {}
                Err(e) => return Err(unavailable(e)),
            }
            // Seen before: report the stored copy. If it expired (or was
            // removed) between the put and this read, put again.
            if let Some((stored, fanned_out)) = self
                .live_event_and_mark(&event.tenant_id, &event.id)
                .await?
            {
                let stored = event_from_item(&stored)?;
                return Ok(if fanned_out {
                    StoredEvent::Duplicate(stored)
                } else {
                    StoredEvent::Unfinished(stored)
                });
            }
        }
        Err(StoreError::Unavailable(format!(
            "event {} kept changing while being stored",
            event.id
        )))
    }

    async fn mark_fanned_out(
        &self,
        event: &Event,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut item = key(
            event_pk(&event.tenant_id, &event.id),
            FANNED_OUT_SK.to_owned(),
        );
        item.extend([
            (
                MARKS_CREATED.to_owned(),
                n(event.created_at.unix_timestamp_nanos()),
            ),
            (TTL_ATTRIBUTE.to_owned(), n(unix_seconds(expires_at))),
        ]);
        self.client
            .put_item()
            .table_name(&self.deliveries_table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn claim_fan_out(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<FanOutClaim, StoreError> {
        // The marker of a finished fan-out is an item of its own, which the
        // update's condition cannot see: read it first. A fan-out that
        // finishes between the read and the write finished after its lease
        // ran out, which the intake's timeout (shorter than the lease)
        // rules out.
        match self.live_event_and_mark(tenant, id).await? {
            None | Some((_, true)) => return Ok(FanOutClaim::Finished),
            Some((_, false)) => {}
        }
        // One conditional write decides between concurrent claimants; the
        // condition also refuses expired and absent events, and those an
        // earlier release marked finished on the event item.
        let update = self
            .client
            .update_item()
            .table_name(&self.deliveries_table)
            .set_key(Some(event_key(tenant, id)))
            // `#after` is set to itself (or "" when absent) only so that
            // UPDATED_NEW returns it without the whole item and its data.
            .update_expression("SET #lease = :until, #after = if_not_exists(#after, :none)")
            .condition_expression(
                "attribute_exists(#pk) AND #fo = :false AND #exp > :now_s \
                 AND (attribute_not_exists(#lease) OR #lease <= :now_ms)",
            )
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#fo", FANNED_OUT)
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_names("#lease", LEASED_UNTIL)
            .expression_attribute_names("#after", RESUME_AFTER)
            .expression_attribute_values(":none", s(""))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now_s", n(now_secs()))
            .expression_attribute_values(":now_ms", n(now_ms()))
            .expression_attribute_values(":until", n(lease_end()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match update {
            Ok(out) => {
                let resume_after = out
                    .attributes
                    .as_ref()
                    .and_then(|item| get_s(item, RESUME_AFTER))
                    .filter(|id| !id.is_empty())
                    .map(|id| id.parse().map_err(|_| bad_item(RESUME_AFTER)))
                    .transpose()?;
                Ok(FanOutClaim::Claimed { resume_after })
            }
            Err(e) if condition_failed(&e) => {
                // Held by someone else, unless it finished or went away.
                Ok(match self.live_event_and_mark(tenant, id).await? {
                    Some((_, false)) => FanOutClaim::Held,
                    _ => FanOutClaim::Finished,
                })
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_fan_out(
        &self,
        tenant: &TenantId,
        id: &EventId,
        resume_after: Option<EndpointId>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.deliveries_table)
            .set_key(Some(event_key(tenant, id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#lease", LEASED_UNTIL)
            .expression_attribute_values(":now_ms", n(now_ms()));
        update = match resume_after {
            Some(after) => update
                .update_expression("SET #lease = :now_ms, #after = :after")
                .expression_attribute_names("#after", RESUME_AFTER)
                .expression_attribute_values(":after", s(after.to_string())),
            None => update.update_expression("SET #lease = :now_ms"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn event(&self, tenant: &TenantId, id: &EventId) -> Result<Option<Event>, StoreError> {
        self.live_event_item(tenant, id)
            .await?
            .as_ref()
            .map(event_from_item)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(created: OffsetDateTime) -> Item {
        let event = Event {
            id: "evt_1".parse().unwrap(),
            tenant_id: "t1".parse().unwrap(),
            event_type: "booking.created".parse().unwrap(),
            created_at: created,
            data: RawValue::from_string("{}".into()).unwrap(),
        };
        event_item(&event, created + time::Duration::days(1)).unwrap()
    }

    fn marker(created: OffsetDateTime, expires: OffsetDateTime) -> Item {
        Item::from([
            (MARKS_CREATED.to_owned(), n(created.unix_timestamp_nanos())),
            (TTL_ATTRIBUTE.to_owned(), n(unix_seconds(expires))),
        ])
    }

    #[test]
    fn a_fan_out_is_finished_by_its_own_live_marker_or_an_earlier_releases_flag() {
        let created = time::macros::datetime!(2026-12-02 05:00:00.123 UTC);
        let later = OffsetDateTime::now_utc() + time::Duration::days(1);
        let event = stored(created);
        assert!(!is_fanned_out(&event, None));
        assert!(is_fanned_out(&event, Some(&marker(created, later))));
        // An expired marker, or one left by an older event of the same id.
        let past = OffsetDateTime::now_utc() - time::Duration::minutes(1);
        assert!(!is_fanned_out(&event, Some(&marker(created, past))));
        let older = created - time::Duration::days(30);
        assert!(!is_fanned_out(&event, Some(&marker(older, later))));
        // Marked on the item itself, as earlier releases did.
        let mut flagged = event.clone();
        flagged.insert(FANNED_OUT.to_owned(), AttributeValue::Bool(true));
        assert!(is_fanned_out(&flagged, None));
    }
}
