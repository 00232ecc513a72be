//! The price table the cost figures use: AWS list prices, us-east-1,
//! on-demand, without free tiers, volume tiers or savings plans.
//!
//! Checked on 2026-11-23 against the AWS pricing pages named below (as
//! transcribed by several independent sources; the official pages render
//! their numbers client-side). Update the date with the numbers.

use std::path::Path;

use serde_json::{Value, json};

use crate::BenchResult;

/// When the numbers below were last checked.
pub const CHECKED: &str = "2026-11-23";
/// Region of every price.
pub const REGION: &str = "us-east-1";

/// DynamoDB on-demand, per million write request units
/// (aws.amazon.com/dynamodb/pricing/on-demand; since the November 2024 cut).
pub const DYNAMODB_WRU_PER_MILLION: f64 = 0.625;
/// DynamoDB on-demand, per million read request units.
pub const DYNAMODB_RRU_PER_MILLION: f64 = 0.125;
/// SQS standard queue, per million requests, each 64 KiB of payload
/// billed as one request (aws.amazon.com/sqs/pricing; first 100 billion a month).
pub const SQS_PER_MILLION_REQUESTS: f64 = 0.40;
/// Lambda, per million requests (aws.amazon.com/lambda/pricing).
pub const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
/// Lambda on arm64, per GB-second (first 7.5 billion GB-s a month),
/// duration rounded up to the millisecond.
pub const LAMBDA_ARM64_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// CloudWatch Logs, standard log class, per GB ingested
/// (aws.amazon.com/cloudwatch/pricing; "Collect (Data Ingestion)").
pub const CLOUDWATCH_LOGS_INGEST_PER_GB: f64 = 0.50;
/// Bytes in the GB of [`CLOUDWATCH_LOGS_INGEST_PER_GB`]: 10^9 here, which
/// errs high (by 7%) should AWS count 2^30.
pub const BYTES_PER_GB: f64 = 1e9;

/// The table, for the JSON files and the printed output.
pub fn table() -> Value {
    json!({
        "checked": CHECKED,
        "region": REGION,
        "sources": [
            "https://aws.amazon.com/dynamodb/pricing/on-demand/",
            "https://aws.amazon.com/sqs/pricing/",
            "https://aws.amazon.com/lambda/pricing/",
            "https://aws.amazon.com/cloudwatch/pricing/",
        ],
        "dynamodb_on_demand_usd_per_million_wru": DYNAMODB_WRU_PER_MILLION,
        "dynamodb_on_demand_usd_per_million_rru": DYNAMODB_RRU_PER_MILLION,
        "sqs_standard_usd_per_million_requests_64kib": SQS_PER_MILLION_REQUESTS,
        "lambda_usd_per_million_requests": LAMBDA_PER_MILLION_REQUESTS,
        "lambda_arm64_usd_per_gb_second": LAMBDA_ARM64_PER_GB_SECOND,
        "cloudwatch_logs_standard_usd_per_gb_ingested": CLOUDWATCH_LOGS_INGEST_PER_GB,
        "cloudwatch_logs_bytes_per_gb": BYTES_PER_GB,
        "excluded": "free tiers, volume tiers, savings plans, storage (tables and logs), data transfer, API Gateway, Lambda's own platform log records (START/REPORT), CloudWatch custom metrics and alarms (fixed monthly)",
    })
}

/// One line per price, for the printed output.
pub fn lines() -> Vec<String> {
    vec![
        format!(
            "DynamoDB on-demand  ${DYNAMODB_WRU_PER_MILLION} per million write request units, ${DYNAMODB_RRU_PER_MILLION} per million read request units"
        ),
        format!(
            "SQS standard        ${SQS_PER_MILLION_REQUESTS} per million requests (each 64 KiB of payload is one request)"
        ),
        format!(
            "Lambda arm64        ${LAMBDA_PER_MILLION_REQUESTS} per million requests + ${LAMBDA_ARM64_PER_GB_SECOND} per GB-second"
        ),
        format!(
            "CloudWatch Logs     ${CLOUDWATCH_LOGS_INGEST_PER_GB} per GB ingested, standard class (1 GB = 10^9 bytes here)"
        ),
        format!(
            "({REGION} list prices, on-demand, no free tier; checked {CHECKED}; sources: aws.amazon.com/{{dynamodb/pricing/on-demand,sqs/pricing,lambda/pricing,cloudwatch/pricing}})"
        ),
    ]
}

/// The functions' memory size from the SAM template (`Globals.Function.MemorySize`).
pub fn lambda_memory_mb(template: &Path) -> BenchResult<u32> {
    let text = std::fs::read_to_string(template)
        .map_err(|e| format!("reading {}: {e}", template.display()))?;
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("parsing {}: {e}", template.display()))?;
    yaml.get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(|f| f.get("MemorySize"))
        .and_then(serde_yaml::Value::as_u64)
        .map(|m| m as u32)
        .ok_or_else(|| format!("{} has no Globals.Function.MemorySize", template.display()).into())
}
