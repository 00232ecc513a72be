//! One test per row of the rule table, at the real defaults.

use super::*;

fn at(ms: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000) + time::Duration::milliseconds(ms)
}

/// An attempt that started at `start` ms and was logged 100 ms later.
fn attempt(start: i64, failed: bool) -> Observed {
    Observed {
        started_at: at(start),
        logged_at: at(start + 100),
        failed,
        gone: false,
        probe: false,
    }
}

struct Endpoint {
    circuit: Circuit,
    failures: u32,
    enabled: bool,
}

impl Endpoint {
    fn new() -> Self {
        Self {
            circuit: Circuit::default(),
            failures: 0,
            enabled: true,
        }
    }

    fn see(&mut self, o: Observed) -> Observation {
        let rules = HealthRules::default();
        let seen = self
            .circuit
            .observe(&mut self.failures, self.enabled, &o, &rules);
        if seen.disable.is_some() {
            self.enabled = false;
        }
        seen
    }
}

#[test]
fn the_defaults_are_twenty_of_thirty_two_and_the_schedule_paces_probes() {
    let rules = HealthRules::default();
    assert_eq!(
        (rules.window, rules.open_after, rules.disable_after),
        (32, 20, 10)
    );
    assert_eq!(rules.probe_delay(0), Duration::from_secs(60));
    assert_eq!(rules.probe_delay(1), Duration::from_secs(600));
    assert_eq!(
        rules.probe_delay(7),
        Duration::from_secs(600),
        "then the last delay"
    );
    let none = HealthRules::new(32, 20, 10, &RetrySchedule::new(vec![]));
    assert_eq!(none.probe_delay(0), Duration::from_secs(60));
}

#[test]
fn a_success_resets_the_counter() {
    let mut ep = Endpoint::new();
    ep.see(attempt(0, true));
    ep.see(attempt(60_000, true));
    assert_eq!(ep.failures, 2);
    ep.see(attempt(120_000, false));
    assert_eq!(ep.failures, 0);
    assert_eq!(ep.circuit.last_counted_failure_at, None);
}

#[test]
fn failures_in_flight_together_count_once() {
    let mut ep = Endpoint::new();
    // Ten attempts started within 50 ms, all logged after the first one.
    for i in 0..10 {
        let seen = ep.see(attempt(i * 5, true));
        assert_eq!(seen.counted, i == 0, "attempt {i}");
    }
    assert_eq!(ep.failures, 1);
    // So does one within half the first retry delay (30 s) of it.
    assert!(!ep.see(attempt(29_000, true)).counted);
    // One that started later counts.
    assert!(ep.see(attempt(31_000, true)).counted);
    assert_eq!(ep.failures, 2);
}

#[test]
fn twenty_failures_of_the_last_thirty_two_open_the_circuit() {
    let mut ep = Endpoint::new();
    for i in 0..32 {
        ep.see(attempt(i * 1_000, false));
    }
    for i in 0..19 {
        let seen = ep.see(attempt(40_000 + i * 1_000, true));
        assert_eq!(seen.changed, None, "failure {i}");
    }
    let seen = ep.see(attempt(60_000, true));
    assert_eq!(seen.changed, Some(CircuitState::Open));
    assert_eq!(ep.circuit.state, CircuitState::Open);
    assert_eq!(ep.circuit.failing_since, Some(at(60_100)));
    assert_eq!(
        ep.circuit.next_attempt_at,
        Some(at(60_100) + Duration::from_secs(60))
    );
}

#[test]
fn one_failure_in_five_never_opens_the_circuit() {
    let mut ep = Endpoint::new();
    for i in 0..10_000 {
        let seen = ep.see(attempt(i * 1_000, i % 5 == 0));
        assert_eq!(seen.changed, None);
    }
    assert_eq!(ep.circuit.state, CircuitState::Closed);
    // A bad stretch of one in two does not either: 16 of 32.
    for i in 0..100 {
        ep.see(attempt(20_000_000 + i * 1_000, i % 2 == 0));
    }
    assert_eq!(ep.circuit.state, CircuitState::Closed);
}

fn opened() -> Endpoint {
    let mut ep = Endpoint::new();
    for i in 0..20 {
        ep.see(attempt(i * 10, true));
    }
    assert_eq!(ep.circuit.state, CircuitState::Open);
    ep
}

#[test]
fn a_failed_probe_counts_and_sets_the_next_one_at_the_schedules_pace() {
    let mut ep = opened();
    let before = ep.failures;
    let probe = Observed {
        probe: true,
        ..attempt(70_000, true)
    };
    assert!(ep.see(probe).counted);
    assert_eq!(ep.failures, before + 1);
    assert_eq!(ep.circuit.failed_probes, 1);
    assert_eq!(
        ep.circuit.next_attempt_at,
        Some(at(70_100) + Duration::from_secs(600))
    );
    // A straggler (not a probe) does not move the next probe.
    let next = ep.circuit.next_attempt_at;
    ep.see(attempt(69_000, true));
    assert_eq!(ep.circuit.next_attempt_at, next);
}

#[test]
fn any_success_closes_the_circuit() {
    let mut ep = opened();
    let seen = ep.see(Observed {
        probe: true,
        ..attempt(70_000, false)
    });
    assert_eq!(seen.changed, Some(CircuitState::Closed));
    assert_eq!(ep.circuit.state, CircuitState::Closed);
    assert_eq!(ep.circuit.failing_since, None);
    assert_eq!(ep.circuit.next_attempt_at, None);
    assert_eq!(ep.failures, 0);
}

#[test]
fn ten_counted_failures_disable_with_the_counter_at_ten() {
    let mut ep = Endpoint::new();
    let mut disabled = None;
    for i in 0..30 {
        let seen = ep.see(attempt(i * 60_000, true));
        disabled = disabled.or(seen.disable);
    }
    assert_eq!(disabled, Some(DisabledReason::ConsecutiveFailures));
    assert_eq!(ep.failures, 10, "not counted past the threshold");
}

#[test]
fn a_410_disables_at_once() {
    let mut ep = Endpoint::new();
    let seen = ep.see(Observed {
        gone: true,
        ..attempt(0, true)
    });
    assert_eq!(seen.disable, Some(DisabledReason::Gone));
}

#[test]
fn the_gate_sends_while_closed_and_holds_deliveries_while_open() {
    let closed = Circuit::default();
    assert_eq!(gate(&closed, None, Trigger::Event, at(0), 0.5), Gate::Send);
    let ep = opened();
    let next = ep.circuit.next_attempt_at.unwrap();
    // Before the probe is due: wait until then, staggered by up to a tenth.
    let early = next - Duration::from_secs(10);
    assert_eq!(
        gate(&ep.circuit, None, Trigger::Event, early, 0.0),
        Gate::Wait(Duration::from_secs(10))
    );
    assert_eq!(
        gate(&ep.circuit, None, Trigger::Retry, early, 1.0),
        Gate::Wait(Duration::from_secs(11))
    );
    assert_eq!(
        gate(&ep.circuit, None, Trigger::Event, next, 0.3),
        Gate::Probe
    );
    // While a probe holds the lease, the others wait for it without a claim.
    let lease = Some(next + Duration::from_secs(20));
    assert_eq!(
        gate(&ep.circuit, lease, Trigger::Event, next, 0.0),
        Gate::Wait(Duration::from_secs(20))
    );
    let expired = Some(next - Duration::from_secs(1));
    assert_eq!(
        gate(&ep.circuit, expired, Trigger::Event, next, 0.0),
        Gate::Probe
    );
    // A test event checks the receiver whatever the circuit says.
    assert_eq!(
        gate(&ep.circuit, lease, Trigger::Test, early, 0.3),
        Gate::Send
    );
}

#[test]
fn a_delivery_that_finds_the_probe_taken_waits_for_its_outcome() {
    assert_eq!(
        wait_for_probe(Duration::from_millis(10), 0.0),
        Duration::from_secs(1)
    );
    assert_eq!(
        wait_for_probe(Duration::from_secs(20), 1.0),
        Duration::from_secs(22)
    );
    // The stagger is at most a minute.
    assert_eq!(
        wait_for_probe(Duration::from_secs(3600), 1.0),
        Duration::from_secs(3660)
    );
}

#[test]
fn a_never_tried_delivery_yields_the_probe_for_the_rounds_spread() {
    let ep = opened();
    let rules = HealthRules::default();
    let next = ep.circuit.next_attempt_at.unwrap();
    // A retry takes its turn as soon as the probe is due.
    assert_eq!(probe_turn(&ep.circuit, &rules, 2, next, 0.5), None);
    // A first attempt waits out the round's spread — a tenth of the first
    // probe delay (60 s at the defaults) — and the two seconds by which a
    // queue may return a waiting delivery late, staggered like any wait.
    let early = next + Duration::from_secs(1);
    assert_eq!(
        probe_turn(&ep.circuit, &rules, 1, early, 0.0),
        Some(Duration::from_secs(7))
    );
    assert_eq!(
        probe_turn(&ep.circuit, &rules, 1, early, 1.0),
        Some(Duration::from_millis(7_700))
    );
    assert_eq!(
        probe_turn(&ep.circuit, &rules, 1, next + Duration::from_secs(7), 0.5),
        Some(Duration::from_millis(1_050))
    );
    assert_eq!(
        probe_turn(&ep.circuit, &rules, 1, next + Duration::from_secs(8), 0.5),
        None
    );
    // After a failed probe the round is the schedule's next delay (600 s):
    // the spread is its tenth, at most a minute.
    let mut later = ep.circuit.clone();
    later.failed_probes = 1;
    assert_eq!(
        probe_turn(&later, &rules, 1, next, 0.0),
        Some(Duration::from_secs(62))
    );
    // At a test's scale (schedule `1,2`) the slack dominates: a first
    // attempt must not beat a retry whose one-second wait was rounded up.
    let fast = HealthRules::new(32, 20, 10, &"1,2".parse().unwrap());
    assert_eq!(
        probe_turn(&ep.circuit, &fast, 1, next, 0.0),
        Some(Duration::from_millis(2_100))
    );
    assert_eq!(probe_turn(&ep.circuit, &fast, 2, next, 0.0), None);
    // A closed circuit has no turn to wait for.
    assert_eq!(probe_turn(&Circuit::default(), &rules, 1, next, 0.0), None);
}
