//! The delivery rules: what to do before and after each attempt. Pure
//! functions over plain data; the Lambda handler and the local server only
//! gather the inputs and carry out the decision.
//!
//! Before an attempt, the delivery's chain in the log says where it stands
//! ([`after_entry`], walked from the first attempt):
//!
//! | latest logged attempt of the delivery | step                                    |
//! |---------------------------------------|-----------------------------------------|
//! | none                                  | make attempt 1                          |
//! | succeeded, skipped, or failed for good| `Done` (ack without sending)            |
//! | failed, retry due within 1 s          | make the next attempt                   |
//! | failed, retry due later               | `NotYet` (put back until it is due)     |
//!
//! Then, for the attempt:
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
//! counter and a success sets it to 0 ([`fold_outcome`]); the endpoint is
//! disabled when the counter reaches `DISABLE_AFTER_FAILURES` or the
//! receiver answered 410 ([`disable_reason`]). A store or queue fault
//! spends no attempt: the message comes back after [`fault_backoff`].

use std::time::Duration;

use time::OffsetDateTime;

use crate::attempt::{AttemptStatus, DeliveryAttempt, ErrorClass};
use crate::endpoint::{DisabledReason, Endpoint};
use crate::ports::EndpointOutcome;

pub use crate::chain::*;
use crate::message::Trigger;
pub use crate::schedule::{MAX_RETRIES, MAX_RETRY_DELAY, RetrySchedule};

/// Folds one endpoint's attempts, oldest first, into one counter update.
pub fn fold_outcome(results: &[(OffsetDateTime, AttemptResult)]) -> Option<EndpointOutcome> {
    let last = results.last()?.0;
    let mut outcome = EndpointOutcome {
        succeeded: false,
        failures: 0,
        gone: false,
        attempted_at: last,
    };
    for (_, result) in results {
        match result {
            AttemptResult::Delivered => {
                outcome.succeeded = true;
                outcome.failures = 0;
            }
            AttemptResult::Gone => {
                outcome.gone = true;
                outcome.failures += 1;
            }
            AttemptResult::Failed(_) => outcome.failures += 1,
        }
    }
    Some(outcome)
}

/// What a logged entry counts as for the endpoint; `None` for a skipped one
/// (nothing was sent).
pub fn result_of(entry: &DeliveryAttempt) -> Option<AttemptResult> {
    match entry.status {
        AttemptStatus::Skipped => None,
        AttemptStatus::Succeeded => Some(AttemptResult::Delivered),
        AttemptStatus::Failed if entry.http_status == Some(410) => Some(AttemptResult::Gone),
        AttemptStatus::Failed => Some(AttemptResult::Failed(
            entry.error_class.unwrap_or(ErrorClass::Connection),
        )),
    }
}

/// Why an enabled endpoint must be disabled now: the receiver said
/// `410 Gone`, or the counter reached the threshold.
pub fn disable_reason(
    consecutive_failures: u32,
    disable_after: u32,
    gone: bool,
) -> Option<DisabledReason> {
    if gone {
        Some(DisabledReason::Gone)
    } else if consecutive_failures >= disable_after {
        Some(DisabledReason::ConsecutiveFailures)
    } else {
        None
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

/// Decides whether a delivery is sent at all: the endpoint to send to, or
/// why it is skipped.
pub fn check_send(endpoint: Option<&Endpoint>, trigger: Trigger) -> Result<&Endpoint, SkipReason> {
    match endpoint {
        None => Err(SkipReason::EndpointDeleted),
        // A test event checks a fixed endpoint before it is re-enabled.
        Some(ep) if !ep.enabled && trigger != Trigger::Test => Err(SkipReason::EndpointDisabled),
        Some(ep) => Ok(ep),
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
        assert_eq!(check_send(Some(&off), Trigger::Test), Ok(&off));
        let on = endpoint(true);
        assert_eq!(check_send(Some(&on), Trigger::Event), Ok(&on));
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

    #[test]
    fn a_success_resets_the_failures_before_it() {
        let at = |s: i64| OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(s);
        let fail = AttemptResult::Failed(ErrorClass::ServerError);
        let o = fold_outcome(&[
            (at(1), fail),
            (at(2), AttemptResult::Delivered),
            (at(3), fail),
        ])
        .unwrap();
        assert!(o.succeeded);
        assert_eq!(o.failures, 1);
        assert_eq!(o.attempted_at, at(3));
        let o = fold_outcome(&[(at(1), fail), (at(2), fail)]).unwrap();
        assert!(!o.succeeded);
        assert_eq!(o.failures, 2);
        assert!(fold_outcome(&[(at(1), AttemptResult::Gone)]).unwrap().gone);
        assert_eq!(fold_outcome(&[]), None);
    }

    #[test]
    fn entries_count_as_what_the_receiver_answered() {
        use crate::attempt::testing::logged;
        let mut e = logged(1, AttemptStatus::Failed, None);
        e.http_status = Some(410);
        e.error_class = Some(ErrorClass::ClientError);
        assert_eq!(result_of(&e), Some(AttemptResult::Gone));
        e.http_status = Some(503);
        e.error_class = Some(ErrorClass::ServerError);
        assert_eq!(
            result_of(&e),
            Some(AttemptResult::Failed(ErrorClass::ServerError))
        );
        assert_eq!(result_of(&logged(1, AttemptStatus::Skipped, None)), None);
        assert_eq!(
            result_of(&logged(1, AttemptStatus::Succeeded, None)),
            Some(AttemptResult::Delivered)
        );
    }

    #[test]
    fn an_endpoint_is_disabled_at_the_default_threshold_or_on_gone() {
        let threshold = crate::config::Settings::default().disable_after_failures;
        assert_eq!(threshold, 10);
        assert_eq!(disable_reason(9, threshold, false), None);
        assert_eq!(
            disable_reason(10, threshold, false),
            Some(DisabledReason::ConsecutiveFailures)
        );
        assert_eq!(
            disable_reason(1, threshold, true),
            Some(DisabledReason::Gone)
        );
    }
}
