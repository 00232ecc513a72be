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
//! Before the POST, the endpoint's circuit breaker has its say
//! ([`crate::circuit::gate`]): while it is open, a delivery waits without
//! spending an attempt, and one at a time goes out as the probe. Every
//! logged attempt then feeds the endpoint's health ([`observed`], folded by
//! [`crate::circuit::Circuit::observe`], whose module docs hold that rule
//! table): the consecutive-failure counter, counting a burst of attempts
//! in flight together once; the circuit; and disabling at
//! `DISABLE_AFTER_FAILURES` or on 410. A store or queue fault spends no
//! attempt: the message comes back after [`fault_backoff`].

use std::time::Duration;

use crate::attempt::{AttemptStatus, DeliveryAttempt, ErrorClass};
use crate::circuit::Observed;
use crate::endpoint::{DisabledReason, Endpoint};

pub use crate::chain::*;
use crate::message::Trigger;
pub use crate::schedule::{MAX_RETRIES, MAX_RETRY_DELAY, RetrySchedule};

/// How the endpoint's health sees a logged entry; `None` for a skipped one
/// (nothing was sent). The request started the response time before the
/// entry was made; the time is kept in whole milliseconds, so the start is
/// taken a millisecond earlier still: of two attempts less than a
/// millisecond apart, the later counts as in flight with the earlier.
pub fn observed(entry: &DeliveryAttempt) -> Option<Observed> {
    let result = result_of(entry)?;
    let took = time::Duration::milliseconds(entry.response_time_ms.unwrap_or(0) as i64 + 1);
    Some(Observed {
        started_at: entry.created_at - took,
        logged_at: entry.created_at,
        failed: result != AttemptResult::Delivered,
        gone: result == AttemptResult::Gone,
        probe: entry.probe,
    })
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
    fn an_entry_is_observed_from_when_its_request_started() {
        use crate::attempt::testing::logged;
        let mut e = logged(1, AttemptStatus::Failed, None);
        e.http_status = Some(503);
        e.error_class = Some(ErrorClass::ServerError);
        e.response_time_ms = Some(1500);
        e.probe = true;
        let o = observed(&e).unwrap();
        assert_eq!(
            o.started_at,
            e.created_at - time::Duration::milliseconds(1501)
        );
        assert_eq!(o.logged_at, e.created_at);
        assert!(o.failed && !o.gone && o.probe);
        e.http_status = Some(410);
        e.error_class = Some(ErrorClass::ClientError);
        assert!(observed(&e).unwrap().gone);
        assert_eq!(observed(&logged(1, AttemptStatus::Skipped, None)), None);
        assert!(
            !observed(&logged(1, AttemptStatus::Succeeded, None))
                .unwrap()
                .failed
        );
    }
}
