//! Per-endpoint rate limits (`rateLimitPerSecond`): when a delivery to a
//! limited endpoint may go out. Pure functions over plain data; the
//! delivery function takes a slot from the store ([`crate::ports::RateLimits`])
//! and carries out what [`pace`] says.
//!
//! # How it is enforced across concurrent invocations
//! Every delivery function invocation shares one counter per endpoint and
//! unix second (the *window*), kept in the store: before its POST a
//! delivery increments the counter of the second it is in and learns its
//! *position* (an atomic `ADD` on DynamoDB, one write unit). Position `p`
//! of window `w` owns the slot at `w + 1 s + (p - 1) / limit`: the
//! limit's slots of each window are spread evenly over the *next* second,
//! so every slot lies after the take that won it and a slot is used once.
//!
//! | position | slot | effect |
//! |---|---|---|
//! | ≤ limit | ahead of now (always, unless the take answered late) | sleeps until the slot (under 2 s), then sends |
//! | ≤ limit | passed more than [`LATE_SLOT_GRACE`] ago | the slot is lost; put back for 1 s, spending no attempt |
//! | > limit | none | put back for `(p - 1) / limit` whole seconds, spending no attempt |
//!
//! Sends 1/limit apart mean that *any* second, not only each calendar
//! second, holds at most `limit` of them: a counter per window alone
//! would allow `limit` at the end of one second and `limit` more at the
//! start of the next. The guarantee holds up to the skew of the hosts'
//! clocks (Lambda's are synchronised to the Amazon Time Sync Service, well
//! under a millisecond) and the jitter of the network to the receiver.
//!
//! Position `p > limit` says how many windows of senders are ahead of the
//! delivery, so it comes back in window `w + (p - 1) / limit`: a burst of
//! `n` spreads itself over `n / limit` seconds, each delivery put back
//! once, without a spread of its own. The wait is whole seconds because
//! SQS counts visibility in whole seconds. Order is not kept: one that
//! comes back competes with new deliveries for its window, and waits
//! again if it loses. Every trigger takes a slot (events, retries,
//! resends, test events, an open circuit's probe): the limit is what the
//! receiver can take, whatever sends it.
//!
//! # Cost
//! An endpoint without a limit pays nothing. A limited delivery pays one
//! write unit per take ($0.625 per million on demand), and each time it
//! is put back one `ChangeMessageVisibility` and a share of one more
//! receive (about $0.44 per million waits); a delivery that sends sleeps
//! until its slot, under 2 s of the function's time, slept together with
//! the batch's other deliveries (at 256 MB, $3.33 per million seconds).
//! Sleeping rather than putting back: SQS cannot hand a message out again
//! sooner than a second, so pacing within the second has to happen here.
//! The counters expire by TTL a minute after their second, so they cost
//! no storage.
//! [`MAX_RATE_LIMIT`] is 1,000 because one DynamoDB partition key takes
//! about 1,000 write units a second: every take of one endpoint's window
//! writes the same item.

use std::time::Duration;

use time::OffsetDateTime;

/// The lowest limit an endpoint may have.
pub const MIN_RATE_LIMIT: u32 = 1;
/// The highest limit: about what one DynamoDB item accepts in writes per
/// second, and every take of a window writes the same item.
pub const MAX_RATE_LIMIT: u32 = 1000;
/// How long past its slot a delivery may still send: the store's answer
/// to a take made at the very end of a window can arrive after the first
/// slot of the next second.
pub const LATE_SLOT_GRACE: Duration = Duration::from_millis(20);
/// How long a window's counter is kept after its second (its TTL).
pub const WINDOW_RETENTION: Duration = Duration::from_secs(60);

/// A limit outside [`MIN_RATE_LIMIT`]..=[`MAX_RATE_LIMIT`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "rateLimitPerSecond must be between {MIN_RATE_LIMIT} and {MAX_RATE_LIMIT} (or null for no limit), got {0}"
)]
pub struct RateLimitOutOfRange(pub u64);

/// Checks a requested limit.
pub fn check_limit(limit: u64) -> Result<u32, RateLimitOutOfRange> {
    match u32::try_from(limit) {
        Ok(l) if (MIN_RATE_LIMIT..=MAX_RATE_LIMIT).contains(&l) => Ok(l),
        _ => Err(RateLimitOutOfRange(limit)),
    }
}

/// The window (unix second) a take at `now` counts in.
pub fn window_of(now: OffsetDateTime) -> i64 {
    now.unix_timestamp()
}

/// What a delivery does after taking position `position` of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Send once this has passed (zero: at once).
    SendAfter(Duration),
    /// Put the delivery back for this long, spending no attempt.
    Wait(Duration),
}

/// The rule table of the module docs: what position `position` (1-based,
/// from the store) of window `window` under `limit` means at `now`.
pub fn pace(limit: u32, window: i64, position: u64, now: OffsetDateTime) -> Pace {
    let limit = u64::from(limit.max(MIN_RATE_LIMIT));
    if position > limit {
        return Pace::Wait(Duration::from_secs((position - 1) / limit));
    }
    let slot = OffsetDateTime::from_unix_timestamp(window + 1)
        .map(|start| start + slot_offset(limit, position))
        .unwrap_or(now);
    if slot >= now {
        return Pace::SendAfter((slot - now).unsigned_abs());
    }
    if (now - slot).unsigned_abs() <= LATE_SLOT_GRACE {
        Pace::SendAfter(Duration::ZERO)
    } else {
        Pace::Wait(Duration::from_secs(1))
    }
}

/// Where in its second slot `position` of `limit` lies.
fn slot_offset(limit: u64, position: u64) -> Duration {
    Duration::from_nanos((position.saturating_sub(1)) * 1_000_000_000 / limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 12:00:00.300 on some day, in window `W`.
    const W: i64 = 1_800_000_000;

    fn at(ms_into_window: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(W).unwrap()
            + time::Duration::milliseconds(ms_into_window)
    }

    #[test]
    fn limits_from_1_to_1000_are_accepted() {
        assert_eq!(check_limit(1), Ok(1));
        assert_eq!(check_limit(5), Ok(5));
        assert_eq!(check_limit(1000), Ok(1000));
        for bad in [0, 1001, u64::from(u32::MAX) + 1] {
            assert_eq!(check_limit(bad), Err(RateLimitOutOfRange(bad)));
        }
        assert!(
            RateLimitOutOfRange(0)
                .to_string()
                .contains("rateLimitPerSecond")
        );
    }

    #[test]
    fn the_window_is_the_unix_second() {
        assert_eq!(window_of(at(0)), W);
        assert_eq!(window_of(at(999)), W);
        assert_eq!(window_of(at(1000)), W + 1);
    }

    #[test]
    fn positions_within_the_limit_get_evenly_spaced_slots_in_the_next_second() {
        // 5 per second: slots at +1.0, +1.2, +1.4, +1.6, +1.8 s.
        let now = at(300);
        let sends: Vec<Pace> = (1..=5).map(|p| pace(5, W, p, now)).collect();
        let ms = [700, 900, 1100, 1300, 1500];
        for (got, ms) in sends.iter().zip(ms) {
            assert_eq!(*got, Pace::SendAfter(Duration::from_millis(ms)));
        }
        // At 1,000 per second the last slot is 999 ms into the next second.
        assert_eq!(
            pace(1000, W, 1000, at(999)),
            Pace::SendAfter(Duration::from_millis(1000))
        );
    }

    #[test]
    fn positions_above_the_limit_wait_a_second_per_window_ahead() {
        let now = at(300);
        assert_eq!(pace(5, W, 6, now), Pace::Wait(Duration::from_secs(1)));
        assert_eq!(pace(5, W, 10, now), Pace::Wait(Duration::from_secs(1)));
        assert_eq!(pace(5, W, 11, now), Pace::Wait(Duration::from_secs(2)));
        assert_eq!(pace(5, W, 50, now), Pace::Wait(Duration::from_secs(9)));
        assert_eq!(pace(1, W, 2, now), Pace::Wait(Duration::from_secs(1)));
        assert_eq!(
            pace(1000, W, 5_001, now),
            Pace::Wait(Duration::from_secs(5))
        );
    }

    #[test]
    fn a_slot_missed_by_a_late_answer_is_given_up() {
        // The take was made at the end of window W; its answer came after
        // the first slot of W's next second (W + 1.000).
        assert_eq!(
            pace(5, W, 1, at(1_015)),
            Pace::SendAfter(Duration::ZERO),
            "within the grace"
        );
        assert_eq!(pace(5, W, 1, at(1_050)), Pace::Wait(Duration::from_secs(1)));
        // A later slot of the same window is still ahead.
        assert_eq!(
            pace(5, W, 2, at(1_050)),
            Pace::SendAfter(Duration::from_millis(150))
        );
    }

    #[test]
    fn any_second_holds_at_most_the_limit_of_slots() {
        // The slots of three consecutive full windows at 5 and at 7 per second.
        for limit in [5u32, 7] {
            let slots: Vec<Duration> = (0..3)
                .flat_map(|w| {
                    (1..=u64::from(limit))
                        .map(move |p| Duration::from_secs(w + 1) + slot_offset(u64::from(limit), p))
                })
                .collect();
            for (i, start) in slots.iter().enumerate() {
                let within = slots[i..]
                    .iter()
                    .take_while(|s| **s < *start + Duration::from_secs(1))
                    .count();
                assert!(
                    within <= limit as usize,
                    "{limit}/s: {within} from {start:?}"
                );
            }
        }
    }
}
