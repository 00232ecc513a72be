//! The delivery log: one entry per attempt, kept for `LOG_RETENTION_DAYS`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::event_type::EventTypeName;
use crate::ids::{DeliveryId, EndpointId, EventId, MessageId, TenantId};
use crate::message::Trigger;

/// How much of a response body is kept (4 KiB).
pub const RESPONSE_BODY_LIMIT: usize = 4096;

/// The outcome of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttemptStatus {
    /// A 2xx arrived in time.
    Succeeded,
    /// Anything else; `next_attempt_at` says whether another attempt follows.
    Failed,
    /// Not sent: the endpoint was disabled or deleted.
    Skipped,
}

/// Why an attempt failed, as counted in the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ErrorClass {
    /// A 3xx: redirects are never followed.
    #[serde(rename = "3xx")]
    Redirect,
    /// A 4xx answer (including 410 Gone).
    #[serde(rename = "4xx")]
    ClientError,
    /// A 5xx answer.
    #[serde(rename = "5xx")]
    ServerError,
    /// No complete answer within the delivery timeout.
    #[serde(rename = "timeout")]
    Timeout,
    /// DNS, TCP or TLS failure, or any other non-2xx status.
    #[serde(rename = "connection")]
    Connection,
    /// Refused by the SSRF guard: the target address is not public.
    #[serde(rename = "blocked")]
    Blocked,
}

impl ErrorClass {
    /// Every class, in the order statistics list them.
    pub const ALL: [ErrorClass; 6] = [
        Self::Redirect,
        Self::ClientError,
        Self::ServerError,
        Self::Timeout,
        Self::Connection,
        Self::Blocked,
    ];

    /// The class of a non-2xx HTTP status.
    pub fn of_status(status: u16) -> Self {
        match status {
            300..=399 => Self::Redirect,
            400..=499 => Self::ClientError,
            500..=599 => Self::ServerError,
            _ => Self::Connection,
        }
    }

    /// The name used in JSON and logs (`4xx`, `timeout`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redirect => "3xx",
            Self::ClientError => "4xx",
            Self::ServerError => "5xx",
            Self::Timeout => "timeout",
            Self::Connection => "connection",
            Self::Blocked => "blocked",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One logged attempt (or skipped delivery).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    /// `del_` + ULID; sorts by time.
    pub id: DeliveryId,
    /// Owner.
    pub tenant_id: TenantId,
    /// The endpoint attempted.
    pub endpoint_id: EndpointId,
    /// The event sent.
    pub event_id: EventId,
    /// Its type.
    pub event_type: EventTypeName,
    /// The delivery this attempt belongs to.
    pub message_id: MessageId,
    /// 1 for the first attempt, 2 for "Retry #1", ...
    pub attempt: u32,
    /// What caused this attempt.
    pub trigger: Trigger,
    /// Outcome.
    pub status: AttemptStatus,
    /// The URL the attempt went to.
    pub url: String,
    /// Response status, when one arrived.
    pub http_status: Option<u16>,
    /// Time to response or failure.
    pub response_time_ms: Option<u64>,
    /// Failure class, for failed attempts.
    pub error_class: Option<ErrorClass>,
    /// A readable reason, for failed and skipped attempts.
    pub error: Option<String>,
    /// First 4 KiB of the response body.
    pub response_body: Option<String>,
    /// Request headers sent, signature values redacted. Shared: the log
    /// entry, the CloudWatch line and the report of one attempt hold the
    /// same list.
    #[serde(default)]
    pub request_headers: std::sync::Arc<[(String, String)]>,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the next attempt is due, for a failed attempt that will be retried.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When the entry expires (TTL); never returned after that.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// It went out as the probe of the endpoint's open circuit.
    #[serde(default)]
    pub probe: bool,
}

impl DeliveryAttempt {
    /// True for a failed attempt that another attempt follows.
    pub fn will_retry(&self) -> bool {
        self.status == AttemptStatus::Failed && self.next_attempt_at.is_some()
    }
}

/// The `status` filter of the deliveries list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Only successes.
    Succeeded,
    /// All failed attempts, retried or not.
    Failed,
    /// Failed attempts that will be retried.
    Retrying,
    /// Skipped deliveries.
    Skipped,
}

impl StatusFilter {
    /// True when `attempt` passes the filter.
    pub fn matches(self, attempt: &DeliveryAttempt) -> bool {
        match self {
            Self::Succeeded => attempt.status == AttemptStatus::Succeeded,
            Self::Failed => attempt.status == AttemptStatus::Failed,
            Self::Retrying => attempt.will_retry(),
            Self::Skipped => attempt.status == AttemptStatus::Skipped,
        }
    }
}

impl FromStr for StatusFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            "retrying" => Ok(Self::Retrying),
            "skipped" => Ok(Self::Skipped),
            _ => Err(format!(
                "status must be one of succeeded, failed, retrying, skipped (got '{s}')"
            )),
        }
    }
}

/// A page request on an endpoint's delivery log, newest first.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    /// Page size (1–100).
    pub limit: usize,
    /// Continue after this cursor.
    pub cursor: Option<String>,
    /// Only this event type.
    pub event_type: Option<EventTypeName>,
    /// Only this status.
    pub status: Option<StatusFilter>,
    /// Only attempts made at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only attempts made before this time.
    pub until: Option<OffsetDateTime>,
}

impl DeliveryQuery {
    /// True when `attempt` passes every filter (the time range and expiry
    /// are applied by the stores on the sort key and TTL).
    pub fn matches(&self, attempt: &DeliveryAttempt) -> bool {
        self.event_type
            .as_ref()
            .is_none_or(|t| &attempt.event_type == t)
            && self.status.is_none_or(|s| s.matches(attempt))
            && self.since.is_none_or(|s| attempt.created_at >= s)
            && self.until.is_none_or(|u| attempt.created_at < u)
    }
}

/// Cuts a response body to at most [`RESPONSE_BODY_LIMIT`] bytes on a char
/// boundary.
pub fn truncate_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(RESPONSE_BODY_LIMIT)]);
    let mut s = text.into_owned();
    while s.len() > RESPONSE_BODY_LIMIT {
        s.pop();
    }
    s
}

/// Entries for the core's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Attempt `attempt` of a delivery with `status`, its retry due at `next`.
    pub(crate) fn logged(
        attempt: u32,
        status: AttemptStatus,
        next: Option<OffsetDateTime>,
    ) -> DeliveryAttempt {
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        DeliveryAttempt {
            id: DeliveryId::generate(),
            tenant_id: "t".parse().unwrap(),
            endpoint_id: EndpointId::generate(),
            event_id: "evt_1".parse().unwrap(),
            event_type: "a.b".parse().unwrap(),
            message_id: MessageId::generate(),
            attempt,
            trigger: Trigger::Event,
            status,
            url: "https://example.com".into(),
            http_status: None,
            response_time_ms: None,
            error_class: None,
            error: None,
            response_body: None,
            request_headers: Default::default(),
            created_at: at,
            next_attempt_at: next,
            expires_at: at,
            probe: false,
        }
    }
}
