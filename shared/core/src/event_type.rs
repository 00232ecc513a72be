//! Event types (`booking.created`) and the subscription filters endpoints use
//! to pick them: an exact name, `*` for all, or a prefix wildcard `booking.*`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

/// Why a name or filter is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EventTypeError(pub String);

/// Longest event-type name accepted.
pub const MAX_EVENT_TYPE_LEN: usize = 128;

/// The prefix of the built-in operational types ([`crate::operational`]),
/// which no producer may publish and no one may add to the catalogue.
pub const RESERVED_PREFIX: &str = "webhooks.";

/// The built-in types and their catalogue descriptions, in name order.
pub const BUILT_IN: [(&str, &str); 3] = [
    (
        crate::operational::DELIVERY_EXHAUSTED,
        "A delivery to a tenant's endpoint failed its last attempt (operations tenant only).",
    ),
    (
        crate::operational::ENDPOINT_DISABLED,
        "A tenant's endpoint was disabled after consecutive failures or a 410 Gone (operations tenant only).",
    ),
    (
        crate::operational::ENDPOINT_ENABLED,
        "A tenant's disabled endpoint was enabled again (operations tenant only).",
    ),
];

/// An event-type name: dot-separated segments of `a–z A–Z 0–9 _ -`, such as
/// `booking.payment_succeeded`. No empty segment, no leading or trailing dot.
/// Shared like [`crate::ids::TenantId`]: a clone counts a reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventTypeName(std::sync::Arc<str>);

impl EventTypeName {
    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for a name under [`RESERVED_PREFIX`].
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with(RESERVED_PREFIX)
    }

    /// True for one of the [`BUILT_IN`] types.
    pub fn is_built_in(&self) -> bool {
        BUILT_IN.iter().any(|(name, _)| *name == &*self.0)
    }

    /// Every filter that selects this name: `*`, each prefix wildcard, and
    /// the name itself. Lets a store look up subscribers with a handful of
    /// key lookups instead of reading every endpoint of a tenant.
    pub fn matching_filters(&self) -> Vec<EventTypeFilter> {
        let mut filters = vec![EventTypeFilter::All];
        let mut prefix = String::new();
        let segments: Vec<&str> = self.0.split('.').collect();
        for segment in &segments[..segments.len() - 1] {
            prefix.push_str(segment);
            prefix.push('.');
            filters.push(EventTypeFilter::Prefix(prefix.clone()));
        }
        filters.push(EventTypeFilter::Exact(self.clone()));
        filters
    }
}

impl FromStr for EventTypeName {
    type Err = EventTypeError;
    fn from_str(s: &str) -> Result<Self, EventTypeError> {
        if s.is_empty() || s.len() > MAX_EVENT_TYPE_LEN {
            return Err(EventTypeError(format!(
                "an event type name must be 1 to {MAX_EVENT_TYPE_LEN} characters"
            )));
        }
        let ok_segment = |seg: &str| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !s.split('.').all(ok_segment) {
            return Err(EventTypeError(format!(
                "'{s}' is not a valid event type name: use dot-separated words of letters, digits, '_' and '-' (e.g. 'booking.created')"
            )));
        }
        Ok(Self(s.into()))
    }
}

impl fmt::Display for EventTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::ids::serde_via_str!(EventTypeName);

/// Which event types an endpoint receives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventTypeFilter {
    /// `*`: every event type.
    All,
    /// `booking.*`, stored with its trailing dot (`booking.`).
    Prefix(String),
    /// One exact event type.
    Exact(EventTypeName),
}

impl EventTypeFilter {
    /// True when an event of type `name` is selected by this filter.
    pub fn matches(&self, name: &EventTypeName) -> bool {
        match self {
            Self::All => true,
            Self::Prefix(p) => name.as_str().starts_with(p.as_str()),
            Self::Exact(n) => n == name,
        }
    }

    /// True when the catalogue must contain this filter's name for it to be
    /// accepted (wildcards may match types added later).
    pub fn exact_name(&self) -> Option<&EventTypeName> {
        match self {
            Self::Exact(n) => Some(n),
            _ => None,
        }
    }
}

impl FromStr for EventTypeFilter {
    type Err = EventTypeError;
    fn from_str(s: &str) -> Result<Self, EventTypeError> {
        if s == "*" {
            return Ok(Self::All);
        }
        if let Some(prefix) = s.strip_suffix(".*") {
            let name: EventTypeName = prefix.parse().map_err(|_| {
                EventTypeError(format!(
                    "'{s}' is not a valid wildcard: use '*' or a prefix such as 'booking.*'"
                ))
            })?;
            return Ok(Self::Prefix(format!("{name}.")));
        }
        Ok(Self::Exact(s.parse()?))
    }
}

impl fmt::Display for EventTypeFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Prefix(p) => write!(f, "{p}*"),
            Self::Exact(n) => f.write_str(n.as_str()),
        }
    }
}

impl Serialize for EventTypeFilter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventTypeFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An entry of the catalogue of event types endpoints can subscribe to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventType {
    /// The type's name.
    pub name: EventTypeName,
    /// What the event means, for the people who subscribe.
    #[serde(default)]
    pub description: String,
    /// When it was added.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl EventType {
    /// The [`BUILT_IN`] types as catalogue entries, in name order; their
    /// `createdAt` is the release that added them.
    pub fn built_ins() -> Vec<Self> {
        BUILT_IN
            .iter()
            .map(|(name, description)| Self {
                name: EventTypeName((*name).into()),
                description: (*description).to_owned(),
                created_at: time::macros::datetime!(2026-12-01 00:00 UTC),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> EventTypeName {
        s.parse().unwrap()
    }

    #[test]
    fn names_are_dot_separated_words() {
        assert!("booking.created".parse::<EventTypeName>().is_ok());
        assert!("order".parse::<EventTypeName>().is_ok());
        assert!("booking.payment_succeeded".parse::<EventTypeName>().is_ok());
        for bad in ["", ".a", "a.", "a..b", "a b", "a.*", "*", "ä"] {
            assert!(bad.parse::<EventTypeName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_built_ins_are_valid_reserved_names_in_name_order() {
        let names: Vec<EventTypeName> =
            EventType::built_ins().into_iter().map(|t| t.name).collect();
        assert!(
            names
                .iter()
                .all(|n| n.as_str().parse::<EventTypeName>().as_ref() == Ok(n))
        );
        assert!(names.iter().all(|n| n.is_built_in() && n.is_reserved()));
        assert!(names.is_sorted());
        let other = name("webhooks.other");
        assert!(other.is_reserved() && !other.is_built_in());
        assert!(!name("webhook.test").is_reserved());
    }

    #[test]
    fn filters_match_exact_all_and_prefix() {
        let created = name("booking.created");
        let f = |s: &str| s.parse::<EventTypeFilter>().unwrap();
        assert!(f("*").matches(&created));
        assert!(f("booking.*").matches(&created));
        assert!(f("booking.created").matches(&created));
        assert!(!f("booking.cancelled").matches(&created));
        assert!(!f("order.*").matches(&created));
        // A prefix wildcard matches whole segments only.
        assert!(!f("book.*").matches(&created));
        assert!(!f("booking.*").matches(&name("booking")));
        assert!("booking.".parse::<EventTypeFilter>().is_err());
        assert!("*.created".parse::<EventTypeFilter>().is_err());
        assert_eq!(f("booking.*").to_string(), "booking.*");
    }

    #[test]
    fn matching_filters_are_exactly_those_that_match() {
        let n = name("a.b.c");
        let got: Vec<String> = n.matching_filters().iter().map(|f| f.to_string()).collect();
        assert_eq!(got, ["*", "a.*", "a.b.*", "a.b.c"]);
        assert!(n.matching_filters().iter().all(|f| f.matches(&n)));
    }
}
