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

/// Longest `TENANT_FIELD` accepted.
pub const MAX_TENANT_FIELD_LEN: usize = 32;

/// Names the tenant field may not take, compared in lowercase without `_`:
/// the default envelope's other fields and the CloudEvents attributes (the
/// field names the tenant there too), so no body has a key twice.
const TAKEN_FIELDS: [&str; 11] = [
    "id",
    "type",
    "createdat",
    "data",
    "specversion",
    "source",
    "subject",
    "datacontenttype",
    "dataschema",
    "time",
    "database64",
];

/// The key that carries the tenant's id in a body (`TENANT_FIELD`, default
/// `tenantId`): a white-label platform names it for its domain (`storeId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantField(String);

impl Default for TenantField {
    fn default() -> Self {
        Self("tenantId".into())
    }
}

impl std::str::FromStr for TenantField {
    type Err = String;

    /// 1–32 ASCII letters, digits and `_`, starting with a letter (a plain
    /// identifier in every receiver's language), and not a taken name.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let shaped = s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !shaped || s.len() > MAX_TENANT_FIELD_LEN {
            return Err(format!(
                "'{s}' is not 1 to {MAX_TENANT_FIELD_LEN} letters, digits or _ starting with a letter"
            ));
        }
        let field = Self(s.to_owned());
        if TAKEN_FIELDS.contains(&field.cloudevents_attribute().as_str()) {
            return Err(format!(
                "'{s}' is already a field of the envelope or of CloudEvents"
            ));
        }
        Ok(field)
    }
}

impl TenantField {
    /// The key in the default envelope, as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The CloudEvents extension attribute: CloudEvents names are lowercase
    /// letters and digits, so `storeId` is `storeid` (the default `tenantid`).
    pub fn cloudevents_attribute(&self) -> String {
        self.0
            .chars()
            .filter(|c| *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect()
    }
}

/// A body's value: text, or the producer's JSON as it came.
enum Field<'a> {
    Text(&'a str),
    Raw(&'a RawValue),
}

/// A body's fields in order: a map, since the tenant's key is only known
/// at run time.
struct Fields<'a>(&'a [(&'a str, Field<'a>)]);

impl Serialize for Fields<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            match value {
                Field::Text(text) => map.serialize_entry(key, text)?,
                Field::Raw(raw) => map.serialize_entry(key, raw)?,
            }
        }
        map.end()
    }
}

impl Event {
    /// The body with the default tenant field (`tenantId`).
    pub fn body(&self, format: PayloadFormat) -> Vec<u8> {
        self.body_as(format, &TenantField::default())
    }

    /// The body POSTed to an endpoint in its format, the tenant under
    /// `tenant_field`. Deterministic: the same event renders the same bytes
    /// on every attempt.
    pub fn body_as(&self, format: PayloadFormat, tenant_field: &TenantField) -> Vec<u8> {
        use Field::{Raw, Text};
        let time = format_millis(self.created_at);
        let (id, event_type, tenant) = (
            self.id.as_str(),
            self.event_type.as_str(),
            self.tenant_id.as_str(),
        );
        let result = match format {
            PayloadFormat::Default => serde_json::to_vec(&Fields(&[
                ("id", Text(id)),
                ("type", Text(event_type)),
                ("createdAt", Text(&time)),
                (tenant_field.as_str(), Text(tenant)),
                ("data", Raw(&self.data)),
            ])),
            PayloadFormat::Cloudevents => {
                let source = format!("/tenants/{tenant}");
                let attribute = tenant_field.cloudevents_attribute();
                serde_json::to_vec(&Fields(&[
                    ("specversion", Text("1.0")),
                    ("id", Text(id)),
                    ("source", Text(&source)),
                    ("type", Text(event_type)),
                    ("datacontenttype", Text("application/json")),
                    ("time", Text(&time)),
                    (&attribute, Text(tenant)),
                    ("data", Raw(&self.data)),
                ]))
            }
        };
        // Serialising borrowed strings and already-valid raw JSON cannot fail.
        result.unwrap_or_default()
    }

    /// Size of the larger of the two body formats with the tenant under
    /// `tenant_field`, checked against the limit.
    pub fn max_body_len(&self, tenant_field: &TenantField) -> usize {
        self.body_as(PayloadFormat::Default, tenant_field)
            .len()
            .max(self.body_as(PayloadFormat::Cloudevents, tenant_field).len())
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
    fn the_tenant_field_renames_the_tenant_in_both_formats() {
        let store: TenantField = "storeId".parse().unwrap();
        let body = String::from_utf8(event().body_as(PayloadFormat::Default, &store)).unwrap();
        assert_eq!(
            body,
            r#"{"id":"evt_1","type":"booking.created","createdAt":"2026-04-23T14:22:11.823Z","storeId":"store_66f1","data":{"b": 1,  "a": [2]}}"#
        );
        let ce: serde_json::Value =
            serde_json::from_slice(&event().body_as(PayloadFormat::Cloudevents, &store)).unwrap();
        assert_eq!(ce["storeid"], "store_66f1");
        assert!(ce.get("tenantid").is_none());
        let default: serde_json::Value =
            serde_json::from_slice(&event().body(PayloadFormat::Cloudevents)).unwrap();
        assert_eq!(
            default["tenantid"], "store_66f1",
            "the default is unchanged"
        );
        assert!(
            event().max_body_len(&"merchant_account_id".parse().unwrap())
                > event().max_body_len(&TenantField::default())
        );
    }

    #[test]
    fn tenant_fields_are_identifiers_that_take_no_other_fields_name() {
        assert_eq!(TenantField::default().as_str(), "tenantId");
        for good in ["storeId", "store_id", "shop", "a", &"x".repeat(32)] {
            assert_eq!(good.parse::<TenantField>().unwrap().as_str(), good);
        }
        let long = "x".repeat(33);
        for bad in [
            "",
            "1st",
            "_id",
            "store-id",
            "store id",
            "störe",
            "ID",
            "Type",
            "created_at",
            "data",
            "source",
            "time",
            "specversion",
            &long,
        ] {
            assert!(bad.parse::<TenantField>().is_err(), "{bad:?} was accepted");
        }
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
