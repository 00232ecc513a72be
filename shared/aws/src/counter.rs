//! Counts SDK calls by operation, for tests and benchmarks that check how
//! many requests a fan-out or a delivery costs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Calls made, by operation name (`SendMessageBatch`, `Query`, ...). One
/// counter may be attached to several clients through [`CallCounter::interceptor`].
#[derive(Debug, Default)]
pub struct CallCounter {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl CallCounter {
    /// A counter at zero, shareable between clients.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// An interceptor to register on an SDK client config
    /// (`config::Builder::interceptor`) that counts into this counter.
    pub fn interceptor(self: &Arc<Self>) -> CountCalls {
        CountCalls(self.clone())
    }

    /// Calls so far, by operation name.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.lock().clone()
    }

    /// Calls of one operation so far.
    pub fn count(&self, operation: &str) -> u64 {
        self.lock().get(operation).copied().unwrap_or(0)
    }

    /// All calls so far.
    pub fn total(&self) -> u64 {
        self.lock().values().sum()
    }

    /// Starts again from zero.
    pub fn reset(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        // Counts stay meaningful even if a holder panicked.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The SDK interceptor of a [`CallCounter`]: counts each operation call
/// once, before it runs (SDK-internal retries are not counted again).
#[derive(Debug, Clone)]
pub struct CountCalls(Arc<CallCounter>);

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    // Not `read_before_execution`: for client-level interceptors that runs
    // before the operation's configuration (and so its name) is in `cfg`.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map_or("unknown", |m| m.name())
            .to_owned();
        *self.0.lock().entry(operation).or_default() += 1;
        Ok(())
    }
}
