//! Events as accepted from producers, and the bodies receivers get.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::endpoint::PayloadFormat;
use crate::event_type::EventTypeName;
use crate::ids::{EventId, TenantId};

/// Largest delivered body accepted by default (256 KiB).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// An event of a tenant. `data` is kept as the producer's raw JSON so that
/// the body bytes are identical on every attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The event id (`webhook-id`).
    pub id: EventId,
    /// Whose event it is.
    pub tenant_id: TenantId,
    /// Its type.
    #[serde(rename = "type")]
    pub event_type: EventTypeName,
    /// When it was accepted, to the millisecond.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The producer's object, unchanged.
    pub data: Box<RawValue>,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.tenant_id == other.tenant_id
            && self.event_type == other.event_type
            && self.created_at == other.created_at
            && self.data.get() == other.data.get()
    }
}

/// Truncates to whole milliseconds, the precision of `createdAt`, so a
/// stored and re-read event renders the very same body.
pub fn to_millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(t)
}

/// `2026-04-23T14:22:11.823Z`: UTC with exactly three fraction digits.
pub fn format_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let base = t
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default();
    let stem = base.trim_end_matches('Z');
    format!("{stem}.{:03}Z", t.millisecond())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    created_at: String,
    tenant_id: &'a str,
    data: &'a RawValue,
}

#[derive(Serialize)]
struct CloudEvent<'a> {
    specversion: &'static str,
    id: &'a str,
    source: String,
    #[serde(rename = "type")]
    event_type: &'a str,
    datacontenttype: &'static str,
    time: String,
    tenantid: &'a str,
    data: &'a RawValue,
}

impl Event {
    /// The body POSTed to an endpoint in its format. Deterministic: the same
    /// event renders the same bytes on every attempt.
    pub fn body(&self, format: PayloadFormat) -> Vec<u8> {
        let result = match format {
            PayloadFormat::Default => serde_json::to_vec(&Envelope {
                id: self.id.as_str(),
                event_type: self.event_type.as_str(),
                created_at: format_millis(self.created_at),
                tenant_id: self.tenant_id.as_str(),
                data: &self.data,
            }),
            PayloadFormat::Cloudevents => serde_json::to_vec(&CloudEvent {
                specversion: "1.0",
                id: self.id.as_str(),
                source: format!("/tenants/{}", self.tenant_id),
                event_type: self.event_type.as_str(),
                datacontenttype: "application/json",
                time: format_millis(self.created_at),
                tenantid: self.tenant_id.as_str(),
                data: &self.data,
            }),
        };
        // Serialising borrowed strings and already-valid raw JSON cannot fail.
        result.unwrap_or_default()
    }

    /// Size of the larger of the two body formats, checked against the limit.
    pub fn max_body_len(&self) -> usize {
        self.body(PayloadFormat::Default)
            .len()
            .max(self.body(PayloadFormat::Cloudevents).len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn event() -> Event {
        Event {
            id: "evt_1".parse().unwrap(),
            tenant_id: "store_66f1".parse().unwrap(),
            event_type: "booking.created".parse().unwrap(),
            created_at: datetime!(2026-04-23 14:22:11.823 UTC),
            data: RawValue::from_string(r#"{"b": 1,  "a": [2]}"#.into()).unwrap(),
        }
    }

    #[test]
    fn default_envelope_keeps_data_bytes_unchanged() {
        let body = String::from_utf8(event().body(PayloadFormat::Default)).unwrap();
        assert_eq!(
            body,
            r#"{"id":"evt_1","type":"booking.created","createdAt":"2026-04-23T14:22:11.823Z","tenantId":"store_66f1","data":{"b": 1,  "a": [2]}}"#
        );
    }

    #[test]
    fn cloudevents_body_has_the_required_attributes() {
        let body: serde_json::Value =
            serde_json::from_slice(&event().body(PayloadFormat::Cloudevents)).unwrap();
        assert_eq!(body["specversion"], "1.0");
        assert_eq!(body["id"], "evt_1");
        assert_eq!(body["type"], "booking.created");
        assert_eq!(body["source"], "/tenants/store_66f1");
        assert_eq!(body["datacontenttype"], "application/json");
        assert_eq!(body["time"], "2026-04-23T14:22:11.823Z");
        assert_eq!(body["data"]["a"][0], 2);
    }

    #[test]
    fn stored_events_render_identical_bodies() {
        let e = event();
        let copy: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(
            e.body(PayloadFormat::Default),
            copy.body(PayloadFormat::Default)
        );
        assert_eq!(
            format_millis(datetime!(2026-01-02 03:04:05 UTC)),
            "2026-01-02T03:04:05.000Z"
        );
        assert_eq!(
            to_millis(datetime!(2026-01-02 03:04:05.123456 UTC)),
            datetime!(2026-01-02 03:04:05.123 UTC)
        );
    }
}
