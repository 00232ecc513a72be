//! The delivery log as the API shows it, and the requests and answers of
//! the routes that enqueue deliveries (resend, test event, recover).

use std::collections::BTreeMap;

use courier::attempt::{AttemptStatus, DeliveryAttempt, ErrorClass, StatusFilter};
use courier::message::{DeliveryMessage, Trigger};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// What caused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TriggerDto {
    /// The first attempt of a published event.
    Event,
    /// A later attempt of a chain, after a failure.
    Retry,
    /// The first attempt of a resend through the API.
    Manual,
    /// The first attempt of a test event sent through the API.
    Test,
    /// The first attempt of a delivery recovered through the API
    /// (`POST .../recover`).
    Recover,
}

impl From<Trigger> for TriggerDto {
    fn from(value: Trigger) -> Self {
        match value {
            Trigger::Event => Self::Event,
            Trigger::Retry => Self::Retry,
            Trigger::Manual => Self::Manual,
            Trigger::Test => Self::Test,
            Trigger::Recover => Self::Recover,
        }
    }
}

/// The outcome of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttemptStatusDto {
    /// A 2xx arrived within the timeout.
    Succeeded,
    /// Anything else; `nextAttemptAt` is set when another attempt follows.
    Failed,
    /// Not sent: the endpoint was disabled or deleted when the delivery was due.
    Skipped,
}

impl From<AttemptStatus> for AttemptStatusDto {
    fn from(value: AttemptStatus) -> Self {
        match value {
            AttemptStatus::Succeeded => Self::Succeeded,
            AttemptStatus::Failed => Self::Failed,
            AttemptStatus::Skipped => Self::Skipped,
        }
    }
}

/// The `status` filter of the deliveries list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilterDto {
    /// Successful attempts.
    Succeeded,
    /// Failed attempts, whether or not another attempt follows.
    Failed,
    /// Failed attempts that another attempt follows (`nextAttemptAt` set).
    Retrying,
    /// Deliveries skipped because the endpoint was disabled or deleted.
    Skipped,
}

impl From<StatusFilterDto> for StatusFilter {
    fn from(value: StatusFilterDto) -> Self {
        match value {
            StatusFilterDto::Succeeded => Self::Succeeded,
            StatusFilterDto::Failed => Self::Failed,
            StatusFilterDto::Retrying => Self::Retrying,
            StatusFilterDto::Skipped => Self::Skipped,
        }
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum ErrorClassDto {
    /// A redirect: redirects are never followed.
    #[serde(rename = "3xx")]
    Redirect,
    /// A 4xx answer (including `410 Gone`).
    #[serde(rename = "4xx")]
    ClientError,
    /// A 5xx answer.
    #[serde(rename = "5xx")]
    ServerError,
    /// No complete answer within the delivery timeout.
    #[serde(rename = "timeout")]
    Timeout,
    /// DNS, TCP or TLS failure, or a status outside 100 to 599.
    #[serde(rename = "connection")]
    Connection,
    /// Not sent: the target resolved to an address that is not public.
    #[serde(rename = "blocked")]
    Blocked,
}

impl From<ErrorClass> for ErrorClassDto {
    fn from(value: ErrorClass) -> Self {
        match value {
            ErrorClass::Redirect => Self::Redirect,
            ErrorClass::ClientError => Self::ClientError,
            ErrorClass::ServerError => Self::ServerError,
            ErrorClass::Timeout => Self::Timeout,
            ErrorClass::Connection => Self::Connection,
            ErrorClass::Blocked => Self::Blocked,
        }
    }
}

/// One logged attempt, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliverySummary {
    /// `del_` + ULID.
    #[schema(example = "del_01J9Z4A7K2M3N4P5Q6R7S8T9V0")]
    pub id: String,
    /// The endpoint attempted.
    pub endpoint_id: String,
    /// The event sent (the `webhook-id` header).
    pub event_id: String,
    /// The event's type.
    #[schema(example = "booking.created")]
    pub event_type: String,
    /// 1 for the first attempt, 2 for "Retry #1", and so on.
    #[schema(minimum = 1)]
    pub attempt: u32,
    /// What caused the attempt.
    pub trigger: TriggerDto,
    /// Its outcome.
    pub status: AttemptStatusDto,
    /// The response status, when a response arrived.
    pub http_status: Option<u16>,
    /// Time until the response or the failure, in milliseconds.
    pub response_time_ms: Option<u64>,
    /// Why it failed, for failed attempts.
    pub error_class: Option<ErrorClassDto>,
    /// A readable reason, for failed and skipped attempts.
    pub error: Option<String>,
    /// When the attempt was made.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When the next attempt is (or was) due, for a failed attempt that
    /// another attempt follows.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<OffsetDateTime>,
}

impl From<&DeliveryAttempt> for DeliverySummary {
    fn from(a: &DeliveryAttempt) -> Self {
        Self {
            id: a.id.to_string(),
            endpoint_id: a.endpoint_id.to_string(),
            event_id: a.event_id.to_string(),
            event_type: a.event_type.to_string(),
            attempt: a.attempt,
            trigger: a.trigger.into(),
            status: a.status.into(),
            http_status: a.http_status,
            response_time_ms: a.response_time_ms,
            error_class: a.error_class.map(Into::into),
            error: a.error.clone(),
            created_at: a.created_at,
            next_attempt_at: a.next_attempt_at,
        }
    }
}

/// One logged attempt in full: what was sent and what came back.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDetail {
    /// The attempt as listed.
    #[serde(flatten)]
    pub summary: DeliverySummary,
    /// The delivery (queue message) this attempt belongs to, shared by all
    /// attempts of one chain.
    #[schema(example = "msg_01J9Z4A6B1C2D3E4F5G6H7J8K9")]
    pub message_id: String,
    /// The URL the attempt went to.
    pub url: String,
    /// The request headers sent, by lower-case name; signature values are
    /// redacted and custom header values masked as `********`.
    #[schema(example = json!({"content-type": "application/json", "webhook-signature": "v1,<redacted>"}))]
    pub request_headers: BTreeMap<String, String>,
    /// The first 4 KiB of the response body, when a response arrived.
    pub response_body: Option<String>,
}

impl From<&DeliveryAttempt> for DeliveryDetail {
    fn from(a: &DeliveryAttempt) -> Self {
        let mut request_headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in a.request_headers.iter() {
            // A repeated header reads as its values joined, as HTTP combines them.
            request_headers
                .entry(name.to_ascii_lowercase())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(value);
                })
                .or_insert_with(|| value.clone());
        }
        Self {
            summary: a.into(),
            message_id: a.message_id.to_string(),
            url: a.url.clone(),
            request_headers,
            response_body: a.response_body.clone(),
        }
    }
}

/// One page of an endpoint's delivery log, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryList {
    /// The attempts on this page.
    pub data: Vec<DeliverySummary>,
    /// Pass as `cursor`, with the same filters, for the next page; null on
    /// the last page.
    pub next_cursor: Option<String>,
}

/// A delivery was queued: a new chain of attempts with its own retries.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryQueued {
    /// The new delivery, shared by its attempts in the log (`messageId`).
    #[schema(example = "msg_01J9Z4A6B1C2D3E4F5G6H7J8K9")]
    pub message_id: String,
    /// The event it delivers (the `webhook-id` header).
    pub event_id: String,
}

impl From<&DeliveryMessage> for DeliveryQueued {
    fn from(message: &DeliveryMessage) -> Self {
        Self {
            message_id: message.message_id.to_string(),
            event_id: message.event.id.to_string(),
        }
    }
}

/// `POST .../test`; the whole body is optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendTestEvent {
    /// The test event's type: any valid event-type name (not a wildcard),
    /// in the catalogue or not; `webhook.test` when absent.
    #[serde(default)]
    #[schema(
        example = "booking.created",
        max_length = 128,
        pattern = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
    )]
    pub event_type: Option<String>,
}

/// `POST .../recover`: the window whose failed and skipped deliveries to
/// deliver again.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoverDeliveries {
    /// Start of the window (RFC 3339, inclusive). A time older than the
    /// log's retention (`LOG_RETENTION_DAYS`) is read as the start of the
    /// retention: nothing older is logged, so the window recovers the same.
    #[schema(format = DateTime, example = "2026-04-23T14:00:00Z")]
    pub since: String,
    /// End of the window (RFC 3339, exclusive); now when absent. A window
    /// that is empty (`until` at or before `since`, or `since` in the
    /// future) recovers nothing: 202 with `deliveries: 0`.
    #[serde(default)]
    #[schema(format = DateTime, example = "2026-04-23T15:00:00Z")]
    pub until: Option<String>,
}

/// What a recover queued.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveriesRecovered {
    /// Events queued for delivery again, one new delivery each (trigger
    /// `recover`).
    #[schema(example = 12)]
    pub deliveries: usize,
    /// Events that would have been recovered but have expired from the
    /// event store (kept `LOG_RETENTION_DAYS` from publication), so cannot
    /// be sent again; not counted in `deliveries`.
    #[schema(example = 0)]
    pub expired: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_the_core_names() {
        for class in ErrorClass::ALL {
            let dto = serde_json::to_value(ErrorClassDto::from(class)).unwrap();
            assert_eq!(dto, class.as_str());
        }
        for trigger in [
            Trigger::Event,
            Trigger::Retry,
            Trigger::Manual,
            Trigger::Test,
            Trigger::Recover,
        ] {
            assert_eq!(
                serde_json::to_value(TriggerDto::from(trigger)).unwrap(),
                serde_json::to_value(trigger).unwrap()
            );
        }
        for status in [
            AttemptStatus::Succeeded,
            AttemptStatus::Failed,
            AttemptStatus::Skipped,
        ] {
            assert_eq!(
                serde_json::to_value(AttemptStatusDto::from(status)).unwrap(),
                serde_json::to_value(status).unwrap()
            );
        }
        for name in ["succeeded", "failed", "retrying", "skipped"] {
            let dto: StatusFilterDto = serde_json::from_value(name.into()).unwrap();
            assert_eq!(
                StatusFilter::from(dto),
                name.parse::<StatusFilter>().unwrap()
            );
        }
    }
}
