//! What the API Gateway samples in `events/` name and expect, shared by the
//! router test (functions/api) and the real-binary test (infra/e2e) so the
//! two cannot drift. See events/README.md.

/// The tenant the samples use.
pub const SAMPLE_TENANT: &str = "store_66f1";
/// The endpoint the read/update/delete samples name; tests seed it.
pub const SAMPLE_ENDPOINT: &str = "ep_01J9Z3W5Q8R7T6Y5X4V3B2N1M0";
/// The delivery the log-read and resend samples name; tests seed it.
pub const SAMPLE_DELIVERY: &str = "del_01J9Z4A7K2M3N4P5Q6R7S8T9V0";

/// The `api-*` samples in the order they make sense, with the status each gets.
pub const API_SAMPLES: &[(&str, u16)] = &[
    ("api-create-event-type.json", 201),
    ("api-create.json", 201),
    ("api-list.json", 200),
    ("api-read.json", 200),
    ("api-update.json", 200),
    ("api-reveal-secret.json", 200),
    ("api-rotate.json", 200),
    ("api-deliveries-list.json", 200),
    ("api-delivery-read.json", 200),
    ("api-resend.json", 202),
    ("api-test-event.json", 202),
    ("api-stats.json", 200),
    ("api-delete.json", 204),
];
