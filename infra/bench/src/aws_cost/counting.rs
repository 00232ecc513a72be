//! The deliveries table's stream, played: the new log entries a wave left
//! are read from DynamoDB Local's stream (free in Lambda: the event source
//! mapping polls it) and handed to `StreamAccounting::count_entries`, the
//! delivery function's stream handler, in batches of at most
//! [`STREAM_BATCH`] entries, each batch one invocation (its wall time
//! billed, rounded up to the millisecond, EMF metrics flushed after it).

use std::collections::HashSet;
use std::time::Instant;

use courier::ids::TenantId;
use courier::metrics::Metrics;
use courier_aws::{DynamoStore, LoggedEntry, StreamAccounting};
use courier_testkit::stream::StreamReader;

use super::flush_metrics;
use super::usage::ceil_ms;
use crate::BenchResult;

/// Entries per stream invocation (the template's `LoggedAttempts` `BatchSize`).
pub const STREAM_BATCH: usize = 1000;

/// The stream of one scenario's tenants and what counting it took.
pub struct Counting {
    reader: StreamReader,
    /// The delivery function's store, on metered clients of its own.
    store: DynamoStore,
    tenants: HashSet<TenantId>,
    rules: courier::circuit::HealthRules,
    metrics: Option<Metrics>,
    pending: Vec<LoggedEntry>,
    /// Stream invocations.
    pub invocations: u64,
    /// Their durations, each rounded up to the millisecond, summed.
    pub billed_ms: u64,
    /// Entries handed over.
    pub entries: u64,
    /// Entries `count_entries` reported as counted (new).
    pub counted: u64,
    /// Endpoints disabled while counting.
    pub disabled: u64,
}

impl Counting {
    /// A reader of `table`'s stream that starts after everything already
    /// in it (earlier scenarios' entries), and keeps `tenants`' entries only.
    pub async fn start(
        table: &str,
        store: DynamoStore,
        tenants: &[TenantId],
        rules: courier::circuit::HealthRules,
        metrics: Option<Metrics>,
    ) -> Self {
        let mut reader = StreamReader::new(table);
        let _earlier = reader.read().await;
        Self {
            reader,
            store,
            tenants: tenants.iter().cloned().collect(),
            rules,
            metrics,
            pending: Vec::new(),
            invocations: 0,
            billed_ms: 0,
            entries: 0,
            counted: 0,
            disabled: 0,
        }
    }

    /// Takes the new entries of the stream (the scenario's tenants only).
    pub async fn read(&mut self) {
        let tenants = &self.tenants;
        let new = self.reader.read().await;
        self.pending.extend(
            new.into_iter()
                .filter(|e| tenants.contains(&e.attempt.tenant_id)),
        );
    }

    /// Counts every entry taken, [`STREAM_BATCH`] at a time, one invocation each.
    pub async fn count(&mut self) -> BenchResult<()> {
        let pending = std::mem::take(&mut self.pending);
        for batch in pending.chunks(STREAM_BATCH) {
            let started = Instant::now();
            let counted = self
                .store
                .count_entries(batch, &self.rules)
                .await
                .map_err(|e| format!("counting {} log entries: {e}", batch.len()))?;
            // As the handler does (its warning line per disabled endpoint is
            // not written here: no scenario reaches the threshold).
            for _ in &counted.disabled {
                courier::metrics::endpoint_disabled();
            }
            flush_metrics(self.metrics);
            self.billed_ms += ceil_ms(started.elapsed());
            self.invocations += 1;
            self.entries += batch.len() as u64;
            self.counted += counted.entries as u64;
            self.disabled += counted.disabled.len() as u64;
        }
        Ok(())
    }
}
