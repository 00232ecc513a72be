//! The event every benchmark sends: a booking of about 1 KB (1,000 to
//! 1,100 bytes of JSON), about what a marketplace's `booking.created`
//! carries: guest, listing and its address, line items, amounts.

use courier::event::{Event, to_millis};
use courier::event_type::{EventTypeError, EventTypeName};
use courier::ids::{EventId, TenantId};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::BenchResult;

/// The event type the benchmarks publish (one of the local server's seeds).
pub const EVENT_TYPE: &str = "booking.created";

/// The bounds of [`booking`]'s size in bytes.
pub const BOOKING_BYTES: std::ops::RangeInclusive<usize> = 1_000..=1_100;

/// The producer's `data` object for event number `i`.
pub fn booking(i: usize) -> String {
    serde_json::json!({
        "bookingId": format!("bk_{i:08}"),
        "listingId": "lst_01J9Z3W5Q8R7T6Y5X4V3B2N1M0",
        "status": "requested",
        "createdAt": "2026-11-23T14:05:31.207Z",
        "guest": {
            "id": format!("usr_{:06}", i % 100_000),
            "name": "Ada Lovelace",
            "email": "ada.lovelace@example.com",
            "locale": "en-GB",
        },
        "listing": {
            "title": "Bright two-room flat by the canal",
            "address": {
                "line1": "Prinsengracht 263",
                "city": "Amsterdam",
                "postalCode": "1016 GV",
                "country": "NL",
            },
            "hostId": "usr_004217",
        },
        "checkIn": "2026-12-18",
        "checkOut": "2026-12-22",
        "guests": {"adults": 2, "children": 0, "pets": 1},
        "currency": "EUR",
        "lineItems": [
            {"code": "night", "description": "4 nights x 112.50", "quantity": 4, "unitAmount": 11_250, "amount": 45_000},
            {"code": "cleaning", "description": "Cleaning fee", "quantity": 1, "unitAmount": 3_500, "amount": 3_500},
            {"code": "pet", "description": "Pet fee", "quantity": 1, "unitAmount": 1_500, "amount": 1_500},
            {"code": "service", "description": "Service fee", "quantity": 1, "unitAmount": 3_900, "amount": 3_900},
        ],
        "amount": {"subtotal": 53_900, "taxes": 2_430, "total": 56_330},
        "cancellationPolicy": "moderate",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_booking_is_about_one_kilobyte() {
        for i in [0, 7, 99_999, 12_345_678] {
            let len = booking(i).len();
            assert!(BOOKING_BYTES.contains(&len), "booking({i}) is {len} bytes");
        }
    }
}
