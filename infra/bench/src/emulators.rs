//! The benchmarks that need DynamoDB Local and moto use the test fixture's
//! clients and tables (`courier_testkit::aws`); `infra/bench.sh` starts the
//! emulators and exports their addresses.

use courier::event_type::EventType;
use courier::ports::{EventTypeStore, StoreError};
use courier_testkit::aws::{DYNAMODB_ENDPOINT_VAR, SQS_ENDPOINT_VAR};
use time::OffsetDateTime;

use crate::BenchResult;
use crate::payload;

/// The emulators' URLs (DynamoDB, SQS), or an error saying how to start them.
pub fn endpoints() -> BenchResult<(String, String)> {
    let get = |var: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                format!("{var} is not set: this benchmark needs DynamoDB Local and moto; run infra/bench.sh")
            })
    };
    Ok((get(DYNAMODB_ENDPOINT_VAR)?, get(SQS_ENDPOINT_VAR)?))
}

/// Fails early, with the reason, when the emulators are not configured.
pub fn require() -> BenchResult<()> {
    endpoints().map(|_| ())
}

/// Adds the benchmarks' event type to the catalogue unless it is there.
pub async fn ensure_event_type(store: &dyn EventTypeStore) -> BenchResult<()> {
    let event_type = EventType {
        name: payload::event_type()?,
        description: "A booking was requested.".into(),
        created_at: OffsetDateTime::now_utc(),
    };
    match store.create_event_type(&event_type).await {
        Ok(()) | Err(StoreError::AlreadyExists) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
