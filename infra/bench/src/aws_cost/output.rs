//! The cost benchmark's per-operation tables and JSON.

use serde_json::{Value, json};

use super::usage::{Cost, Phase};
use super::{Options, Path, PathResult};
use crate::report::{Table, thousands};

pub fn print_calls(r: &PathResult, opts: &Options) {
    let d = r.deliveries.max(1) as f64;
    let title = match r.path {
        Path::Success => format!(
            "4a. AWS calls per delivered webhook, success path: {} events x {} endpoints = {} webhooks, receiver answers 200",
            r.events,
            opts.endpoints,
            thousands(r.deliveries)
        ),
        Path::Failure => format!(
            "4a. AWS calls per failed delivery, failure path: {} events x {} endpoints = {} deliveries x 3 attempts (RETRY_SCHEDULE=1,1), receiver answers 500",
            r.events,
            opts.endpoints,
            thousands(r.deliveries)
        ),
    };
    let mut table = Table::new(
        &title,
        &[
            "phase / operation",
            "calls",
            "per delivery",
            "units per delivery",
        ],
    );
    for (phase_name, phase) in [("intake", &r.intake), ("delivery", &r.delivery)] {
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
    }
    table.print();
    let u = {
        let mut u = r.intake.usage_total();
        u.add(&r.delivery.usage_total());
        u
    };
    println!(
        "  totals per delivery: {:.3} WRU, {:.3} RRU, {:.3} billed SQS requests; receiver got {} requests ({} duplicates); \
         {:.1} s, {} empty receives left out; {} failed conditional writes, {} calls without capacity (counted 1 unit)",
        u.write_units / d,
        u.read_units / d,
        u.sqs_billed_requests as f64 / d,
        thousands(r.received),
        r.received - r.distinct_attempts,
        r.seconds,
        r.delivery.empty_receives,
        u.failed_writes,
        u.units_assumed,
    );
}

pub fn path_json(r: &PathResult, cost: Cost, opts: &Options) -> Value {
    let phase = |p: &Phase| {
        json!({
            "dynamodb_calls": p.dynamodb_calls,
            "sqs_calls": p.sqs_calls,
            "usage_by_operation": p.usage,
            "lambda_invocations": p.invocations,
            "lambda_billed_ms": p.billed_ms,
            "lambda_gb_seconds": p.gb_seconds(opts.memory_mb),
            "empty_receives_left_out": p.empty_receives,
        })
    };
    let d = r.deliveries.max(1) as f64;
    let mut u = r.intake.usage_total();
    u.add(&r.delivery.usage_total());
    json!({
        "path": r.path.name(),
        "events": r.events,
        "deliveries": r.deliveries,
        "attempts_per_delivery": r.path.attempts(),
        "seconds": r.seconds,
        "receiver_requests": r.received,
        "receiver_duplicates": r.received - r.distinct_attempts,
        "intake": phase(&r.intake),
        "delivery": phase(&r.delivery),
        "per_delivery": {
            "dynamodb_write_units": u.write_units / d,
            "dynamodb_read_units": u.read_units / d,
            "sqs_billed_requests": u.sqs_billed_requests as f64 / d,
            "lambda_invocations": (r.intake.invocations + r.delivery.invocations) as f64 / d,
        },
        "usd_per_million_deliveries": cost.to_json(),
    })
}
