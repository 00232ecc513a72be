//! Typed identifiers. Each id type parses and prints its own prefix, so an
//! endpoint id can never be passed where an event id is expected.

use std::fmt;
use std::str::FromStr;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::{Generator, Ulid};

/// One monotonic generator per process, so ids made in the same millisecond
/// still sort in the order they were made (lists are "oldest first" and the
/// delivery log "newest first" by id).
static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

fn next_ulid() -> Ulid {
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    // Overflow needs 2^80 ids in one millisecond; fall back to a random one.
    generator.generate().unwrap_or_else(|_| Ulid::new())
}

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

/// True for the id alphabet of DESIGN §4: `A–Z a–z 0–9 _ -`.
fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn check_plain(kind: &str, s: &str, max: usize) -> Result<(), IdError> {
    if s.is_empty() || s.len() > max {
        return Err(IdError(format!("{kind} must be 1 to {max} characters")));
    }
    if !s.chars().all(is_id_char) {
        return Err(IdError(format!(
            "{kind} may only contain letters, digits, '_' and '-'"
        )));
    }
    Ok(())
}

/// `Serialize` as its `Display` text, `Deserialize` through `FromStr`.
macro_rules! serde_via_str {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // Parsed from the text as the deserializer holds it: no
                // intermediate `String` (a queue message names four ids).
                struct Text;
                impl serde::de::Visitor<'_> for Text {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", stringify!($t), " as a string"))
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$t, E> {
                        s.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(Text)
            }
        }
    };
}
/// The string ids of other modules (event-type names) use it too.
pub(crate) use serde_via_str;

/// A platform customer that owns endpoints (a store, an organisation...).
/// Shared, not copied: every entry, key and statistic of a delivery names
/// its tenant, and a clone is a reference count rather than an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// The id as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `platform`: the default `OPERATIONS_TENANT`.
    pub fn platform() -> Self {
        Self("platform".into())
    }
}

impl FromStr for TenantId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        check_plain("tenant id", s, 64)?;
        Ok(Self(s.into()))
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
serde_via_str!(TenantId);

/// An event id: given by the producer (1–128 id characters, no `.` because
/// it is part of the signed content) or generated as `evt_` + ULID.
/// Shared like [`TenantId`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(Arc<str>);

impl EventId {
    /// A fresh `evt_` + ULID id.
    pub fn generate() -> Self {
        Self(format!("evt_{}", next_ulid()).into())
    }
    /// `evt_` + 32 hex digits of a SHA-256 over `input`: the same facts give
    /// the same id, so an event published twice about one fact is stored once
    /// (the operational webhooks, [`crate::operational`]).
    pub fn derived(input: &str) -> Self {
        use sha2::{Digest, Sha256};
        Self(format!("evt_{}", hex::encode(&Sha256::digest(input)[..16])).into())
    }
    /// The id as sent in `webhook-id`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EventId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        check_plain("event id", s, 128)?;
        Ok(Self(s.into()))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
serde_via_str!(EventId);

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            /// The prefix this id prints with.
            pub const PREFIX: &'static str = $prefix;
            /// A fresh id; ids generated later sort after earlier ones.
            pub fn generate() -> Self {
                Self(next_ulid())
            }
            /// An id with the given ULID (used to build time-bounded ranges).
            pub fn from_ulid(ulid: Ulid) -> Self {
                Self(ulid)
            }
            /// The ULID inside.
            pub fn ulid(&self) -> Ulid {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                let rest = s.strip_prefix($prefix).ok_or_else(|| {
                    IdError(format!("expected an id starting with '{}'", $prefix))
                })?;
                Ulid::from_string(rest)
                    .map(Self)
                    .map_err(|_| IdError(format!("'{s}' is not a valid {} id", $prefix)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }
        serde_via_str!($name);
    };
}

ulid_id!(
    /// An endpoint: `ep_` + ULID.
    EndpointId,
    "ep_"
);
ulid_id!(
    /// One logged delivery attempt: `del_` + ULID (time-ordered, newest last).
    DeliveryId,
    "del_"
);
ulid_id!(
    /// One queued delivery of an event to an endpoint, shared by all of its
    /// attempts: `msg_` + ULID.
    MessageId,
    "msg_"
);

impl MessageId {
    /// The id of the delivery of an event to an endpoint for `trigger`: the
    /// same inputs always give the same id, so a repeated or concurrent
    /// fan-out enqueues the same delivery again, and the delivery log (whose
    /// entries' ids derive from this id) lets only one chain of attempts run. Its
    /// time part is the event's `createdAt`, so ids still sort by time; its
    /// 80 random bits are the start of a SHA-256 over the inputs.
    pub fn for_delivery(
        tenant: &TenantId,
        event: &EventId,
        created_at: time::OffsetDateTime,
        endpoint: EndpointId,
        trigger: crate::message::Trigger,
    ) -> Self {
        let trigger = match trigger {
            crate::message::Trigger::Event => "event",
            crate::message::Trigger::Retry => "retry",
            crate::message::Trigger::Manual => "manual",
            crate::message::Trigger::Test => "test",
            crate::message::Trigger::Recover => "recover",
        };
        // Newline-separated: no id contains one, so the input is unambiguous.
        Self(derived_ulid(
            created_at,
            &format!("{tenant}\n{event}\n{endpoint}\n{trigger}"),
        ))
    }
}

/// A ULID whose time part is `at` and whose 80 random bits are the start
/// of a SHA-256 over `input`: the same inputs, the same id.
fn derived_ulid(at: time::OffsetDateTime, input: &str) -> Ulid {
    derived_ulid_of(at, &[input.as_bytes()])
}

/// [`derived_ulid`] over the concatenation of `parts`, without building it.
fn derived_ulid_of(at: time::OffsetDateTime, parts: &[&[u8]]) -> Ulid {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part);
    }
    let digest = hash.finalize();
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]);
    let millis = (at.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
    Ulid::from_parts(millis, u128::from_be_bytes(random))
}

impl DeliveryId {
    /// The id of attempt number `attempt` of delivery `message`, scheduled
    /// for `due` (attempt 1: the message id's own time). Every copy of the
    /// message computes the same id, so the log entry under it is the
    /// attempt's claim: a second copy's write of it fails. The time part is
    /// `due`, so the log still sorts by when attempts were made; the 80
    /// random bits are the start of a SHA-256 over the message and number.
    pub fn for_attempt(message: MessageId, attempt: u32, due: time::OffsetDateTime) -> Self {
        // The hash of "msg_<ULID>\n<attempt>", as `format!` would spell it,
        // from stack buffers: this runs once per attempt on the hot path.
        let mut ulid = [0u8; ulid::ULID_LEN];
        let mut number = [0u8; 10];
        Self(derived_ulid_of(
            due,
            &[
                MessageId::PREFIX.as_bytes(),
                message.0.array_to_str(&mut ulid).as_bytes(),
                b"\n",
                decimal(attempt, &mut number),
            ],
        ))
    }
}

/// `n` in decimal digits, written at the end of `buf`.
fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

impl MessageId {
    /// When the delivery was created: the time part of its ULID.
    pub fn created_at(&self) -> time::OffsetDateTime {
        let millis = i128::from(self.0.timestamp_ms());
        time::OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests;
