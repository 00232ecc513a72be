//! The retry schedule (`RETRY_SCHEDULE`): how long to wait after each
//! failed attempt, and how many attempts a delivery gets.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Delays before each retry. The default `60,600` means: the original
/// attempt, a retry about a minute after it failed (most outages are a
/// deploy or a restart), and a last one ten minutes after that; then the
/// delivery is failed and can be resent by hand. Each delay must fit SQS's
/// 12-hour visibility limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

/// Most retries a schedule may have. Attempts are counted in the delivery
/// log, not by the queue's receive count, so this is a product limit (a
/// chain of at most 9 attempts over at most 4 days), not the redrive
/// policy's.
pub const MAX_RETRIES: usize = 8;

/// The longest retry delay: SQS's 12-hour visibility limit. A delay that
/// ends later than 12 hours after the message's receive is waited out in
/// two steps (see [`crate::policy::visibility_for`]).
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(12 * 60 * 60);

impl Default for RetrySchedule {
    fn default() -> Self {
        Self(vec![Duration::from_secs(60), Duration::from_secs(600)])
    }
}

impl RetrySchedule {
    /// A schedule from explicit delays.
    pub fn new(delays: Vec<Duration>) -> Self {
        Self(delays)
    }

    /// Attempts a delivery gets in total: one more than the retries.
    pub fn max_attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }

    /// The wait after failed attempt number `attempt` (1-based), or `None`
    /// when it was the last.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        self.0.get(attempt.checked_sub(1)? as usize).copied()
    }

    /// The delays.
    pub fn delays(&self) -> &[Duration] {
        &self.0
    }

    /// The waits still ahead after attempt number `attempt` (1-based): how
    /// long after it the chain's last attempt can come, processing aside.
    pub fn remaining_after(&self, attempt: u32) -> Duration {
        self.0.iter().skip(attempt.saturating_sub(1) as usize).sum()
    }
}

impl FromStr for RetrySchedule {
    type Err = String;
    /// Parses comma-separated seconds, e.g. `60,600`; empty means no retries.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut delays = Vec::new();
        if s.trim().is_empty() {
            return Ok(Self(delays));
        }
        for part in s.split(',').map(str::trim) {
            if part.is_empty() {
                return Err("an empty delay between commas".into());
            }
            let secs: u64 = part
                .parse()
                .map_err(|_| format!("'{part}' is not a whole number of seconds"))?;
            let delay = Duration::from_secs(secs);
            if delay > MAX_RETRY_DELAY {
                return Err(format!(
                    "{secs} s is longer than SQS's 12-hour visibility limit"
                ));
            }
            delays.push(delay);
        }
        if delays.len() > MAX_RETRIES {
            return Err(format!("at most {MAX_RETRIES} retries"));
        }
        Ok(Self(delays))
    }
}

impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|d| d.as_secs().to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_is_one_minute_then_ten_minutes() {
        let s = RetrySchedule::default();
        assert_eq!(s.max_attempts(), 3);
        assert_eq!(s.delay_after(1), Some(Duration::from_secs(60)));
        assert_eq!(s.delay_after(2), Some(Duration::from_secs(600)));
        assert_eq!(s.delay_after(3), None);
        assert_eq!(s.to_string(), "60,600");
        assert_eq!("60,600".parse::<RetrySchedule>().unwrap(), s);
    }

    #[test]
    fn schedule_parsing_rejects_nonsense() {
        assert!("a".parse::<RetrySchedule>().is_err());
        assert!("-1".parse::<RetrySchedule>().is_err());
        assert!("43201".parse::<RetrySchedule>().is_err());
        assert_eq!("".parse::<RetrySchedule>().unwrap().max_attempts(), 1);
        assert_eq!(" 1, 2 ".parse::<RetrySchedule>().unwrap().delays().len(), 2);
        assert!("60,,600".parse::<RetrySchedule>().is_err());
        assert!("60,".parse::<RetrySchedule>().is_err());
    }

    #[test]
    fn the_rest_of_a_chain_is_the_delays_after_an_attempt() {
        let s = RetrySchedule::default();
        assert_eq!(s.remaining_after(1), Duration::from_secs(660));
        assert_eq!(s.remaining_after(2), Duration::from_secs(600));
        assert_eq!(s.remaining_after(3), Duration::ZERO);
        assert_eq!(s.remaining_after(9), Duration::ZERO);
    }
}
