//! The cost benchmark's tables across scenarios, its summary lines and its
//! targets.

use super::Options;
use super::event_source::BATCH;
use super::output::{invocations_total, logs_total, usage_total};
use super::scenario::ScenarioResult;
use super::usage::{Cost, Line};
use crate::prices;
use crate::report::Table;

fn header(results: &[ScenarioResult]) -> Vec<&str> {
    let mut h = vec!["line"];
    h.extend(results.iter().map(|r| r.scenario.label.as_str()));
    h
}

/// Tables 4b (US$ per million deliveries, by line) and 4c (usage per delivery).
pub fn print_tables(results: &[ScenarioResult], costs: &[Cost], opts: &Options) {
    let mut table = Table::new(
        "4b. Cost in US$ per million deliveries (one event to one endpoint), all in, at the prices below",
        &header(results),
    );
    let lines: [Line; 7] = [
        ("DynamoDB writes", |c| c.dynamodb_writes),
        ("DynamoDB reads", |c| c.dynamodb_reads),
        ("SQS requests", |c| c.sqs),
        ("Lambda requests", |c| c.lambda_requests),
        ("Lambda duration (measured here)", |c| c.lambda_duration),
        ("CloudWatch Logs (ingestion)", |c| c.cloudwatch_logs),
        ("total", Cost::total),
    ];
    for (name, f) in lines {
        let mut row = vec![name.to_owned()];
        row.extend(costs.iter().map(|c| format!("${:.4}", f(c))));
        table.row(row);
    }
    let mut row = vec!["issue's target".to_owned()];
    row.extend(results.iter().map(|r| {
        r.scenario
            .target
            .map_or_else(|| "-".to_owned(), |t| format!("<= ${t:.2}"))
    }));
    table.row(row);
    table.print();

    let mut table = Table::new("4c. Usage per delivery", &header(results));
    type PerDelivery = (&'static str, fn(&ScenarioResult) -> f64);
    let rows: [PerDelivery; 8] = [
        ("DynamoDB write units", |r| usage_total(r).write_units),
        ("  of them counting's", |r| {
            r.counting.usage_total().write_units
        }),
        ("DynamoDB read units", |r| usage_total(r).read_units),
        (
            "  eventually consistent reads (at half a unit at least)",
            |r| usage_total(r).eventual_reads as f64,
        ),
        ("SQS requests (billed)", |r| {
            usage_total(r).sqs_billed_requests as f64
        }),
        ("Lambda invocations", |r| invocations_total(r) as f64),
        ("CloudWatch Logs bytes", |r| logs_total(r).total() as f64),
        ("  of them log lines", |r| logs_total(r).log_lines as f64),
    ];
    for (name, f) in rows {
        let mut row = vec![name.to_owned()];
        row.extend(
            results
                .iter()
                .map(|r| format!("{:.3}", f(r) / r.deliveries.max(1) as f64)),
        );
        table.row(row);
    }
    let mut row = vec!["stream entries per counting invocation".to_owned()];
    row.extend(results.iter().map(|r| {
        format!(
            "{:.0}",
            r.stream_entries as f64 / r.counting.invocations.max(1) as f64
        )
    }));
    table.row(row);
    table.print();

    for line in prices::lines() {
        println!("  {line}");
    }
    println!(
        "  Lambda: {} MB (SAM template), duration = publish / handle_batch / count_entries wall time here against the emulators \
         (EMF flush included), rounded up to 1 ms per invocation. The stream is read after every {} wave(s) of {} events; \
         each read's entries are counted {} at most per invocation.",
        opts.memory_mb,
        opts.count_waves.max(1),
        opts.wave,
        super::counting::STREAM_BATCH,
    );
    println!(
        "  Each 100 ms a receiver takes to answer adds about ${:.4} per million deliveries (a batch of {BATCH} waits concurrently).",
        0.1 / BATCH as f64 * f64::from(opts.memory_mb) / 1024.0
            * prices::LAMBDA_ARM64_PER_GB_SECOND
            * 1e6
    );
}

/// `summary.md`'s lines: one per scenario, then the prices.
pub fn lines(results: &[ScenarioResult], costs: &[Cost], opts: &Options) -> Vec<String> {
    let mut summary = Vec::new();
    for (r, c) in results.iter().zip(costs) {
        let s = &r.scenario;
        let d = r.deliveries.max(1) as f64;
        let u = usage_total(r);
        let shape = if s.tenants == 1 {
            format!("{} events x {} endpoints", s.events, s.endpoints)
        } else {
            format!(
                "{} events round-robin over {} tenants x {} endpoint",
                s.events, s.tenants, s.endpoints
            )
        };
        let attempts = match s.path {
            super::Path::Success => "receiver 200".to_owned(),
            super::Path::Failure => "receiver 500, 3 attempts".to_owned(),
        };
        let target = s.target.map_or(String::new(), |t| {
            let verdict = if c.total() <= t {
                "met".to_owned()
            } else {
                format!("missed by ${:.2}", c.total() - t)
            };
            format!("; target <= ${t:.2}: {verdict}")
        });
        summary.push(format!(
            "{} ({shape}, {attempts}): per delivery {:.2} DynamoDB write units, {:.2} read units, {:.2} SQS requests, \
             {:.2} Lambda invocations, {:.0} bytes of CloudWatch Logs: **${:.2} per million deliveries all-in** \
             (DynamoDB ${:.2}, SQS ${:.2}, Lambda ${:.2}, CloudWatch Logs ${:.2}){target}",
            capitalized(&s.label),
            u.write_units / d,
            u.read_units / d,
            u.sqs_billed_requests as f64 / d,
            invocations_total(r) as f64 / d,
            logs_total(r).total() as f64 / d,
            c.total(),
            c.dynamodb(),
            c.sqs,
            c.lambda(),
            c.cloudwatch_logs,
        ));
    }
    summary.push(format!(
        "Prices: us-east-1 on-demand list prices checked {}: DynamoDB ${}/M WRU, ${}/M RRU; SQS ${}/M requests; \
         Lambda arm64 ${}/M requests + ${}/GB-s at {} MB; CloudWatch Logs ${}/GB ingested (1 GB = 10^9 bytes)",
        prices::CHECKED,
        prices::DYNAMODB_WRU_PER_MILLION,
        prices::DYNAMODB_RRU_PER_MILLION,
        prices::SQS_PER_MILLION_REQUESTS,
        prices::LAMBDA_PER_MILLION_REQUESTS,
        prices::LAMBDA_ARM64_PER_GB_SECOND,
        opts.memory_mb,
        prices::CLOUDWATCH_LOGS_INGEST_PER_GB,
    ));
    summary
}

/// One problem per scenario over its target, saying by how much.
pub fn missed_targets(results: &[ScenarioResult], costs: &[Cost]) -> Vec<String> {
    results
        .iter()
        .zip(costs)
        .filter_map(|(r, c)| {
            let t = r.scenario.target?;
            (c.total() > t).then(|| {
                format!(
                    "{}: ${:.2} per million deliveries all-in, target ${t:.2}: missed by ${:.2} ({:.0}% over)",
                    r.scenario.label,
                    c.total(),
                    c.total() - t,
                    (c.total() / t - 1.0) * 100.0
                )
            })
        })
        .collect()
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
