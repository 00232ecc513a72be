//! The cost benchmark's per-operation tables and JSON, one scenario each.

use serde_json::{Value, json};

use super::counting::STREAM_BATCH;
use super::scenario::ScenarioResult;
use super::usage::{Cost, Phase};
use super::{Options, Path};
use crate::capacity::Usage;
use crate::log_bytes::Bytes;
use crate::report::{Table, thousands};

/// What the three phases used together.
pub fn usage_total(r: &ScenarioResult) -> Usage {
    let mut u = Usage::default();
    for (_, p) in r.phases() {
        u.add(&p.usage_total());
    }
    u
}

/// CloudWatch Logs bytes of the three phases together.
pub fn logs_total(r: &ScenarioResult) -> Bytes {
    let mut b = Bytes::default();
    for (_, p) in r.phases() {
        b.add(p.logs);
    }
    b
}

/// Lambda invocations of the three phases together.
pub fn invocations_total(r: &ScenarioResult) -> u64 {
    r.phases().iter().map(|(_, p)| p.invocations).sum()
}

fn title(r: &ScenarioResult) -> String {
    let s = &r.scenario;
    let who = if s.tenants == 1 {
        format!("{} events x {} endpoints", s.events, s.endpoints)
    } else {
        format!(
            "{} events over {} tenants x {} endpoint(s)",
            s.events, s.tenants, s.endpoints
        )
    };
    match s.path {
        Path::Success => format!(
            "4a. AWS calls per delivered webhook, {}: {who} = {} webhooks, receiver answers 200",
            s.label,
            thousands(r.deliveries)
        ),
        Path::Failure => format!(
            "4a. AWS calls per failed delivery, {}: {who} = {} deliveries x 3 attempts (RETRY_SCHEDULE=1,1), receiver answers 500",
            s.label,
            thousands(r.deliveries)
        ),
    }
}

pub fn print_calls(r: &ScenarioResult, opts: &Options) {
    let d = r.deliveries.max(1) as f64;
    let mut table = Table::new(
        &title(r),
        &[
            "phase / operation",
            "calls",
            "per delivery",
            "units per delivery",
        ],
    );
    for (phase_name, phase) in r.phases() {
        for (op, n) in &phase.dynamodb_calls {
            let u = phase.usage.get(op).copied().unwrap_or_default();
            let units = if u.read_units > 0.0 {
                format!("{:.3} RRU", u.read_units / d)
            } else {
                format!("{:.3} WRU", u.write_units / d)
            };
            table.row(vec![
                format!("{phase_name}: DynamoDB {op}"),
                thousands(*n),
                format!("{:.3}", *n as f64 / d),
                units,
            ]);
        }
        for (op, n) in &phase.sqs_calls {
            let u = phase.usage.get(op).copied().unwrap_or_default();
            table.row(vec![
                format!("{phase_name}: SQS {op}"),
                thousands(*n),
                format!("{:.3}", *n as f64 / d),
                format!("{:.3} billed req", u.sqs_billed_requests as f64 / d),
            ]);
        }
        table.row(vec![
            format!("{phase_name}: Lambda invocations"),
            thousands(phase.invocations),
            format!("{:.3}", phase.invocations as f64 / d),
            format!("{:.3} GB-s", phase.gb_seconds(opts.memory_mb) / d),
        ]);
        table.row(vec![
            format!("{phase_name}: CloudWatch Logs bytes (lines + EMF)"),
            thousands(phase.logs.total()),
            format!(
                "{:.1} + {:.1}",
                phase.logs.log_lines as f64 / d,
                phase.logs.metrics as f64 / d
            ),
            format!("{:.1} B", phase.logs.total() as f64 / d),
        ]);
    }
    table.print();
    let u = usage_total(r);
    let logs = logs_total(r);
    println!(
        "  totals per delivery: {:.3} WRU, {:.3} RRU, {:.3} billed SQS requests, {:.3} Lambda invocations, {:.1} CloudWatch Logs bytes \
         ({:.1} of log lines, {:.1} of EMF); receiver got {} requests ({} duplicates); {:.1} s, {} empty receives left out; \
         {} failed conditional writes, {} calls without capacity (counted 1 unit), {:.3} eventually consistent reads \
         (half a unit at least, as DynamoDB bills them); stream: {} entries in {} invocations \
         ({:.0} per invocation, at most {STREAM_BATCH}), {} counted",
        u.write_units / d,
        u.read_units / d,
        u.sqs_billed_requests as f64 / d,
        invocations_total(r) as f64 / d,
        logs.total() as f64 / d,
        logs.log_lines as f64 / d,
        logs.metrics as f64 / d,
        thousands(r.received),
        r.received.saturating_sub(r.distinct_attempts),
        r.seconds,
        r.delivery.empty_receives,
        u.failed_writes,
        u.units_assumed,
        u.eventual_reads as f64 / d,
        thousands(r.stream_entries),
        r.counting.invocations,
        r.stream_entries as f64 / r.counting.invocations.max(1) as f64,
        thousands(r.stream_counted),
    );
}

pub fn scenario_json(r: &ScenarioResult, cost: Cost, opts: &Options) -> Value {
    let phase = |p: &Phase| {
        json!({
            "dynamodb_calls": p.dynamodb_calls,
            "sqs_calls": p.sqs_calls,
            "usage_by_operation": p.usage,
            "lambda_invocations": p.invocations,
            "lambda_billed_ms": p.billed_ms,
            "lambda_gb_seconds": p.gb_seconds(opts.memory_mb),
            "empty_receives_left_out": p.empty_receives,
            "cloudwatch_logs_bytes": {"log_lines": p.logs.log_lines, "emf": p.logs.metrics},
        })
    };
    let s = &r.scenario;
    let d = r.deliveries.max(1) as f64;
    let u = usage_total(r);
    json!({
        "scenario": s.key,
        "label": s.label,
        "tenants": s.tenants,
        "endpoints_per_tenant": s.endpoints,
        "events": s.events,
        "deliveries": r.deliveries,
        "attempts_per_delivery": s.path.attempts(),
        "seconds": r.seconds,
        "receiver_requests": r.received,
        "receiver_duplicates": r.received.saturating_sub(r.distinct_attempts),
        "stream_entries": r.stream_entries,
        "stream_entries_counted": r.stream_counted,
        "intake": phase(&r.intake),
        "delivery": phase(&r.delivery),
        "counting": phase(&r.counting),
        "per_delivery": {
            "dynamodb_write_units": u.write_units / d,
            "dynamodb_read_units": u.read_units / d,
            "dynamodb_eventually_consistent_reads": u.eventual_reads as f64 / d,
            "sqs_billed_requests": u.sqs_billed_requests as f64 / d,
            "lambda_invocations": invocations_total(r) as f64 / d,
            "cloudwatch_logs_bytes": logs_total(r).total() as f64 / d,
        },
        "usd_per_million_deliveries": cost.to_json(),
        "target_usd_per_million": s.target,
    })
}
