//! Per-endpoint, per-UTC-day delivery statistics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::attempt::ErrorClass;
use crate::policy::AttemptResult;

/// How long daily statistics are kept (so 31 days can always be shown).
pub const STATS_RETENTION_DAYS: i64 = 40;

/// Counts to add to one endpoint's day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsDelta {
    /// Attempts made.
    pub attempts: u64,
    /// Attempts that succeeded.
    pub succeeded: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Failed attempts by class.
    pub failures: BTreeMap<ErrorClass, u64>,
}

impl StatsDelta {
    /// Counts one successful attempt.
    pub fn success(&mut self) {
        self.attempts += 1;
        self.succeeded += 1;
    }

    /// Counts one failed attempt of `class`.
    pub fn failure(&mut self, class: ErrorClass) {
        self.attempts += 1;
        self.failed += 1;
        *self.failures.entry(class).or_default() += 1;
    }

    /// Counts one attempt by what came of it.
    pub fn count(&mut self, result: AttemptResult) {
        match result {
            AttemptResult::Delivered => self.success(),
            AttemptResult::Gone => self.failure(ErrorClass::ClientError),
            AttemptResult::Failed(class) => self.failure(class),
        }
    }

    /// True when there is nothing to add.
    pub fn is_empty(&self) -> bool {
        self.attempts == 0
    }

    /// Adds another delta to this one.
    pub fn merge(&mut self, other: &StatsDelta) {
        self.attempts += other.attempts;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        for (class, n) in &other.failures {
            *self.failures.entry(*class).or_default() += n;
        }
    }
}

/// One endpoint's counts for one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyStats {
    /// The UTC day.
    pub day: Date,
    /// Its counts.
    pub counts: StatsDelta,
}
