//! Custom headers an endpoint's owner asks to be sent with every attempt
//! (an `Authorization` the receiver checks, a routing key). Their values
//! may be credentials: they are sealed at rest with the signing secrets,
//! masked in reads and in the delivery log, and never logged.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One custom header: its name as given and its value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomHeader {
    /// The header's name (compared case-insensitively).
    pub name: String,
    /// Its value, sent as given.
    pub value: String,
}

impl fmt::Debug for CustomHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The value may be a credential: never printed.
        write!(f, "CustomHeader({}: ***)", self.name)
    }
}

impl CustomHeader {
    /// The header as reads and the delivery log show it: its name, and
    /// [`MASK`] for its value.
    pub fn masked(&self) -> (String, String) {
        (self.name.clone(), MASK.to_owned())
    }
}

/// Most custom headers an endpoint may have.
pub const MAX_CUSTOM_HEADERS: usize = 20;
/// Longest custom header name, in bytes.
pub const MAX_CUSTOM_HEADER_NAME_LEN: usize = 256;
/// Longest custom header value, in bytes (at least 1).
pub const MAX_CUSTOM_HEADER_VALUE_LEN: usize = 4096;
/// What reads and the delivery log show instead of a value: always the
/// same eight characters, so not even a value's length is shown.
pub const MASK: &str = "********";

/// Names the service sets on every attempt or that HTTP owns (framing,
/// the connection, hop-by-hop headers); compared lowercase.
pub const RESERVED_NAMES: [&str; 9] = [
    "host",
    "user-agent",
    "expect",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Reserved prefixes: the Standard Webhooks headers (`webhook-id`,
/// `webhook-signature`, `webhook-attempt`, ...), the body's `content-*`
/// description (`content-type`, `content-length`) and proxies' headers.
pub const RESERVED_PREFIXES: [&str; 3] = ["webhook-", "content-", "proxy-"];

/// Why a set of custom headers is refused; every variant but
/// [`HeaderError::TooMany`] names the header, and none shows a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// More than [`MAX_CUSTOM_HEADERS`].
    #[error("at most {MAX_CUSTOM_HEADERS} custom headers are allowed, got {0}")]
    TooMany(usize),
    /// Not an HTTP token of 1 to [`MAX_CUSTOM_HEADER_NAME_LEN`] bytes.
    #[error(
        "'{0}' is not a header name of 1 to {MAX_CUSTOM_HEADER_NAME_LEN} letters, digits and !#$%&'*+-.^_`|~"
    )]
    InvalidName(String),
    /// A name the service sets or HTTP owns.
    #[error(
        "header '{0}' is set by the service or owned by HTTP and cannot be set per endpoint (refused: host, user-agent, expect, content-*, webhook-*, proxy-*, hop-by-hop headers and the simple-signature header)"
    )]
    Reserved(String),
    /// The same name twice, compared case-insensitively.
    #[error("header '{0}' is given more than once (names are compared case-insensitively)")]
    Duplicate(String),
    /// A value that is empty, too long, or not printable ASCII with no
    /// leading or trailing space.
    #[error(
        "the value of header '{0}' must be 1 to {MAX_CUSTOM_HEADER_VALUE_LEN} printable ASCII characters (spaces inside only; no CR, LF or other control characters)"
    )]
    InvalidValue(String),
}

impl HeaderError {
    /// The header the error is about, when it is about one.
    pub fn header(&self) -> Option<&str> {
        match self {
            Self::TooMany(_) => None,
            Self::InvalidName(n)
            | Self::Reserved(n)
            | Self::Duplicate(n)
            | Self::InvalidValue(n) => Some(n),
        }
    }
}

/// True for an RFC 9110 token character.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// True when the service sets `name` on every attempt or HTTP owns it, in
/// any case; the simple signature's configured name is checked apart.
pub fn is_owned(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    RESERVED_NAMES.contains(&lower.as_str())
        || RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// True when `name` may not be a custom header: [`is_owned`], or the
/// configured simple-signature header name (refused even while that header
/// is switched off, so turning it on cannot clash).
pub fn is_reserved(name: &str, simple_signature: &str) -> bool {
    is_owned(name) || name.eq_ignore_ascii_case(simple_signature)
}

/// Checks an endpoint's custom headers, given as name–value pairs in the
/// order given, and returns them as kept. The first fault found is
/// returned: too many, then per header in order an invalid or reserved
/// name, a duplicate, or an invalid value.
pub fn validate_headers(
    pairs: Vec<(String, String)>,
    simple_signature: &str,
) -> Result<Vec<CustomHeader>, HeaderError> {
    if pairs.len() > MAX_CUSTOM_HEADERS {
        return Err(HeaderError::TooMany(pairs.len()));
    }
    let mut kept: Vec<CustomHeader> = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        if name.is_empty() || name.len() > MAX_CUSTOM_HEADER_NAME_LEN || !name.bytes().all(is_tchar)
        {
            return Err(HeaderError::InvalidName(name));
        }
        if is_reserved(&name, simple_signature) {
            return Err(HeaderError::Reserved(name));
        }
        if kept.iter().any(|h| h.name.eq_ignore_ascii_case(&name)) {
            return Err(HeaderError::Duplicate(name));
        }
        if !is_valid_value(&value) {
            return Err(HeaderError::InvalidValue(name));
        }
        kept.push(CustomHeader { name, value });
    }
    Ok(kept)
}

/// 1 to [`MAX_CUSTOM_HEADER_VALUE_LEN`] bytes of printable ASCII, spaces
/// allowed inside only (HTTP would strip them at the ends).
fn is_valid_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    let visible = |b: &u8| b.is_ascii_graphic();
    (1..=MAX_CUSTOM_HEADER_VALUE_LEN).contains(&bytes.len())
        && bytes.iter().all(|b| visible(b) || *b == b' ')
        && bytes.first().is_some_and(visible)
        && bytes.last().is_some_and(visible)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMPLE: &str = "x-webhook-signature";

    fn one(name: &str, value: &str) -> Result<Vec<CustomHeader>, HeaderError> {
        validate_headers(vec![(name.into(), value.into())], SIMPLE)
    }

    #[test]
    fn ordinary_headers_are_kept_in_order_as_given() {
        let pairs = vec![
            ("Authorization".into(), "Bearer abc.def".into()),
            ("X-Routing-Key".into(), "eu-1".into()),
            ("Accept".into(), "*/*".into()),
        ];
        let kept = validate_headers(pairs.clone(), SIMPLE).unwrap();
        let back: Vec<(String, String)> = kept.into_iter().map(|h| (h.name, h.value)).collect();
        assert_eq!(back, pairs);
        assert_eq!(validate_headers(vec![], SIMPLE).unwrap(), vec![]);
    }

    #[test]
    fn every_reserved_name_is_refused_naming_it_in_any_case() {
        for name in [
            "host",
            "Content-Length",
            "content-type",
            "User-Agent",
            "webhook-id",
            "Webhook-Signature",
            "webhook-timestamp",
            "webhook-attempt",
            "Webhook-Foo",
            "X-Webhook-Signature",
            "connection",
            "Keep-Alive",
            "proxy-authenticate",
            "Proxy-Authorization",
            "TE",
            "trailer",
            "Transfer-Encoding",
            "upgrade",
            "expect",
            "content-encoding",
        ] {
            let err = one(name, "v").unwrap_err();
            assert_eq!(err, HeaderError::Reserved(name.into()));
            assert!(err.to_string().contains(&format!("'{name}'")), "{err}");
        }
    }

    #[test]
    fn the_configured_simple_signature_name_is_refused() {
        let pairs = vec![("X-Bookora-Signature".into(), "v".into())];
        assert_eq!(
            validate_headers(pairs.clone(), "x-bookora-signature"),
            Err(HeaderError::Reserved("X-Bookora-Signature".into()))
        );
        // The default name is free once the setting names another.
        let default = vec![("x-webhook-signature".into(), "v".into())];
        assert!(validate_headers(default, "x-bookora-signature").is_ok());
    }

    #[test]
    fn names_must_be_tokens_of_bounded_length() {
        let long = "x".repeat(MAX_CUSTOM_HEADER_NAME_LEN);
        assert!(one(&long, "v").is_ok());
        for bad in [
            String::new(),
            "x".repeat(MAX_CUSTOM_HEADER_NAME_LEN + 1),
            "X Foo".into(),
            "X:Foo".into(),
            "X-Føo".into(),
            "X-Foo\r\n".into(),
            ":authority".into(),
        ] {
            assert_eq!(one(&bad, "v"), Err(HeaderError::InvalidName(bad.clone())));
        }
    }

    #[test]
    fn values_must_be_printable_ascii_of_bounded_length() {
        assert!(one("X-A", &"v".repeat(MAX_CUSTOM_HEADER_VALUE_LEN)).is_ok());
        assert!(one("X-A", "a b  c").is_ok());
        for bad in [
            String::new(),
            "v".repeat(MAX_CUSTOM_HEADER_VALUE_LEN + 1),
            "a\r\nX-Injected: 1".into(),
            "a\nb".into(),
            "a\tb".into(),
            "a\0b".into(),
            " padded".into(),
            "padded ".into(),
            "é".into(),
        ] {
            let err = one("X-A", &bad).unwrap_err();
            assert_eq!(err, HeaderError::InvalidValue("X-A".into()));
            if !bad.is_empty() {
                assert!(!err.to_string().contains(&bad), "never shows the value");
            }
        }
    }

    #[test]
    fn duplicates_and_too_many_are_refused() {
        let dup = vec![("X-A".into(), "1".into()), ("x-a".into(), "2".into())];
        assert_eq!(
            validate_headers(dup, SIMPLE),
            Err(HeaderError::Duplicate("x-a".into()))
        );
        let twenty: Vec<(String, String)> = (0..MAX_CUSTOM_HEADERS)
            .map(|i| (format!("X-H{i}"), "v".into()))
            .collect();
        assert!(validate_headers(twenty.clone(), SIMPLE).is_ok());
        let mut more = twenty;
        more.push(("X-Last".into(), "v".into()));
        let err = validate_headers(more, SIMPLE).unwrap_err();
        assert_eq!(err, HeaderError::TooMany(21));
        assert_eq!(err.header(), None);
    }

    #[test]
    fn values_are_masked_and_never_debug_printed() {
        let h = CustomHeader {
            name: "Authorization".into(),
            value: "Bearer s3cr3t".into(),
        };
        assert_eq!(h.masked(), ("Authorization".into(), MASK.into()));
        assert!(!format!("{h:?}").contains("s3cr3t"));
    }
}
