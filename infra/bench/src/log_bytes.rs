//! Bytes the functions would send to CloudWatch Logs, counted and thrown
//! away: the JSON log lines (`tracing`, formatted as the functions format
//! them) and the EMF metric documents (`courier::metrics::Metrics`), each
//! into a process-wide counter of its own.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};

static LOG_LINES: AtomicU64 = AtomicU64::new(0);
static METRICS: AtomicU64 = AtomicU64::new(0);

/// Counts what is written into one counter and discards it.
#[derive(Debug, Clone, Copy)]
pub struct Counting(&'static AtomicU64);

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The writer of the log lines (a `MakeWriter` for `tracing_subscriber`).
pub fn log_lines() -> Counting {
    Counting(&LOG_LINES)
}

/// The writer of the EMF metric documents.
pub fn metrics() -> Counting {
    Counting(&METRICS)
}

/// Bytes counted so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Bytes {
    /// JSON log lines.
    pub log_lines: u64,
    /// EMF metric documents.
    pub metrics: u64,
}

impl Bytes {
    /// The counters now.
    pub fn now() -> Self {
        Self {
            log_lines: LOG_LINES.load(Ordering::Relaxed),
            metrics: METRICS.load(Ordering::Relaxed),
        }
    }

    /// What was counted since `earlier`.
    pub fn since(earlier: Self) -> Self {
        let now = Self::now();
        Self {
            log_lines: now.log_lines.saturating_sub(earlier.log_lines),
            metrics: now.metrics.saturating_sub(earlier.metrics),
        }
    }

    /// Adds `other` into this one.
    pub fn add(&mut self, other: Self) {
        self.log_lines += other.log_lines;
        self.metrics += other.metrics;
    }

    /// Both kinds together.
    pub fn total(self) -> u64 {
        self.log_lines + self.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_is_written_and_keeps_nothing() {
        let before = Bytes::now();
        let mut w = metrics();
        w.write_all(b"{\"a\":1}\n").unwrap();
        writeln!(w, "{}", "x".repeat(10)).unwrap();
        let counted = Bytes::since(before);
        assert!(counted.metrics >= 19, "other tests may write too");
    }
}
