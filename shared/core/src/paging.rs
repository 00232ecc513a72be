//! Opaque cursors and time bounds shared by the stores.
//!
//! A cursor holds only the sort key of the last item returned, never a
//! partition key, so a cursor presented under another tenant's path can only
//! page through that tenant's own items.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use ulid::Ulid;

use crate::ports::StoreError;

/// Largest page any list returns.
pub const MAX_PAGE: usize = 100;

/// Wraps the last sort key of a page into an opaque cursor.
pub fn encode_cursor(last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("c1:{last_key}"))
}

/// Unwraps a cursor made by [`encode_cursor`].
pub fn decode_cursor(cursor: &str) -> Result<String, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    text.strip_prefix("c1:")
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .ok_or(StoreError::InvalidCursor)
}

/// The smallest ULID of the millisecond `t` (inclusive lower bound).
pub fn ulid_floor(t: OffsetDateTime) -> Ulid {
    Ulid::from_parts(unix_millis(t), 0)
}

fn unix_millis(t: OffsetDateTime) -> u64 {
    (t.unix_timestamp_nanos() / 1_000_000).max(0) as u64
}

/// Whole seconds since the epoch, as DynamoDB TTL wants them.
pub fn unix_seconds(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor("ep_01ABC");
        assert_eq!(decode_cursor(&c).unwrap(), "ep_01ABC");
        assert!(decode_cursor("not a cursor!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("x")).is_err());
    }

    #[test]
    fn ulid_floor_orders_with_generated_ids() {
        let before = OffsetDateTime::now_utc() - time::Duration::milliseconds(5);
        let id = Ulid::new();
        assert!(ulid_floor(before) < id);
        assert!(ulid_floor(OffsetDateTime::now_utc() + time::Duration::seconds(1)) > id);
    }
}
