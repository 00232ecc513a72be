//! An endpoint's daily delivery statistics as the API shows them: one row
//! per UTC day of the range, days without attempts included, and totals.

use std::collections::BTreeMap;

use courier::attempt::ErrorClass;
use courier::stats::{DailyStats, StatsDelta};
use serde::Serialize;
use time::Date;
use utoipa::ToSchema;

/// Failed attempts by class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct FailureCounts {
    /// Redirects (never followed).
    #[serde(rename = "3xx")]
    pub redirect: u64,
    /// 4xx answers, `410 Gone` included.
    #[serde(rename = "4xx")]
    pub client_error: u64,
    /// 5xx answers.
    #[serde(rename = "5xx")]
    pub server_error: u64,
    /// No complete answer within the delivery timeout.
    pub timeout: u64,
    /// DNS, TCP or TLS failures.
    pub connection: u64,
    /// Targets refused because they resolved to a non-public address.
    pub blocked: u64,
}

impl FailureCounts {
    fn add(&mut self, failures: &BTreeMap<ErrorClass, u64>) {
        for (class, n) in failures {
            let slot = match class {
                ErrorClass::Redirect => &mut self.redirect,
                ErrorClass::ClientError => &mut self.client_error,
                ErrorClass::ServerError => &mut self.server_error,
                ErrorClass::Timeout => &mut self.timeout,
                ErrorClass::Connection => &mut self.connection,
                ErrorClass::Blocked => &mut self.blocked,
            };
            *slot += n;
        }
    }
}

/// One UTC day of an endpoint's attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayStats {
    /// The UTC day, `YYYY-MM-DD`.
    #[schema(format = Date, example = "2026-04-23")]
    pub date: String,
    /// Attempts made (skipped deliveries are not attempts).
    pub attempts: u64,
    /// Attempts that succeeded.
    pub succeeded: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Failed attempts by class.
    pub failures: FailureCounts,
}

/// The sums over the whole range.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsTotals {
    /// Attempts made.
    pub attempts: u64,
    /// Attempts that succeeded.
    pub succeeded: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// `succeeded / attempts`, from 0 to 1; null when no attempt was made.
    #[schema(minimum = 0, maximum = 1, example = 0.98)]
    pub success_rate: Option<f64>,
    /// Failed attempts by class.
    pub failures: FailureCounts,
}

/// `GET .../stats`: the days from `from` to `to` (today, UTC), oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointStats {
    /// The first day shown, `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub from: String,
    /// The last day shown: today in UTC.
    #[schema(format = Date)]
    pub to: String,
    /// One row per day, including days without attempts.
    pub days: Vec<DayStats>,
    /// Sums over all rows.
    pub totals: StatsTotals,
}

impl EndpointStats {
    /// Rows for every day from `from` to `to`, filled from the stored days
    /// (which only exist for days with attempts).
    pub fn new(from: Date, to: Date, stored: &[DailyStats]) -> Self {
        let by_day: BTreeMap<Date, &StatsDelta> =
            stored.iter().map(|d| (d.day, &d.counts)).collect();
        let empty = StatsDelta::default();
        let mut days = Vec::new();
        let mut total = StatsDelta::default();
        let mut day = Some(from);
        while let Some(d) = day.filter(|d| *d <= to) {
            let counts = by_day.get(&d).copied().unwrap_or(&empty);
            total.merge(counts);
            days.push(DayStats {
                date: d.to_string(),
                attempts: counts.attempts,
                succeeded: counts.succeeded,
                failed: counts.failed,
                failures: failures_of(counts),
            });
            day = d.next_day();
        }
        Self {
            from: from.to_string(),
            to: to.to_string(),
            days,
            totals: StatsTotals {
                attempts: total.attempts,
                succeeded: total.succeeded,
                failed: total.failed,
                success_rate: (total.attempts > 0)
                    .then(|| total.succeeded as f64 / total.attempts as f64),
                failures: failures_of(&total),
            },
        }
    }
}

fn failures_of(counts: &StatsDelta) -> FailureCounts {
    let mut failures = FailureCounts::default();
    failures.add(&counts.failures);
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn stored(day: Date, ok: u64, failed: &[(ErrorClass, u64)]) -> DailyStats {
        let mut counts = StatsDelta::default();
        (0..ok).for_each(|_| counts.success());
        for (class, n) in failed {
            (0..*n).for_each(|_| counts.failure(*class));
        }
        DailyStats { day, counts }
    }

    #[test]
    fn every_day_of_the_range_has_a_row_and_totals_add_up() {
        let stats = EndpointStats::new(
            date!(2026 - 02 - 27),
            date!(2026 - 03 - 02),
            &[
                stored(date!(2026 - 02 - 28), 3, &[(ErrorClass::ServerError, 1)]),
                stored(
                    date!(2026 - 03 - 02),
                    0,
                    &[(ErrorClass::Timeout, 2), (ErrorClass::Blocked, 1)],
                ),
            ],
        );
        let dates: Vec<&str> = stats.days.iter().map(|d| d.date.as_str()).collect();
        assert_eq!(
            dates,
            ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]
        );
        assert_eq!(stats.days[0].attempts, 0);
        assert_eq!(stats.days[1].attempts, 4);
        assert_eq!(stats.days[1].failures.server_error, 1);
        assert_eq!(stats.days[3].failed, 3);
        assert_eq!(stats.totals.attempts, 7);
        assert_eq!(stats.totals.succeeded, 3);
        assert_eq!(stats.totals.failed, 4);
        assert_eq!(stats.totals.success_rate, Some(3.0 / 7.0));
        assert_eq!(
            serde_json::to_value(&stats.totals.failures).unwrap(),
            serde_json::json!({"3xx": 0, "4xx": 0, "5xx": 1, "timeout": 2, "connection": 0, "blocked": 1})
        );
    }

    #[test]
    fn no_attempts_means_no_success_rate() {
        let stats = EndpointStats::new(date!(2026 - 04 - 23), date!(2026 - 04 - 23), &[]);
        assert_eq!(stats.days.len(), 1);
        assert_eq!(stats.totals.attempts, 0);
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["totals"]["successRate"], serde_json::Value::Null);
        assert_eq!(json["days"][0]["date"], "2026-04-23");
    }
}
