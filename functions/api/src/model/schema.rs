//! What the OpenAPI document states about request fields beyond their
//! types: the patterns, lengths and item counts the handlers enforce, and
//! the integer reading JSON Schema implies. The string fields write their
//! pattern out (utoipa takes only a literal there, and keeps the field's
//! doc comment only then); a test checks each against the constants here,
//! which are tested against the parsers.
//!
//! Patterns use explicit ASCII classes, never `\w` or `\s`: those mean
//! different things in each regex dialect (ECMA, Python, Rust), and a
//! generator filling `\w` with Unicode letters would send names the API
//! rightly refuses.

use courier::event_type::MAX_EVENT_TYPE_LEN;
use serde::{Deserialize, Deserializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};

/// An event-type name: dot-separated words of `A-Z a-z 0-9 _ -`, at most
/// 128 characters (`courier::event_type::EventTypeName`).
pub const EVENT_TYPE_PATTERN: &str = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$";

/// A wildcard filter: `*`, or an event-type name followed by `.*`.
pub const WILDCARD_PATTERN: &str = r"^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.\*)$";

/// A signing secret: `whsec_` + canonical base64 (padded, no stray bits, as
/// the decoder insists) of 24 to 64 bytes: 8 to 20 whole groups with an
/// optional 1- or 2-byte tail, or 21 groups (63 bytes) with an optional
/// 1-byte tail.
pub const SECRET_PATTERN: &str = concat!(
    r"^whsec_(((([A-Za-z0-9+/]{4}){8,20})([A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/][AQgw]==)?)",
    r"|(([A-Za-z0-9+/]{4}){21}([A-Za-z0-9+/][AQgw]==)?))$"
);

/// A producer's event id: 1 to 128 of `A-Z a-z 0-9 _ -`.
pub const EVENT_ID_PATTERN: &str = r"^[A-Za-z0-9_-]{1,128}$";

/// Text that is not blank: some character other than ASCII whitespace,
/// which is what the API trims.
pub const NOT_BLANK_PATTERN: &str = r"[^\t\n\f\r ]";

/// The form of an endpoint URL: `https`, a dotted host name whose labels
/// are letters, digits and inner `-` and whose last label starts with a
/// letter (so it is never read as an IPv4 address), an optional port, and
/// an optional path, query and fragment of URL characters. The API refuses
/// any other form ([`has_url_form`]), so the document is exact; private and
/// internal names (`localhost`, `.internal`, ...) are refused as well.
pub const URL_PATTERN: &str = concat!(
    r"^https://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
    r"\.[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?(#[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
);

/// True when `raw` has the form [`URL_PATTERN`] states, checked by hand
/// (the API has no regex engine; a test keeps the two equal).
pub fn has_url_form(raw: &str) -> bool {
    let Some(rest) = raw.strip_prefix("https://") else {
        return false;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    host_ok(host) && port.is_none_or(port_ok) && tail_ok(tail)
}

fn host_ok(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// 0 to 65535, without a leading zero on five digits (as the pattern's
/// alternatives spell it).
fn port_ok(port: &str) -> bool {
    (1..=5).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && !(port.len() == 5 && port.starts_with('0'))
        && port.parse::<u32>().is_ok_and(|p| p <= 65_535)
}

fn tail_ok(tail: &str) -> bool {
    let path_char = |c: char| c.is_ascii_alphanumeric() || "._~!$&'()*+,;=:@%/-".contains(c);
    let query_char = |c: char| path_char(c) || c == '?';
    let (rest, fragment) = match tail.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (tail, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    (path.is_empty() || path.starts_with('/'))
        && path.chars().all(path_char)
        && query.is_none_or(|q| q.chars().all(query_char))
        && fragment.is_none_or(|f| f.chars().all(query_char))
}

/// The event-type filters of an endpoint: 1 to 32 of an exact name (at most
/// 128 characters) or a wildcard.
pub fn event_type_filters() -> ArrayBuilder {
    let exact = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(EVENT_TYPE_PATTERN))
        .max_length(Some(MAX_EVENT_TYPE_LEN));
    let wildcard = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(WILDCARD_PATTERN))
        .max_length(Some(MAX_EVENT_TYPE_LEN + 2));
    ArrayBuilder::new()
        .items(AnyOfBuilder::new().item(exact).item(wildcard))
        .min_items(Some(1))
        .max_items(Some(courier::endpoint::MAX_EVENT_TYPE_FILTERS))
}

/// What the filters are, for the document (a `schema_with` schema does not
/// take the field's doc comment).
const FILTERS: &str = "1 to 32 filters: an event type from the catalogue, `*` for all, or a prefix wildcard such as `booking.*`; duplicates are dropped. An exact name that is not in the catalogue is 409: the request is well formed and succeeds once the type is added (`POST /v1/event-types`).";

/// [`event_type_filters`] for creating an endpoint (required).
pub fn required_filters() -> impl Into<RefOr<Schema>> {
    event_type_filters()
        .description(Some(FILTERS))
        .examples([serde_json::json!(["booking.*"])])
}

/// [`event_type_filters`] for a PATCH, where null leaves them unchanged.
pub fn optional_filters() -> impl Into<RefOr<Schema>> {
    event_type_filters()
        .description(Some(format!("New filters, replacing the list. {FILTERS}")))
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
}

/// Reads an optional whole number that may be written as an integral float
/// (`5760.0`): JSON has one number type, and JSON Schema's `integer` is any
/// number with no fractional part, so refusing `5760.0` would refuse what
/// the document allows. A fraction or a negative number is still refused.
pub fn whole_number<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(de)? else {
        return Ok(None);
    };
    if let Some(n) = number.as_u64() {
        return Ok(Some(n));
    }
    match number.as_f64() {
        // Exact below 2^53; larger values are beyond every limit anyway.
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => Ok(Some(f as u64)),
        _ => Err(serde::de::Error::custom(format!(
            "invalid value: {number}, expected a whole number"
        ))),
    }
}

/// [`whole_number`] for a PATCH field where null differs from absent:
/// `Some(None)` for null (absent is the field's default, `None`).
pub fn nullable_whole_number<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<Option<Option<u64>>, D::Error> {
    whole_number(de).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use courier::signing::Secret;
    use regex::Regex;

    /// Standard padded base64, written out so the test needs no encoder crate.
    fn base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn the_secret_pattern_matches_exactly_the_secrets_that_parse() {
        let pattern = Regex::new(SECRET_PATTERN).unwrap();
        for len in 0..80 {
            for fill in [0u8, 0xff, 0x5a] {
                let text = format!("whsec_{}", base64(&vec![fill; len]));
                assert_eq!(
                    pattern.is_match(&text),
                    Secret::parse(&text).is_ok(),
                    "{len} bytes: {text}"
                );
            }
        }
        // Stray bits in the last character and missing padding are refused by both.
        for text in ["whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", "whsec_QR=="] {
            assert_eq!(
                pattern.is_match(text),
                Secret::parse(text).is_ok(),
                "{text}"
            );
        }
    }

    /// Every pattern the document states, each one of the constants here
    /// (or the tenant id's, from `courier-http`, or the reserved header names').
    #[test]
    fn the_document_states_only_the_tested_patterns() {
        let doc = crate::openapi::document_json().unwrap();
        let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
        // The reserved header names' pattern is built from core's lists;
        // `model::headers` tests it against the validation.
        let reserved = crate::model::headers::reserved_name_pattern();
        let known = [
            reserved.as_str(),
            EVENT_TYPE_PATTERN,
            WILDCARD_PATTERN,
            SECRET_PATTERN,
            EVENT_ID_PATTERN,
            NOT_BLANK_PATTERN,
            URL_PATTERN,
            r"^[A-Za-z0-9_-]{1,64}$",
            crate::model::headers::HEADER_NAME_PATTERN,
            crate::model::headers::HEADER_VALUE_PATTERN,
        ];
        let mut found = Vec::new();
        collect_patterns(&doc, &mut found);
        assert!(found.len() >= 10, "{found:?}");
        for pattern in found {
            assert!(
                known.contains(&pattern.as_str()),
                "untested pattern {pattern}"
            );
        }
    }

    fn collect_patterns(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("pattern", serde_json::Value::String(p)) => out.push(p.clone()),
                        _ => collect_patterns(value, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect_patterns(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_name_patterns_agree_with_the_parsers() {
        use courier::event_type::{EventTypeFilter, EventTypeName};
        use courier::ids::EventId;
        let name = Regex::new(EVENT_TYPE_PATTERN).unwrap();
        let wildcard = Regex::new(WILDCARD_PATTERN).unwrap();
        let id = Regex::new(EVENT_ID_PATTERN).unwrap();
        let long = "a".repeat(128);
        let samples = [
            "a",
            "booking.created",
            "a-b_c.D9",
            "*",
            "a.*",
            "booking.*",
            "a..b",
            ".a",
            "a.",
            "a b",
            "é",
            "a.**",
            "*.a",
            "",
            "a\n",
            &long,
        ];
        for text in samples {
            assert_eq!(
                name.is_match(text) && text.len() <= MAX_EVENT_TYPE_LEN,
                text.parse::<EventTypeName>().is_ok(),
                "{text}"
            );
            let filter = text.parse::<EventTypeFilter>().is_ok();
            let exact = name.is_match(text) && text.len() <= MAX_EVENT_TYPE_LEN;
            let wild = wildcard.is_match(text) && text.len() <= MAX_EVENT_TYPE_LEN + 2;
            assert_eq!(exact || wild, filter, "{text}");
            assert_eq!(id.is_match(text), text.parse::<EventId>().is_ok(), "{text}");
        }
    }

    #[test]
    fn the_url_form_is_the_pattern_and_the_api_accepts_it() {
        let pattern = Regex::new(URL_PATTERN).unwrap();
        for url in [
            "https://example.com/webhooks",
            "https://A.bc:65535/x?y=1&z=%20#f?g",
            "https://x-1.y2.museum",
            "https://0.a0:0",
            "https://a.b:00080",
            "https://a.b:65536",
            "https://a.b:99999/",
            "https://a.b/c#d#e",
            "https://a.b*",
            "https://-a.b",
            "https://a.1",
            "https://u:p@a.bc/",
            "https://a.bc/ x",
            "http://example.com/",
            "https://localhost/",
            "https://10.0.0.1/",
        ] {
            assert_eq!(pattern.is_match(url), has_url_form(url), "{url}");
        }
        // Random strings over the characters that matter, biased to near misses.
        let pieces = [
            "https://", "a", "Z", "0", "6", "5", "9", "-", ".", ".", ":", "/", "?", "#", "%", "@",
            "*", " ", "é", "com", "x1",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as usize % n
        };
        let mut matched = 0;
        for _ in 0..60_000 {
            let mut url = String::from("https://");
            for _ in 0..next(12) {
                url.push_str(pieces[next(pieces.len())]);
            }
            let form = has_url_form(&url);
            assert_eq!(pattern.is_match(&url), form, "{url}");
            if form {
                matched += 1;
                assert!(
                    courier::net::validate_endpoint_url(&url, true).is_ok(),
                    "{url}"
                );
            }
        }
        assert!(matched > 100, "{matched}");
    }

    #[test]
    fn integral_floats_read_as_whole_numbers() {
        #[derive(Deserialize)]
        struct Body {
            #[serde(default, deserialize_with = "whole_number")]
            n: Option<u64>,
        }
        let read = |json: &str| serde_json::from_str::<Body>(json).map(|b| b.n);
        assert_eq!(read(r#"{"n": 5760}"#).unwrap(), Some(5760));
        assert_eq!(read(r#"{"n": 5760.0}"#).unwrap(), Some(5760));
        assert_eq!(read(r#"{"n": 5.76e3}"#).unwrap(), Some(5760));
        assert_eq!(read(r#"{"n": null}"#).unwrap(), None);
        assert_eq!(read("{}").unwrap(), None);
        for bad in [
            r#"{"n": 1.5}"#,
            r#"{"n": -1}"#,
            r#"{"n": -1.0}"#,
            r#"{"n": "1"}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }
}
