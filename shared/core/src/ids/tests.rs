use super::*;
use crate::message::Trigger;
use time::macros::datetime;

#[test]
fn attempt_ids_hash_the_message_id_and_number_as_text() {
    // The scheme of the ids already logged: the hash of the text
    // "msg_<ULID>\n<attempt>"; computing it without formatting keeps it.
    let m = MessageId::generate();
    let at = m.created_at();
    for attempt in [1, 9, 10, 77, 4_000_000_000, u32::MAX] {
        assert_eq!(
            DeliveryId::for_attempt(m, attempt, at),
            DeliveryId(derived_ulid(at, &format!("{m}\n{attempt}"))),
            "attempt {attempt}"
        );
    }
    let mut buf = [0u8; 10];
    assert_eq!(decimal(0, &mut buf), b"0");
}

#[test]
fn attempt_ids_are_the_same_for_every_copy_and_sort_by_due_time() {
    let m = MessageId::generate();
    let at = datetime!(2026-04-23 14:22:11.823 UTC);
    let first = DeliveryId::for_attempt(m, 1, m.created_at());
    assert_eq!(first, DeliveryId::for_attempt(m, 1, m.created_at()));
    assert_eq!(first.ulid().timestamp_ms(), m.ulid().timestamp_ms());
    assert_ne!(first, DeliveryId::for_attempt(m, 2, m.created_at()));
    assert_ne!(
        first,
        DeliveryId::for_attempt(MessageId::generate(), 1, m.created_at())
    );
    let retry = DeliveryId::for_attempt(m, 2, at);
    assert_eq!(retry.ulid().timestamp_ms(), 1_776_954_131_823);
    assert!(DeliveryId::for_attempt(m, 3, at + time::Duration::seconds(1)) > retry);
}

#[test]
fn delivery_ids_depend_on_every_input_and_nothing_else() {
    let t: TenantId = "store_66f1".parse().unwrap();
    let u: TenantId = "store_66f2".parse().unwrap();
    let (e, f): (EventId, EventId) = ("evt_1".parse().unwrap(), "evt_2".parse().unwrap());
    let at = datetime!(2026-04-23 14:22:11.823 UTC);
    let (ep, other) = (EndpointId::generate(), EndpointId::generate());
    let id = MessageId::for_delivery(&t, &e, at, ep, Trigger::Event);
    assert_eq!(id, MessageId::for_delivery(&t, &e, at, ep, Trigger::Event));
    let variants = [
        MessageId::for_delivery(&u, &e, at, ep, Trigger::Event),
        MessageId::for_delivery(&t, &f, at, ep, Trigger::Event),
        MessageId::for_delivery(&t, &e, at, other, Trigger::Event),
        MessageId::for_delivery(&t, &e, at, ep, Trigger::Manual),
        MessageId::for_delivery(&t, &e, at, ep, Trigger::Recover),
    ];
    for v in variants {
        assert_ne!(v, id);
        // Only the random part differs: the time part is the event's.
        assert_eq!(v.ulid().timestamp_ms(), id.ulid().timestamp_ms());
    }
    assert_eq!(id.ulid().timestamp_ms(), 1_776_954_131_823);
    assert_eq!(id.to_string().parse::<MessageId>().unwrap(), id);
}

#[test]
fn prefixed_ids_round_trip_and_reject_other_prefixes() {
    let ep = EndpointId::generate();
    let text = ep.to_string();
    assert!(text.starts_with("ep_"));
    assert_eq!(text.parse::<EndpointId>().unwrap(), ep);
    assert!(text.replace("ep_", "del_").parse::<EndpointId>().is_err());
    assert!("ep_nope".parse::<EndpointId>().is_err());
}

#[test]
fn ids_made_in_a_row_sort_in_order() {
    let ids: Vec<DeliveryId> = (0..1000).map(|_| DeliveryId::generate()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn tenant_ids_follow_the_alphabet_and_length() {
    assert!("store_66f1".parse::<TenantId>().is_ok());
    assert!("A-z_0".parse::<TenantId>().is_ok());
    assert!("".parse::<TenantId>().is_err());
    assert!("a.b".parse::<TenantId>().is_err());
    assert!("x".repeat(65).parse::<TenantId>().is_err());
    assert!("x".repeat(64).parse::<TenantId>().is_ok());
}

#[test]
fn event_ids_reject_dots_because_they_are_signed() {
    assert!("order-1".parse::<EventId>().is_ok());
    assert!("a.b".parse::<EventId>().is_err());
    assert!("x".repeat(129).parse::<EventId>().is_err());
    assert!(EventId::generate().as_str().starts_with("evt_"));
}
