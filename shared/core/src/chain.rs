//! Where a delivery's chain of attempts stands, and when a message comes
//! back: before an attempt, after a fault, and within SQS's 12-hour
//! visibility limit. Pure functions; re-exported by [`crate::policy`],
//! whose module docs hold the rule tables.

use std::time::Duration;

use time::OffsetDateTime;

use crate::attempt::{AttemptStatus, DeliveryAttempt};

/// A retry due this close is made now rather than waited for: SQS
/// visibility is counted in whole seconds.
pub const EARLY_TOLERANCE: Duration = Duration::from_secs(1);

/// Where a delivery stands after one of its logged attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Nothing more to do: acknowledge without sending.
    Done,
    /// The next attempt is due in this long: put the message back.
    NotYet(Duration),
    /// Attempt number `attempt` is due (scheduled for `due`): look it up in
    /// the log, and make it if it is not there.
    Continue {
        /// Its number.
        attempt: u32,
        /// When it was scheduled; part of its delivery id.
        due: OffsetDateTime,
    },
}

/// The step after `entry`, the latest attempt found in a delivery's chain.
pub fn after_entry(entry: &DeliveryAttempt, now: OffsetDateTime, max_attempts: u32) -> NextStep {
    match entry.next_attempt_at {
        Some(due) if entry.status == AttemptStatus::Failed && entry.attempt < max_attempts => {
            let wait = due - now;
            if wait > EARLY_TOLERANCE {
                NextStep::NotYet(wait.unsigned_abs())
            } else {
                NextStep::Continue {
                    attempt: entry.attempt + 1,
                    due,
                }
            }
        }
        _ => NextStep::Done,
    }
}

/// The longest visibility SQS accepts, counted from the receive.
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// The visibility that makes a message come back after `delay`, given it
/// was received `since_receive` ago: SQS refuses a visibility that ends more
/// than 12 hours after the receive, so a longer wait is cut there (the copy
/// then comes back early and is put back for the rest, see [`after_entry`]).
pub fn visibility_for(delay: Duration, since_receive: Duration) -> Duration {
    let room = MAX_VISIBILITY.saturating_sub(since_receive + Duration::from_secs(1));
    delay.min(room)
}

/// Receives after which the queue gives a message up to its dead-letter
/// queue (the SQS redrive policy; the embedded queue does the same).
/// Attempts are counted in the delivery log, not here: this bounds receives
/// that made no attempt — about 22 hours of store faults at
/// [`fault_backoff`]'s pace — and an unparseable message leaves within
/// seconds, being put back at once each time.
pub const MAX_RECEIVES: u32 = 100;

/// The longest wait after a fault: SQS's largest message delay, so a long
/// store outage costs four receives an hour.
pub const MAX_FAULT_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// The first wait after a fault, in production ([`fault_backoff`]'s unit;
/// tests scale it down).
pub const FAULT_BACKOFF_UNIT: Duration = Duration::from_secs(1);

/// How long a message waits after a store or queue fault, on its
/// `receive_count`-th receive: 1, 2, 4 … units, up to 900 units (with the
/// production unit of 1 s: up to [`MAX_FAULT_BACKOFF`]). A throttle clears
/// in seconds; an outage costs few receives, so the redrive policy
/// ([`MAX_RECEIVES`]) is reached only after about 22 hours of it.
pub fn fault_backoff(receive_count: u32, unit: Duration) -> Duration {
    let exponent = receive_count.saturating_sub(1).min(20);
    let cap = MAX_FAULT_BACKOFF.as_secs() as u32;
    unit * (1u32 << exponent).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::testing::logged;
    use crate::policy::RetrySchedule;

    #[test]
    fn a_chain_ends_at_a_success_a_skip_or_its_last_attempt() {
        let now = OffsetDateTime::now_utc();
        let max = RetrySchedule::default().max_attempts();
        for status in [AttemptStatus::Succeeded, AttemptStatus::Skipped] {
            assert_eq!(
                after_entry(&logged(1, status, None), now, max),
                NextStep::Done
            );
        }
        assert_eq!(
            after_entry(&logged(3, AttemptStatus::Failed, None), now, max),
            NextStep::Done
        );
        // A retry beyond the schedule (a longer schedule before a deploy) is not made.
        assert_eq!(
            after_entry(&logged(3, AttemptStatus::Failed, Some(now)), now, max),
            NextStep::Done
        );
    }

    #[test]
    fn a_retry_is_made_when_due_and_waited_for_otherwise() {
        let now = OffsetDateTime::now_utc();
        let due_soon = now + time::Duration::milliseconds(900);
        assert_eq!(
            after_entry(&logged(1, AttemptStatus::Failed, Some(due_soon)), now, 3),
            NextStep::Continue {
                attempt: 2,
                due: due_soon
            }
        );
        let later = now + time::Duration::seconds(60);
        assert_eq!(
            after_entry(&logged(1, AttemptStatus::Failed, Some(later)), now, 3),
            NextStep::NotYet(Duration::from_secs(60))
        );
    }

    #[test]
    fn a_visibility_never_ends_past_twelve_hours_after_the_receive() {
        let hour = Duration::from_secs(3600);
        assert_eq!(
            visibility_for(Duration::from_secs(60), Duration::ZERO),
            Duration::from_secs(60)
        );
        assert_eq!(
            visibility_for(12 * hour, Duration::from_secs(5)),
            12 * hour - Duration::from_secs(6)
        );
        assert_eq!(visibility_for(hour, 13 * hour), Duration::ZERO);
    }

    #[test]
    fn faults_back_off_from_a_second_to_fifteen_minutes() {
        assert_eq!(fault_backoff(0, FAULT_BACKOFF_UNIT), Duration::from_secs(1));
        assert_eq!(fault_backoff(1, FAULT_BACKOFF_UNIT), Duration::from_secs(1));
        assert_eq!(fault_backoff(2, FAULT_BACKOFF_UNIT), Duration::from_secs(2));
        assert_eq!(
            fault_backoff(10, FAULT_BACKOFF_UNIT),
            Duration::from_secs(512)
        );
        assert_eq!(fault_backoff(11, FAULT_BACKOFF_UNIT), MAX_FAULT_BACKOFF);
        assert_eq!(
            fault_backoff(u32::MAX, FAULT_BACKOFF_UNIT),
            MAX_FAULT_BACKOFF
        );
        // An hour of outage costs a handful of the redrive policy's 100
        // receives; 22 hours of it stay within them.
        let (mut waited, mut receives) = (Duration::ZERO, 0);
        while waited < Duration::from_secs(3600) {
            receives += 1;
            waited += fault_backoff(receives, FAULT_BACKOFF_UNIT);
        }
        assert!(receives <= 16, "{receives}");
        while waited < Duration::from_secs(22 * 3600) {
            receives += 1;
            waited += fault_backoff(receives, FAULT_BACKOFF_UNIT);
        }
        assert!(receives < MAX_RECEIVES, "{receives}");
        assert_eq!(
            fault_backoff(3, Duration::from_millis(10)),
            Duration::from_millis(40),
            "scaled"
        );
    }
}
