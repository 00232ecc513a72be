//! The event every benchmark sends: a booking of a few hundred bytes, about
//! what a marketplace's `booking.created` carries.

use courier::event::{Event, to_millis};
use courier::event_type::{EventTypeError, EventTypeName};
use courier::ids::{EventId, TenantId};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::BenchResult;

/// The event type the benchmarks publish (one of the local server's seeds).
pub const EVENT_TYPE: &str = "booking.created";

/// The producer's `data` object for event number `i`.
pub fn booking(i: usize) -> String {
    serde_json::json!({
        "bookingId": format!("bk_{i:08}"),
        "listingId": "lst_01J9Z3W5Q8R7T6Y5X4V3B2N1M0",
        "guest": {"id": format!("usr_{:06}", i % 100_000), "name": "Ada Lovelace", "locale": "en-GB"},
        "checkIn": "2026-12-18",
        "checkOut": "2026-12-22",
        "guests": 2,
        "currency": "EUR",
        "amount": {"total": 48_600, "fees": 3_900, "taxes": 2_430},
        "status": "requested",
        "notes": "Late arrival, around 22:00. Travelling with a small dog.",
        "source": "web",
    })
    .to_string()
}

/// Event number `i` of `tenant`, as intake would have stored it.
pub fn event(tenant: &TenantId, i: usize) -> BenchResult<Event> {
    Ok(Event {
        id: EventId::generate(),
        tenant_id: tenant.clone(),
        event_type: event_type()?,
        created_at: to_millis(OffsetDateTime::now_utc()),
        data: RawValue::from_string(booking(i))?,
    })
}

/// [`EVENT_TYPE`] as a name.
pub fn event_type() -> BenchResult<EventTypeName> {
    EVENT_TYPE.parse().map_err(|e: EventTypeError| e.0.into())
}
