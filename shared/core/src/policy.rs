//! The delivery rules: what to do before and after each attempt. Pure
//! functions over plain data; the Lambda handler and the local server only
//! gather the inputs and carry out the decision.
//!
//! | endpoint          | trigger    | response         | attempts left | decision                          |
//! |-------------------|------------|------------------|---------------|-----------------------------------|
//! | deleted           | any        | –                | –             | `Skip` (log `skipped`, ack)       |
//! | disabled          | not `test` | –                | –             | `Skip` (log `skipped`, ack)       |
//! | disabled          | `test`     | sent as usual    |               |                                   |
//! | enabled           | any        | 2xx              | –             | `Succeeded` (ack, counter → 0)    |
//! | enabled           | any        | 410 Gone         | –             | `GiveUp`, disable `gone` (ack)    |
//! | enabled           | any        | other failure    | yes           | `Retry` after the schedule's delay|
//! | enabled           | any        | other failure    | no            | `GiveUp` (status `failed`, ack)   |
//!
//! Every failed attempt also adds one to the endpoint's consecutive-failure
//! counter; the store disables the endpoint atomically when it reaches
//! `DISABLE_AFTER_FAILURES`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::attempt::ErrorClass;
use crate::endpoint::{DisabledReason, Endpoint};
use crate::message::Trigger;

/// Delays before each retry. The default `60,600` means: the original
/// attempt, a retry about a minute after it failed (most outages are a
/// deploy or a restart), and a last one ten minutes after that; then the
/// delivery is failed and can be resent by hand. Each delay must fit SQS's
/// 12-hour visibility limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

/// Most retries a schedule may have: every attempt is one receive of the
/// SQS message, and the queue's redrive policy moves a message to the
/// dead-letter queue after 10 receives, leaving room for a redelivery or two.
pub const MAX_RETRIES: usize = 8;

/// The longest retry delay SQS can express with a visibility timeout.
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

/// Why a delivery is skipped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The endpoint no longer exists.
    EndpointDeleted,
    /// The endpoint is disabled.
    EndpointDisabled,
}

impl SkipReason {
    /// Text for the log entry.
    pub fn describe(self) -> &'static str {
        match self {
            Self::EndpointDeleted => "endpoint was deleted",
            Self::EndpointDisabled => "endpoint is disabled",
        }
    }
}

/// Decides whether a delivery is sent at all.
pub fn check_send(endpoint: Option<&Endpoint>, trigger: Trigger) -> Result<(), SkipReason> {
    match endpoint {
        None => Err(SkipReason::EndpointDeleted),
        // A test event checks a fixed endpoint before it is re-enabled.
        Some(ep) if !ep.enabled && trigger != Trigger::Test => Err(SkipReason::EndpointDisabled),
        Some(_) => Ok(()),
    }
}

/// What came of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// A 2xx arrived within the timeout.
    Delivered,
    /// A response, or none, that is not a success.
    Failed(ErrorClass),
    /// `410 Gone`: the receiver asks never to be called again.
    Gone,
}

impl AttemptResult {
    /// The result of an HTTP status.
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Delivered,
            410 => Self::Gone,
            other => Self::Failed(ErrorClass::of_status(other)),
        }
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Done: acknowledge the message.
    Succeeded,
    /// Make the message visible again after this delay; do not acknowledge.
    Retry(Duration),
    /// Done with status `failed`; acknowledge; maybe disable the endpoint.
    GiveUp(Option<DisabledReason>),
}

/// The rule table of this module for attempt number `attempt` (1-based).
pub fn after_attempt(attempt: u32, result: AttemptResult, schedule: &RetrySchedule) -> Decision {
    match result {
        AttemptResult::Delivered => Decision::Succeeded,
        AttemptResult::Gone => Decision::GiveUp(Some(DisabledReason::Gone)),
        AttemptResult::Failed(_) => match schedule.delay_after(attempt) {
            Some(delay) => Decision::Retry(delay),
            None => Decision::GiveUp(None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn endpoint(enabled: bool) -> Endpoint {
        let mut ep = Endpoint::new(
            "t".parse().unwrap(),
            "https://example.com".into(),
            vec![],
            OffsetDateTime::now_utc(),
        );
        ep.enabled = enabled;
        ep
    }

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
    fn deleted_and_disabled_endpoints_are_skipped_except_for_tests() {
        assert_eq!(
            check_send(None, Trigger::Event),
            Err(SkipReason::EndpointDeleted)
        );
        assert_eq!(
            check_send(None, Trigger::Test),
            Err(SkipReason::EndpointDeleted)
        );
        let off = endpoint(false);
        assert_eq!(
            check_send(Some(&off), Trigger::Event),
            Err(SkipReason::EndpointDisabled)
        );
        assert_eq!(
            check_send(Some(&off), Trigger::Manual),
            Err(SkipReason::EndpointDisabled)
        );
        assert_eq!(check_send(Some(&off), Trigger::Test), Ok(()));
        assert_eq!(check_send(Some(&endpoint(true)), Trigger::Event), Ok(()));
    }

    #[test]
    fn success_is_done_at_any_attempt() {
        let s = RetrySchedule::default();
        for attempt in 1..=3 {
            assert_eq!(
                after_attempt(attempt, AttemptResult::Delivered, &s),
                Decision::Succeeded
            );
        }
    }

    #[test]
    fn failures_retry_after_60_then_600_seconds_then_give_up() {
        let s = RetrySchedule::default();
        let fail = AttemptResult::Failed(ErrorClass::ServerError);
        assert_eq!(
            after_attempt(1, fail, &s),
            Decision::Retry(Duration::from_secs(60))
        );
        assert_eq!(
            after_attempt(2, fail, &s),
            Decision::Retry(Duration::from_secs(600))
        );
        assert_eq!(after_attempt(3, fail, &s), Decision::GiveUp(None));
    }

    #[test]
    fn gone_disables_at_once_without_retry() {
        let s = RetrySchedule::default();
        assert_eq!(
            after_attempt(1, AttemptResult::Gone, &s),
            Decision::GiveUp(Some(DisabledReason::Gone))
        );
    }

    #[test]
    fn statuses_map_to_results() {
        assert_eq!(AttemptResult::of_status(204), AttemptResult::Delivered);
        assert_eq!(AttemptResult::of_status(410), AttemptResult::Gone);
        assert_eq!(
            AttemptResult::of_status(302),
            AttemptResult::Failed(ErrorClass::Redirect)
        );
        assert_eq!(
            AttemptResult::of_status(404),
            AttemptResult::Failed(ErrorClass::ClientError)
        );
        assert_eq!(
            AttemptResult::of_status(503),
            AttemptResult::Failed(ErrorClass::ServerError)
        );
        assert_eq!(
            AttemptResult::of_status(101),
            AttemptResult::Failed(ErrorClass::Connection)
        );
    }
}
