//! An endpoint's custom headers on the wire: a JSON object of names to
//! values in requests (kept in the order given, a repeated name kept so it
//! can be refused), and the same object with every value masked in
//! responses. The rules are `courier::headers::validate_headers`'.

use std::fmt;

use courier::config::Settings;
use courier::headers::{
    CustomHeader, MASK, MAX_CUSTOM_HEADER_NAME_LEN, MAX_CUSTOM_HEADER_VALUE_LEN,
    MAX_CUSTOM_HEADERS, RESERVED_NAMES, RESERVED_PREFIXES, validate_headers,
};
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};

use crate::problem::ApiError;

/// A header name: an HTTP token (RFC 9110) of 1 to 256 characters.
pub const HEADER_NAME_PATTERN: &str = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,256}$";

/// A header value: printable ASCII, spaces inside only (no CR, LF, tab or
/// other control characters); 1 to 4096 characters by its length limits.
pub const HEADER_VALUE_PATTERN: &str = r"^[!-~]([ -~]*[!-~])?$";

/// The names a custom header may not have, as a pattern over tokens: the
/// reserved names and prefixes in any case (letters as `[Hh]` classes, so
/// the pattern means the same in ECMA-262, Python and Rust regexes) and the
/// default simple-signature header. Every name it matches is a token, so
/// "a token, and not this" is `oneOf` the two patterns.
pub fn reserved_name_pattern() -> String {
    fn any_case(text: &str) -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                } else if ".*+?^$|()[]{}\\".contains(c) {
                    format!("\\{c}")
                } else {
                    c.to_string()
                }
            })
            .collect()
    }
    let simple = Settings::default().simple_signature_header_name;
    let names: Vec<String> = RESERVED_NAMES
        .iter()
        .copied()
        .chain([simple.as_str()])
        .map(any_case)
        .collect();
    let prefixes: Vec<String> = RESERVED_PREFIXES
        .iter()
        .map(|p| {
            let rest = MAX_CUSTOM_HEADER_NAME_LEN - p.len();
            format!("{}[A-Za-z0-9!#$%&'*+.^_`|~-]{{0,{rest}}}", any_case(p))
        })
        .collect();
    format!("^(?:{}|{})$", names.join("|"), prefixes.join("|"))
}

/// Custom headers as a request gives them: name–value pairs in order.
#[derive(Debug, Clone, Default)]
pub struct HeadersInput(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for HeadersInput {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = HeadersInput;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of header names to string values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeadersInput, A::Error> {
                // Pairs, not a map: a name given twice must be refused, not
                // silently replaced by its last value.
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, String>()? {
                    pairs.push(pair);
                }
                Ok(HeadersInput(pairs))
            }
        }
        de.deserialize_map(Pairs)
    }
}

/// Checks the headers of a create or PATCH; a refusal is a 422 whose field
/// names the header (`headers.Host`).
pub(crate) fn check_headers(
    input: HeadersInput,
    settings: &Settings,
) -> Result<Vec<CustomHeader>, ApiError> {
    validate_headers(input.0, &settings.simple_signature_header_name).map_err(|e| {
        let field = match e.header() {
            Some(name) => format!("headers.{name}"),
            None => "headers".to_owned(),
        };
        ApiError::validation(field, e.to_string())
    })
}

/// Custom headers as responses show them: names in order, values masked.
#[derive(Debug, Clone, Default)]
pub struct MaskedHeaders(pub Vec<String>);

impl From<&[CustomHeader]> for MaskedHeaders {
    fn from(headers: &[CustomHeader]) -> Self {
        Self(headers.iter().map(|h| h.masked().0).collect())
    }
}

impl Serialize for MaskedHeaders {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for name in &self.0 {
            map.serialize_entry(name, MASK)?;
        }
        map.end()
    }
}

/// What the headers are and which names are refused, for the document.
const HEADERS: &str = "Custom headers sent with every attempt: up to 20 names (HTTP tokens of 1 to 256 characters, compared case-insensitively, each at most once) to values of 1 to 4096 printable ASCII characters (spaces inside only). Refused with 422 naming the header: host, user-agent, expect, content-*, webhook-*, proxy-*, the hop-by-hop headers (connection, keep-alive, te, trailer, transfer-encoding, upgrade) and the deployment's simple-signature header (SIMPLE_SIGNATURE_HEADER_NAME, default x-webhook-signature). Values may be credentials: they are stored encrypted, never logged, and shown masked as `********`.";

fn header_object() -> ObjectBuilder {
    // A token and not a reserved name: exactly one of the two patterns
    // (every reserved name is a token), so a schema-driven client knows
    // which names are refused.
    let name = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_CUSTOM_HEADER_NAME_LEN))
                .pattern(Some(HEADER_NAME_PATTERN)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(reserved_name_pattern())),
        );
    let value = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_CUSTOM_HEADER_VALUE_LEN))
        .pattern(Some(HEADER_VALUE_PATTERN));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(name))
        .additional_properties(Some(value))
        .max_properties(Some(MAX_CUSTOM_HEADERS))
        .examples([serde_json::json!({"Authorization": "Bearer 3f9a1c"})])
}

/// The `headers` of a create: absent or null for none.
pub fn create_headers() -> impl Into<RefOr<Schema>> {
    header_object()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(HEADERS))
}

/// The `headers` of a PATCH: replaces the whole set (`{}` clears it);
/// absent or null leaves it unchanged.
pub fn patch_headers() -> impl Into<RefOr<Schema>> {
    header_object()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(format!(
            "Replaces the whole set of custom headers (`{{}}` clears it); absent or null leaves it unchanged. {HEADERS}"
        )))
}

/// The `headers` of a response: each name with its value masked.
pub fn shown_headers() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([MASK])),
        ))
        .description(Some(
            "The endpoint's custom headers in the order given, each value masked as `********` (the values are never shown).",
        ))
        .examples([serde_json::json!({"Authorization": MASK})])
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn parse(json: &str) -> Result<HeadersInput, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn a_repeated_name_is_kept_so_it_can_be_refused() {
        let input = parse(r#"{"X-Z": "1", "X-B": "2", "X-Z": "3"}"#).unwrap();
        let pairs: Vec<(&str, &str)> = input.0.iter().map(|(n, v)| (&**n, &**v)).collect();
        assert_eq!(
            pairs,
            [("X-Z", "1"), ("X-B", "2"), ("X-Z", "3")],
            "in order"
        );
        assert!(parse(r#"{"X-A": 1}"#).is_err(), "values are strings");
        assert!(parse(r#"["X-A"]"#).is_err());
    }

    #[test]
    fn masked_headers_show_names_in_order_and_no_value() {
        let headers = [
            CustomHeader {
                name: "X-Z".into(),
                value: "first".into(),
            },
            CustomHeader {
                name: "Authorization".into(),
                value: "Bearer s3cr3t".into(),
            },
        ];
        let shown = serde_json::to_string(&MaskedHeaders::from(&headers[..])).unwrap();
        assert_eq!(shown, r#"{"X-Z":"********","Authorization":"********"}"#);
    }

    /// The reserved-name pattern matches exactly the refused tokens.
    #[test]
    fn the_reserved_name_pattern_matches_what_is_refused() {
        let token = Regex::new(HEADER_NAME_PATTERN).unwrap();
        let reserved = Regex::new(&reserved_name_pattern()).unwrap();
        let simple = Settings::default().simple_signature_header_name;
        let long = format!("webhook-{}", "x".repeat(MAX_CUSTOM_HEADER_NAME_LEN - 8));
        for text in [
            "Host",
            "HOST",
            "te",
            "Te",
            "tE",
            "tea",
            "xte",
            "User-Agent",
            "expect",
            "Connection",
            "keep-alive",
            "Trailer",
            "Transfer-Encoding",
            "upgrade",
            "Webhook-Id",
            "webhook-",
            "WEBHOOK-X.Y",
            "Content-Type",
            "content-md5",
            "Proxy-Authorization",
            "proxy-",
            "X-Webhook-Signature",
            "x-webhook-signatures",
            "Authorization",
            "X-Content-Type",
            "webhook",
            "contents",
            "proxyx",
            long.as_str(),
            "Accept",
        ] {
            let refused = validate_headers(vec![(text.into(), "v".into())], &simple).is_err();
            // Valid by the document: a token and not reserved (oneOf).
            let valid_by_doc = token.is_match(text) != reserved.is_match(text);
            assert_eq!(valid_by_doc, !refused, "{text:?}");
            assert!(
                !reserved.is_match(text) || token.is_match(text),
                "{text:?} reserved but no token"
            );
        }
    }

    /// The patterns the document states accept what the API accepts, apart
    /// from the reserved names (see the test above).
    #[test]
    fn the_header_patterns_agree_with_the_validation() {
        let name = Regex::new(HEADER_NAME_PATTERN).unwrap();
        let value = Regex::new(HEADER_VALUE_PATTERN).unwrap();
        let long_name = "n".repeat(MAX_CUSTOM_HEADER_NAME_LEN + 1);
        for text in [
            "X-A",
            "Authorization",
            "a!#$%&'*+.^_`|~-9",
            "",
            "X A",
            "X:A",
            "é",
            "X-A\r\n",
            "(x)",
            long_name.as_str(),
        ] {
            let valid = validate_headers(vec![(text.into(), "v".into())], "x-sig").is_ok();
            assert_eq!(name.is_match(text), valid, "{text:?}");
        }
        let long_value = "v".repeat(MAX_CUSTOM_HEADER_VALUE_LEN);
        for text in [
            "v",
            "Bearer a.b",
            "a  b",
            "*/*",
            "",
            " a",
            "a ",
            "a\tb",
            "a\r\nb",
            "é",
            "\u{7f}",
            long_value.as_str(),
        ] {
            let valid = validate_headers(vec![("X-A".into(), text.into())], "x-sig").is_ok();
            let by_length = (1..=MAX_CUSTOM_HEADER_VALUE_LEN).contains(&text.chars().count());
            assert_eq!(value.is_match(text) && by_length, valid, "{text:?}");
        }
    }
}
