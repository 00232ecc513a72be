//! Recover: which events an endpoint is sent again when its tenant asks to
//! recover a window of its deliveries (`POST .../recover`). A pure fold:
//! the API reads the endpoint's delivery log from the window's start to now
//! and hands each entry to a [`Recovery`], which keeps only the end of each
//! chain of attempts, so its memory grows with the chains, not with the
//! entries or their response bodies.
//!
//! An event belongs to the window `[since, until)` when one of its attempts
//! to the endpoint was made in it. Whether it is sent again depends on all
//! of its chains to the endpoint (one per delivery: the fan-out, each
//! resend, test or earlier recover), as logged up to now:
//!
//! | the event's attempts to the endpoint | recovered |
//! |---|---|
//! | none in the window | no |
//! | a chain is still going: its latest attempt failed and a retry is due (even overdue) | no: its retries are not over |
//! | the latest of all succeeded | no |
//! | the latest of all failed, and no retry follows | yes, once |
//! | the latest of all was skipped (endpoint disabled or deleted) | yes, once |
//!
//! "Latest" is by the time an attempt was made, whatever its chain: an event
//! whose fan-out failed and whose resend succeeded later is not recovered;
//! one that a later chain failed for again is. However many chains an event
//! has, it is recovered once.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use time::OffsetDateTime;

use crate::attempt::{AttemptStatus, DeliveryAttempt};
use crate::chain::{NextStep, after_entry};
use crate::ids::{DeliveryId, EventId, MessageId};

/// The end of one chain of attempts, as far as entries have been added.
#[derive(Debug, Clone)]
struct ChainEnd {
    event_id: EventId,
    /// When its latest attempt was made, and that attempt's id (to order
    /// two attempts of one millisecond).
    latest: (OffsetDateTime, DeliveryId),
    status: AttemptStatus,
    /// Its latest attempt is followed by another one.
    going: bool,
    /// One of its attempts was made in the window.
    in_window: bool,
}

impl ChainEnd {
    /// Takes in another attempt of the same chain, or another chain's end
    /// of the same event: in the window if either was, and the later
    /// attempt's time and status. True when `latest` was the later.
    fn absorb(
        &mut self,
        latest: (OffsetDateTime, DeliveryId),
        status: AttemptStatus,
        in_window: bool,
    ) -> bool {
        self.in_window |= in_window;
        let later = latest > self.latest;
        if later {
            self.latest = latest;
            self.status = status;
        }
        later
    }
}

/// Folds an endpoint's log entries, in any order, into the events to
/// deliver again (see the module docs for the rules).
#[derive(Debug, Clone)]
pub struct Recovery {
    since: OffsetDateTime,
    until: OffsetDateTime,
    now: OffsetDateTime,
    max_attempts: u32,
    chains: HashMap<MessageId, ChainEnd>,
}

impl Recovery {
    /// A recovery of the window `[since, until)`, judged at `now` under a
    /// retry schedule of `max_attempts` attempts per chain.
    pub fn new(
        since: OffsetDateTime,
        until: OffsetDateTime,
        now: OffsetDateTime,
        max_attempts: u32,
    ) -> Self {
        Self {
            since,
            until,
            now,
            max_attempts,
            chains: HashMap::new(),
        }
    }

    /// Takes one log entry into account.
    pub fn add(&mut self, entry: &DeliveryAttempt) {
        let in_window = (self.since..self.until).contains(&entry.created_at);
        let latest = (entry.created_at, entry.id);
        let going = after_entry(entry, self.now, self.max_attempts) != NextStep::Done;
        match self.chains.entry(entry.message_id) {
            // Whether a chain goes on is up to its latest attempt alone.
            Entry::Occupied(chain) => {
                let chain = chain.into_mut();
                if chain.absorb(latest, entry.status, in_window) {
                    chain.going = going;
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(ChainEnd {
                    event_id: entry.event_id.clone(),
                    latest,
                    status: entry.status,
                    going,
                    in_window,
                });
            }
        }
    }

    /// The events to deliver again, each once, oldest latest attempt first
    /// (so a receiver gets them back in about their original order).
    pub fn events(self) -> Vec<EventId> {
        let mut events: HashMap<EventId, ChainEnd> = HashMap::new();
        for chain in self.chains.into_values() {
            match events.get_mut(&chain.event_id) {
                None => {
                    events.insert(chain.event_id.clone(), chain);
                }
                // Any chain still going holds its event back.
                Some(event) => {
                    event.absorb(chain.latest, chain.status, chain.in_window);
                    event.going |= chain.going;
                }
            }
        }
        let mut due: Vec<ChainEnd> = events
            .into_values()
            .filter(|e| e.in_window && !e.going && e.status != AttemptStatus::Succeeded)
            .collect();
        due.sort_by_key(|e| e.latest);
        due.into_iter().map(|e| e.event_id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::testing::logged;
    use crate::endpoint::Endpoint;
    use crate::message::Trigger;
    use crate::policy::{RetrySchedule, SkipReason, check_send};
    use time::Duration;

    /// Builds the log of a scenario: entries of named events and chains.
    struct Log {
        start: OffsetDateTime,
        entries: Vec<DeliveryAttempt>,
        chains: HashMap<(&'static str, u32), MessageId>,
    }

    impl Log {
        fn new() -> Self {
            Self {
                start: logged(1, AttemptStatus::Failed, None).created_at,
                entries: Vec::new(),
                chains: HashMap::new(),
            }
        }

        /// Attempt `attempt` of chain `chain` of `event`, made `minute`
        /// minutes after the start, its retry (if any) due `retry_in` after it.
        fn add(
            &mut self,
            event: &'static str,
            chain: u32,
            attempt: u32,
            minute: i64,
            status: AttemptStatus,
            retry_in: Option<Duration>,
        ) -> &mut Self {
            let at = self.start + Duration::minutes(minute);
            let mut entry = logged(attempt, status, retry_in.map(|d| at + d));
            entry.event_id = event.parse().unwrap();
            entry.message_id = *self
                .chains
                .entry((event, chain))
                .or_insert_with(MessageId::generate);
            entry.created_at = at;
            self.entries.push(entry);
            self
        }

        /// The events recovered from the window of minutes `[from, to)`,
        /// judged `now` minutes after the start, the entries added in the
        /// order they were logged or `reversed` (as the log reads them).
        fn recover(&self, from: i64, to: i64, now: i64, reversed: bool) -> Vec<String> {
            let at = |m: i64| self.start + Duration::minutes(m);
            let max = RetrySchedule::default().max_attempts();
            let mut recovery = Recovery::new(at(from), at(to), at(now), max);
            let mut entries: Vec<&DeliveryAttempt> = self.entries.iter().collect();
            if reversed {
                entries.reverse();
            }
            for entry in entries {
                recovery.add(entry);
            }
            recovery
                .events()
                .into_iter()
                .map(|e| e.to_string())
                .collect()
        }
    }

    use AttemptStatus::{Failed, Skipped, Succeeded};
    /// A retry a minute after the attempt, and one due after the test's `now`.
    const RETRY: Option<Duration> = Some(Duration::minutes(1));
    const LATER: Option<Duration> = Some(Duration::minutes(30));

    #[test]
    fn the_rules_row_by_row_in_either_order() {
        let mut log = Log::new();
        log
            // Failed for good: the last attempt of its schedule.
            .add("evt_failed", 1, 1, 10, Failed, RETRY)
            .add("evt_failed", 1, 2, 11, Failed, Some(Duration::minutes(10)))
            .add("evt_failed", 1, 3, 21, Failed, None)
            // Skipped: the endpoint was disabled when it was due.
            .add("evt_skipped", 1, 1, 12, Skipped, None)
            .add("evt_succeeded", 1, 1, 13, Succeeded, None)
            // A retry is due in the future, or overdue: not over yet.
            .add("evt_retrying", 1, 1, 29, Failed, LATER)
            .add("evt_overdue", 1, 1, 14, Failed, RETRY)
            // Failed, then resent and succeeded: nothing to recover.
            .add("evt_resent_ok", 1, 1, 15, Failed, None)
            .add("evt_resent_ok", 2, 1, 16, Succeeded, None)
            // Succeeded, then a resend failed for good: recovered once.
            .add("evt_resent_failed", 1, 1, 17, Succeeded, None)
            .add("evt_resent_failed", 2, 1, 18, Failed, None)
            .add("evt_resent_failed", 3, 1, 19, Skipped, None)
            // One chain failed for good while another still retries.
            .add("evt_two_chains", 1, 2, 20, Failed, LATER)
            .add("evt_two_chains", 2, 1, 22, Failed, None)
            // Outside the window, before and after it.
            .add("evt_before", 1, 1, 5, Failed, None)
            .add("evt_after", 1, 1, 31, Skipped, None)
            // Failed in the window, succeeded after it.
            .add("evt_later_ok", 1, 1, 23, Failed, None)
            .add("evt_later_ok", 2, 1, 32, Succeeded, None);
        for reversed in [false, true] {
            assert_eq!(
                log.recover(10, 30, 40, reversed),
                ["evt_skipped", "evt_resent_failed", "evt_failed"],
                "reversed: {reversed}"
            );
        }
    }

    #[test]
    fn an_event_in_the_window_is_judged_by_attempts_after_it_too() {
        let mut log = Log::new();
        log.add("evt_1", 1, 1, 10, Failed, None)
            .add("evt_1", 2, 1, 50, Skipped, None);
        assert_eq!(log.recover(0, 20, 60, false), ["evt_1"]);
        // A later chain that still retries holds it back.
        let mut log = Log::new();
        log.add("evt_1", 1, 1, 10, Succeeded, None)
            .add("evt_1", 2, 1, 50, Failed, RETRY);
        assert!(log.recover(0, 20, 50, false).is_empty());
    }

    #[test]
    fn a_recovered_delivery_is_skipped_like_a_resend_while_disabled() {
        let tenant = "t".parse().unwrap();
        let now = OffsetDateTime::now_utc();
        let mut off = Endpoint::new(tenant, "https://example.com".into(), vec![], now);
        off.enabled = false;
        assert_eq!(
            check_send(Some(&off), Trigger::Recover),
            Err(SkipReason::EndpointDisabled)
        );
        off.enabled = true;
        assert_eq!(check_send(Some(&off), Trigger::Recover), Ok(&off));
    }
}
