//! The copy-paste quickstart the server prints, filled in with its address
//! and token. README.md's quickstart is the same script; the tests in
//! `tests/quickstart.rs` run both through bash against the real binary.

/// Port the quickstart's receiver listens on.
pub const RECEIVER_PORT: u16 = 4000;
/// The tenant the quickstart creates its endpoint for, whose panel the
/// server links to.
pub const TENANT: &str = "store_1";

/// The quickstart as a bash script: an event type, an endpoint, a receiver
/// that fails the first delivery, an event, and the delivery log.
pub fn script(base: &str, token: &str) -> String {
    format!(
        r#"export TOKEN={token}
B={base}
# 1. an event type (the catalogue starts with the marketplace events)
curl -s -X POST $B/v1/event-types -H "authorization: Bearer $TOKEN" \
     -H 'content-type: application/json' \
     -d '{{"name":"booking.confirmed","description":"A host confirmed a booking."}}'; echo
# 2. an endpoint of tenant store_1 for every booking.* event; the answer holds its secret
ENDPOINT=$(curl -s -X POST $B/v1/tenants/store_1/endpoints -H "authorization: Bearer $TOKEN" \
     -H 'content-type: application/json' \
     -d '{{"url":"http://127.0.0.1:{RECEIVER_PORT}/webhooks","eventTypes":["booking.*"]}}'); echo "$ENDPOINT"
EP=$(echo "$ENDPOINT" | grep -o '"id":"ep_[^"]*"' | cut -d'"' -f4)
SECRET=$(echo "$ENDPOINT" | grep -o '"secret":"whsec_[^"]*"' | cut -d'"' -f4)
# 3. a receiver that verifies signatures and fails the first delivery (in the background)
cargo run -q -p courier-local -- receiver --port {RECEIVER_PORT} --secret "$SECRET" --fail-first 1 &
sleep 2
# 4. publish an event: the receiver prints attempt=1 -> 500
curl -s -X POST $B/v1/tenants/store_1/events -H "authorization: Bearer $TOKEN" \
     -H 'content-type: application/json' \
     -d '{{"type":"booking.confirmed","data":{{"bookingId":"bk_1","guests":2}}}}'; echo
# 5. the delivery log; run it again after the retry delay to see attempt 2 (trigger "retry")
curl -s "$B/v1/tenants/store_1/endpoints/$EP/deliveries" -H "authorization: Bearer $TOKEN"; echo
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_is_filled_in() {
        let s = script("http://127.0.0.1:3999", "tok_1");
        assert!(s.starts_with("export TOKEN=tok_1\nB=http://127.0.0.1:3999\n"));
        assert!(s.contains(
            r#"-d '{"type":"booking.confirmed","data":{"bookingId":"bk_1","guests":2}}'"#
        ));
        assert!(s.contains("--port 4000 "));
    }
}
