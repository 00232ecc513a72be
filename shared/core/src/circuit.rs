//! The circuit breaker of an endpoint, and how its failures are counted.
//! Pure functions over plain data: the counting of log entries (embedded
//! store, DynamoDB stream) folds each attempt into an endpoint's
//! [`Circuit`] with [`Circuit::observe`]; the delivery function asks
//! [`gate`] before each POST.
//!
//! | circuit | attempt                          | effect                                                                 |
//! |---------|----------------------------------|------------------------------------------------------------------------|
//! | closed  | succeeded                        | counter → 0                                                            |
//! | closed  | failed, started after the last counted failure was counted | counter + 1                                  |
//! | closed  | failed, in flight with the last counted failure | not counted again (a burst counts once)                 |
//! | closed  | failed, `open_after` of the last `window` attempts failed | **opens**; next probe after the schedule's first delay |
//! | open    | a delivery comes back            | waits until `nextAttemptAt`, spending no attempt                       |
//! | open    | `nextAttemptAt` has come         | one delivery claims the probe and is sent                              |
//! | open    | a never-tried delivery, within the round's spread and 2 s | yields the probe to one already tried (below) |
//! | open    | the probe is in flight (leased)  | waits until its lease ends, without trying to claim                    |
//! | open    | the probe failed                 | counter + 1; next probe after the schedule's next delay (then its last) |
//! | open    | any attempt succeeded            | **closes**, counter → 0; the waiting deliveries go out                 |
//! | any     | counter reaches `DISABLE_AFTER_FAILURES`, or 410 | disabled (counter stays at the threshold)               |
//!
//! # Thresholds
//! The circuit opens when 20 of the endpoint's last 32 attempts failed
//! (`CIRCUIT_OPEN_AFTER`, `CIRCUIT_WINDOW`). A receiver that fails one
//! attempt in five at random reaches 20 of 32 about once in 10⁷ windows,
//! so it never opens and each failed delivery is retried on its own
//! schedule; a receiver that is down opens it after 20 failed POSTs, from a
//! healthy history or none. While open, one probe at a time goes out at the
//! retry schedule's pace, so ten consecutive failures — the default
//! `DISABLE_AFTER_FAILURES` — take the probes' time (with the default
//! schedule `60,600`: about an hour and a half), not one burst.
//!
//! # Cost of waiting
//! A waiting delivery is put back with one `ChangeMessageVisibility` until
//! the next probe is due (plus a spread of up to a tenth of the wait, so
//! the waiting deliveries do not all return at once), and received once
//! more then; one returning while the probe is in flight waits for its
//! lease. No log read or write is made for it, and only the first delivery
//! back tries to claim the probe; a never-tried one that comes back first
//! reads its chain and yields once more for the round's spread and 2 s. At the default schedule (probes after 1
//! minute, then every 10) an hour-long outage of one endpoint with 1,000
//! waiting deliveries takes about seven probe rounds of up to two returns
//! each: some 14,000 `ChangeMessageVisibility` and 1,400 `ReceiveMessage`
//! requests (about $0.006), and one endpoint read per received batch of
//! ten (about 1,400 read units, $0.0004). A healthy endpoint pays nothing
//! extra: its circuit is read with the endpoint, as before.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::endpoint::DisabledReason;
use crate::message::Trigger;
use crate::schedule::RetrySchedule;

/// Most attempts the window of recent outcomes can hold (bits of a `u64`).
pub const MAX_WINDOW: u32 = 64;

/// Whether an endpoint's deliveries go out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CircuitState {
    /// Deliveries go out as they come.
    #[default]
    Closed,
    /// The endpoint is failing: deliveries wait, one probe at a time goes out.
    Open,
}

/// An endpoint's delivery health, kept by the counting of its log entries
/// (the failure counter itself is `Endpoint::consecutive_failures`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Circuit {
    /// Closed or open.
    #[serde(default)]
    pub state: CircuitState,
    /// Outcomes of the latest attempts, newest in the lowest bit (1 = failed).
    #[serde(default)]
    pub recent: u64,
    /// How many attempts `recent` holds.
    #[serde(default)]
    pub recent_len: u32,
    /// When the circuit opened; `None` while closed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    /// When the next probe may go out; `None` while closed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Probes that failed since the circuit opened: paces the next one.
    #[serde(default)]
    pub failed_probes: u32,
    /// When the latest counted failure was logged: a failed attempt that
    /// started before then was in flight with it and is not counted again.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_counted_failure_at: Option<OffsetDateTime>,
}

/// The thresholds of the rule table (settings `CIRCUIT_WINDOW`,
/// `CIRCUIT_OPEN_AFTER`, `DISABLE_AFTER_FAILURES`, and the retry schedule
/// that paces probes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRules {
    /// Recent attempts the circuit looks at (at most [`MAX_WINDOW`]).
    pub window: u32,
    /// Failures among them that open it.
    pub open_after: u32,
    /// Counted consecutive failures that disable the endpoint.
    pub disable_after: u32,
    /// Delays between probes: the retry schedule's, then its last repeated.
    pub probe_delays: Vec<Duration>,
}

impl Default for HealthRules {
    fn default() -> Self {
        Self::new(32, 20, 10, &RetrySchedule::default())
    }
}

impl HealthRules {
    /// Rules from the settings' values.
    pub fn new(window: u32, open_after: u32, disable_after: u32, schedule: &RetrySchedule) -> Self {
        Self {
            window: window.min(MAX_WINDOW),
            open_after,
            disable_after,
            probe_delays: schedule.delays().to_vec(),
        }
    }

    /// How long after a counted failure was logged another failure still
    /// counts as in flight with it: half the schedule's first delay. The
    /// embedded store logs an attempt within a millisecond, so a steady
    /// stream to a receiver that is down would otherwise count every event
    /// before the circuit could open; retries and probes come a whole delay
    /// later (a retry up to a second early), so each of them counts.
    /// Without retries, only attempts in flight together count once.
    pub fn in_flight_gap(&self) -> Duration {
        self.probe_delays.first().copied().unwrap_or_default() / 2
    }

    /// The wait before the next probe once `failed_probes` probes failed.
    pub fn probe_delay(&self, failed_probes: u32) -> Duration {
        let d = &self.probe_delays;
        d.get(failed_probes as usize)
            .or(d.last())
            .copied()
            // A schedule without retries: probe once a minute.
            .unwrap_or(Duration::from_secs(60))
    }
}

/// One logged attempt as the endpoint's health sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// When the request went out.
    pub started_at: OffsetDateTime,
    /// When the attempt was logged.
    pub logged_at: OffsetDateTime,
    /// Not a 2xx in time.
    pub failed: bool,
    /// The receiver answered `410 Gone`.
    pub gone: bool,
    /// It went out as the open circuit's probe.
    pub probe: bool,
}

/// What [`Circuit::observe`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Observation {
    /// The attempt was counted as a consecutive failure.
    pub counted: bool,
    /// The endpoint must be disabled now, for this reason.
    pub disable: Option<DisabledReason>,
    /// The circuit opened or closed with this attempt.
    pub changed: Option<CircuitState>,
}

impl Circuit {
    /// Failed attempts among the window's latest `window` outcomes.
    pub fn recent_failures(&self, window: u32) -> u32 {
        let mask = if window >= MAX_WINDOW {
            u64::MAX
        } else {
            (1u64 << window) - 1
        };
        (self.recent & mask).count_ones()
    }

    /// Folds one attempt into the circuit and the endpoint's counter
    /// (`consecutive_failures`, `enabled` as stored), in log order.
    pub fn observe(
        &mut self,
        consecutive_failures: &mut u32,
        enabled: bool,
        o: &Observed,
        rules: &HealthRules,
    ) -> Observation {
        let mut seen = Observation::default();
        self.recent = (self.recent << 1) | u64::from(o.failed);
        self.recent_len = (self.recent_len + 1).min(rules.window.min(MAX_WINDOW));
        if !o.failed {
            *consecutive_failures = 0;
            self.last_counted_failure_at = None;
            if self.state == CircuitState::Open {
                seen.changed = Some(CircuitState::Closed);
            }
            self.state = CircuitState::Closed;
            self.failing_since = None;
            self.next_attempt_at = None;
            self.failed_probes = 0;
            return seen;
        }
        // A disabled endpoint's counter stays where disabling left it.
        seen.counted = enabled
            && self
                .last_counted_failure_at
                .is_none_or(|t| o.started_at > t + rules.in_flight_gap());
        if seen.counted {
            *consecutive_failures = consecutive_failures.saturating_add(1);
            self.last_counted_failure_at = Some(o.logged_at);
        }
        match self.state {
            CircuitState::Closed if self.recent_failures(rules.window) >= rules.open_after => {
                self.state = CircuitState::Open;
                self.failing_since = Some(o.logged_at);
                self.failed_probes = 0;
                self.next_attempt_at = Some(o.logged_at + rules.probe_delay(0));
                seen.changed = Some(CircuitState::Open);
            }
            CircuitState::Open if o.probe => {
                self.failed_probes += 1;
                self.next_attempt_at = Some(o.logged_at + rules.probe_delay(self.failed_probes));
            }
            _ => {}
        }
        if enabled {
            seen.disable = if o.gone {
                Some(DisabledReason::Gone)
            } else if *consecutive_failures >= rules.disable_after {
                Some(DisabledReason::ConsecutiveFailures)
            } else {
                None
            };
        }
        seen
    }
}

/// Logs (and counts) a circuit that opened or closed.
pub fn report_change(
    tenant: &crate::ids::TenantId,
    endpoint: crate::ids::EndpointId,
    state: CircuitState,
    consecutive_failures: u32,
) {
    crate::metrics::circuit_changed(state);
    match state {
        CircuitState::Open => tracing::warn!(
            tenant_id = %tenant, endpoint_id = %endpoint, consecutive_failures,
            "circuit opened: deliveries wait for a probe to succeed"
        ),
        CircuitState::Closed => tracing::info!(
            tenant_id = %tenant, endpoint_id = %endpoint,
            "circuit closed: deliveries go out again"
        ),
    }
}

/// Whether a delivery due now goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Send it.
    Send,
    /// The circuit is open and a probe is due: send it if the probe can be
    /// claimed, else wait.
    Probe,
    /// Put it back for this long, spending no attempt.
    Wait(Duration),
}

/// Whether a delivery goes out now, given the endpoint's circuit and probe
/// lease as read. Test events always go (they check a receiver); `spread`
/// (0..1, from the delivery's id) staggers the return of waiting deliveries.
pub fn gate(
    circuit: &Circuit,
    lease_until: Option<OffsetDateTime>,
    trigger: Trigger,
    now: OffsetDateTime,
    spread: f64,
) -> Gate {
    if circuit.state == CircuitState::Closed || trigger == Trigger::Test {
        return Gate::Send;
    }
    match (circuit.next_attempt_at, lease_until) {
        (Some(next), _) if next > now => Gate::Wait(staggered((next - now).unsigned_abs(), spread)),
        // A probe is in flight: no claim to try, its outcome is awaited.
        (_, Some(lease)) if lease > now => {
            Gate::Wait(wait_for_probe((lease - now).unsigned_abs(), spread))
        }
        _ => Gate::Probe,
    }
}

/// How late past its wait a waiting delivery may come back: SQS sets a
/// visibility in whole seconds (a wait is rounded up, by up to a second)
/// and a message that became visible is received a moment later.
pub const RETURN_SLACK: Duration = Duration::from_secs(2);

/// Whether a delivery due at `attempt` may claim the open circuit's probe
/// now (`None`), or how long it yields first. A delivery never tried yields
/// for the window in which the waiting deliveries return (the round's
/// spread plus [`RETURN_SLACK`]) to one that was: it is the older work, and
/// a receiver that fails only first requests (one that fails once per
/// event) recovers on a retry, where a first attempt as the probe would
/// fail, count, and in ten rounds disable a receiver that answers every
/// retry.
pub fn probe_turn(
    circuit: &Circuit,
    rules: &HealthRules,
    attempt: u32,
    now: OffsetDateTime,
    spread: f64,
) -> Option<Duration> {
    let next = circuit.next_attempt_at?;
    if attempt > 1 {
        return None;
    }
    let round = rules.probe_delay(circuit.failed_probes);
    let first_tries_from = next + spread_window(round) + RETURN_SLACK;
    (now < first_tries_from).then(|| staggered((first_tries_from - now).unsigned_abs(), spread))
}

/// The wait of a delivery that found the probe taken: until the probe's
/// outcome is known (its lease, at least a second), staggered.
pub fn wait_for_probe(lease_left: Duration, spread: f64) -> Duration {
    staggered(lease_left.max(Duration::from_secs(1)), spread)
}

/// `wait` plus up to a tenth of it (at most a minute), by `spread` in 0..1.
fn staggered(wait: Duration, spread: f64) -> Duration {
    wait + spread_window(wait).mul_f64(spread.clamp(0.0, 1.0))
}

/// How far past a wait of `wait` the waiting deliveries' returns spread.
fn spread_window(wait: Duration) -> Duration {
    (wait / 10).min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests;
