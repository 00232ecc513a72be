//! What a phase of the cost benchmark used, and what that costs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::capacity::Usage;
use crate::log_bytes::Bytes;
use crate::metered::Metered;
use crate::prices;

/// What one phase (intake, delivery or counting) used.
#[derive(Debug, Default, Clone)]
pub struct Phase {
    /// DynamoDB calls by operation.
    pub dynamodb_calls: BTreeMap<String, u64>,
    /// SQS calls by operation (empty receives left out).
    pub sqs_calls: BTreeMap<String, u64>,
    /// Capacity units and billed SQS requests by operation.
    pub usage: BTreeMap<String, Usage>,
    /// Lambda invocations.
    pub invocations: u64,
    /// Their durations, each rounded up to the millisecond, summed.
    pub billed_ms: u64,
    /// Receives that came back empty, left out of the figures.
    pub empty_receives: u64,
    /// Bytes for CloudWatch Logs: log lines and EMF metric documents.
    pub logs: Bytes,
}

impl Phase {
    /// What `clients` counted so far.
    pub fn snapshot(clients: &Metered) -> Self {
        Self {
            dynamodb_calls: clients.dynamodb_calls(),
            sqs_calls: clients.sqs_calls(),
            usage: clients.usage(),
            ..Self::default()
        }
    }

    /// Leaves out the receives that came back empty (idle polling).
    pub fn drop_empty_receives(&mut self) {
        let empty = self.empty_receives;
        if let Some(n) = self.sqs_calls.get_mut("ReceiveMessage") {
            *n = n.saturating_sub(empty);
        }
        if let Some(u) = self.usage.get_mut("ReceiveMessage") {
            u.sqs_billed_requests = u.sqs_billed_requests.saturating_sub(empty);
        }
    }

    pub fn usage_total(&self) -> Usage {
        let mut total = Usage::default();
        for u in self.usage.values() {
            total.add(u);
        }
        total
    }

    pub fn gb_seconds(&self, memory_mb: u32) -> f64 {
        self.billed_ms as f64 / 1000.0 * f64::from(memory_mb) / 1024.0
    }
}

/// Dollars per million deliveries, by line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cost {
    pub dynamodb_writes: f64,
    pub dynamodb_reads: f64,
    pub sqs: f64,
    pub lambda_requests: f64,
    pub lambda_duration: f64,
    pub cloudwatch_logs: f64,
}

impl Cost {
    pub fn of(phases: &[&Phase], deliveries: u64, memory_mb: u32) -> Self {
        let per_million = 1_000_000.0 / deliveries.max(1) as f64;
        let mut c = Cost::default();
        for p in phases {
            let u = p.usage_total();
            c.dynamodb_writes += u.write_units * prices::DYNAMODB_WRU_PER_MILLION / 1e6;
            c.dynamodb_reads += u.read_units * prices::DYNAMODB_RRU_PER_MILLION / 1e6;
            c.sqs += u.sqs_billed_requests as f64 * prices::SQS_PER_MILLION_REQUESTS / 1e6;
            c.lambda_requests += p.invocations as f64 * prices::LAMBDA_PER_MILLION_REQUESTS / 1e6;
            c.lambda_duration += p.gb_seconds(memory_mb) * prices::LAMBDA_ARM64_PER_GB_SECOND;
            c.cloudwatch_logs += p.logs.total() as f64 / prices::BYTES_PER_GB
                * prices::CLOUDWATCH_LOGS_INGEST_PER_GB;
        }
        Cost {
            dynamodb_writes: c.dynamodb_writes * per_million,
            dynamodb_reads: c.dynamodb_reads * per_million,
            sqs: c.sqs * per_million,
            lambda_requests: c.lambda_requests * per_million,
            lambda_duration: c.lambda_duration * per_million,
            cloudwatch_logs: c.cloudwatch_logs * per_million,
        }
    }
    pub fn dynamodb(&self) -> f64 {
        self.dynamodb_writes + self.dynamodb_reads
    }
    pub fn lambda(&self) -> f64 {
        self.lambda_requests + self.lambda_duration
    }
    /// All in: every line above.
    pub fn total(&self) -> f64 {
        self.dynamodb() + self.sqs + self.lambda() + self.cloudwatch_logs
    }
    pub fn to_json(self) -> Value {
        json!({
            "dynamodb_writes": self.dynamodb_writes,
            "dynamodb_reads": self.dynamodb_reads,
            "sqs": self.sqs,
            "lambda_requests": self.lambda_requests,
            "lambda_duration": self.lambda_duration,
            "cloudwatch_logs": self.cloudwatch_logs,
            "total": self.total(),
        })
    }
}

/// A line of the cost table: its name and how to get it from a [`Cost`].
pub type Line = (&'static str, fn(&Cost) -> f64);

/// Lambda bills duration rounded up to the millisecond.
pub fn ceil_ms(d: Duration) -> u64 {
    d.as_micros().div_ceil(1000) as u64
}
