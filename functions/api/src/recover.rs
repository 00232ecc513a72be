//! Recovering an endpoint's failed deliveries:
//! `POST /v1/tenants/{tenantId}/endpoints/{endpointId}/recover` with
//! `{"since", "until"?}`.
//!
//! Every event of the window `[since, until)` (until: now when absent)
//! whose latest attempt to this endpoint failed with no retry to follow, or
//! was skipped, is delivered again: once per event however many chains it
//! had, as a new delivery with trigger `recover`, its own retries and log
//! entries, oldest first. Events whose latest attempt succeeded, or whose
//! delivery is still retrying, are left alone; the rules are
//! [`courier::recovery`]'s. An event that has expired from the event store
//! (events are kept `LOG_RETENTION_DAYS` from publication, while a retry's
//! log entry may outlive it a little) can no longer be sent: it is counted
//! in the answer's `expired` and the others go ahead.
//!
//! A `since` older than the log's retention is read as the start of the
//! retention (nothing older is logged), and an empty window (`until` at or
//! before `since`, or `since` in the future) recovers nothing: 202 with
//! `deliveries: 0`. Refusals: a time that is not RFC 3339 is 422 naming the
//! field; a disabled endpoint is 409, as for a resend, since the deliveries
//! would only be logged `skipped` (re-enable it first); an unknown endpoint
//! is 404.
//!
//! Cost: the log is read from `since` to now (later attempts decide whether
//! an event of the window still needs sending), one query per 100 entries
//! (on DynamoDB about 25 read units each for 1 KB entries), at most
//! [`MAX_RECOVER_ENTRIES`] entries per request, past which the request is
//! refused with 422 asking for a later `since`; then one consistent read
//! per event sent again and one queue request per 10 deliveries (SQS
//! `SendMessageBatch`), each delivery then costing what any delivery
//! costs. Recover is not idempotent: called twice before the first call's
//! deliveries are attempted, it queues them twice (receivers see the same
//! `webhook-id`, the event id, on both).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use courier::attempt::DeliveryQuery;
use courier::event::Event;
use courier::ids::{EndpointId, EventId, TenantId};
use courier::message::{DeliveryMessage, Trigger};
use courier::paging::MAX_PAGE;
use courier::ports::{QueueError, Store};
use courier::recovery::Recovery;
use futures::{StreamExt, TryStreamExt};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ApiState;
use crate::endpoints::{ensure_enabled, load};
use crate::json::Json;
use crate::model::deliveries::{DeliveriesRecovered, RecoverDeliveries};
use crate::params::{EndpointPath, body_time};
use crate::problem::ApiError;

/// Log entries one recover may read (from `since` to now): 100 queries
/// and at worst as many event reads as entries, 16 at a time, which at
/// DynamoDB's few milliseconds a request is a few seconds, well inside the
/// API's 29-second timeout (an estimate, not measured on AWS).
pub const MAX_RECOVER_ENTRIES: usize = 10_000;

/// Event reads in flight at once.
const EVENT_READS: usize = 16;

/// The recover route.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route(
        "/v1/tenants/{tenantId}/endpoints/{endpointId}/recover",
        post(recover_deliveries),
    )
}

/// Delivers again, through the queue, every event of the window whose
/// latest attempt to this endpoint failed for good or was skipped: once
/// each, as a new delivery (trigger `recover`).
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenantId}/endpoints/{endpointId}/recover",
    tag = "deliveries",
    params(EndpointPath),
    request_body(content = RecoverDeliveries, description = "The window `[since, until)`, `until` now when absent; `since` is clamped to the log's retention and an empty window recovers nothing"),
    responses(
        (status = 202, description = "Queued: one new delivery (trigger `recover`) per event whose latest attempt failed for good or was skipped; expired events are counted apart", body = DeliveriesRecovered),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::EndpointDisabled),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn recover_deliveries(
    State(state): State<ApiState>,
    path: EndpointPath,
    Json(body): Json<RecoverDeliveries>,
) -> Result<(StatusCode, axum::Json<DeliveriesRecovered>), ApiError> {
    let now = OffsetDateTime::now_utc();
    let window = window(&body, now, &state)?;
    let endpoint = load(&state, &path).await?;
    ensure_enabled(&endpoint, "recovered deliveries")?;
    let Some((since, until)) = window else {
        return Ok((
            StatusCode::ACCEPTED,
            axum::Json(DeliveriesRecovered::default()),
        ));
    };
    let max_attempts = state.settings.retry_schedule.max_attempts();
    let mut recovery = Recovery::new(since, until, now, max_attempts);
    let entries = read_log(
        state.store.as_ref(),
        &path.tenant,
        path.id,
        since,
        &mut recovery,
        MAX_RECOVER_ENTRIES,
    )
    .await?;
    let (events, expired) =
        stored_events(state.store.as_ref(), &path.tenant, recovery.events()).await?;
    let messages: Vec<DeliveryMessage> = events
        .into_iter()
        .map(|event| DeliveryMessage::new(endpoint.id, Trigger::Recover, event))
        .collect();
    if !messages.is_empty() {
        state
            .queue
            .enqueue(&messages)
            .await
            .map_err(|e| not_queued(e, messages.len()))?;
    }
    tracing::info!(
        tenant_id = %path.tenant,
        endpoint_id = %path.id,
        since = %since,
        until = %until,
        entries_read = entries,
        deliveries = messages.len(),
        expired,
        "deliveries recovered"
    );
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(DeliveriesRecovered {
            deliveries: messages.len(),
            expired,
        }),
    ))
}

/// The window asked for, `[since, until)` with `until` now when absent,
/// clamped to the log's retention: attempts older than that are no longer
/// logged, so an older `since` recovers exactly what the clamped one does.
/// None when the window is empty (nothing to recover), which is not an
/// error: the request is well formed, it just selects nothing.
fn window(
    body: &RecoverDeliveries,
    now: OffsetDateTime,
    state: &ApiState,
) -> Result<Option<(OffsetDateTime, OffsetDateTime)>, ApiError> {
    let since = body_time("since", &body.since)?;
    let until = body
        .until
        .as_deref()
        .map(|raw| body_time("until", raw))
        .transpose()?
        .unwrap_or(now);
    let since = since.max(now - state.settings.retention);
    Ok((since < until).then_some((since, until)))
}

/// Reads the endpoint's log from `since` to now into `recovery`, page by
/// page; the number of entries read. More than `limit` is 422 on `since`.
async fn read_log(
    store: &dyn Store,
    tenant: &TenantId,
    endpoint: EndpointId,
    since: OffsetDateTime,
    recovery: &mut Recovery,
    limit: usize,
) -> Result<usize, ApiError> {
    let mut query = DeliveryQuery {
        limit: MAX_PAGE,
        since: Some(since),
        ..DeliveryQuery::default()
    };
    let mut read = 0;
    loop {
        let page = store.recent_deliveries(tenant, endpoint, &query).await?;
        read += page.items.len();
        if read > limit {
            return Err(ApiError::validation(
                "since",
                format!(
                    "more than {limit} attempts were logged to this endpoint since {}; recover a shorter window (a later since): the log is read from since to now",
                    since.format(&Rfc3339).unwrap_or_default()
                ),
            ));
        }
        for entry in &page.items {
            recovery.add(entry);
        }
        // A short page with a cursor only means the read budget ran out.
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(read),
        }
    }
}

/// The stored events of `ids`, in their order, and how many have expired.
async fn stored_events(
    store: &dyn Store,
    tenant: &TenantId,
    ids: Vec<EventId>,
) -> Result<(Vec<Event>, usize), ApiError> {
    let found: Vec<Option<Event>> = futures::stream::iter(ids)
        .map(|id| async move { store.event(tenant, &id).await })
        .buffered(EVENT_READS)
        .try_collect()
        .await?;
    let wanted = found.len();
    let events: Vec<Event> = found.into_iter().flatten().collect();
    let expired = wanted - events.len();
    Ok((events, expired))
}

/// The 503 when some deliveries could not be queued, saying how many were.
fn not_queued(err: QueueError, total: usize) -> ApiError {
    match err {
        QueueError::NotEnqueued { failed } => ApiError::Unavailable(format!(
            "queue: {} of the {total} deliveries to recover could not be queued and {} were; recovering the window again queues the rest (and those not yet attempted again)",
            failed.len(),
            total - failed.len()
        )),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use courier::attempt::{AttemptStatus, DeliveryAttempt};
    use courier::embedded::EmbeddedStore;
    use courier::event::to_millis;
    use courier::ports::DeliveryLog;
    use time::Duration;

    /// A failed first attempt of a new event at `at`, with an id that sorts
    /// by `at` as the delivery function's do.
    fn failed(tenant: &TenantId, endpoint: EndpointId, at: OffsetDateTime) -> DeliveryAttempt {
        let mut attempt = courier_testkit::conformance::attempt(tenant, endpoint, "a.b", at);
        attempt.status = AttemptStatus::Failed;
        attempt
    }

    #[tokio::test]
    async fn the_log_is_read_in_pages_up_to_the_limit() {
        let store = EmbeddedStore::new();
        let tenant: TenantId = "t".parse().unwrap();
        let endpoint = EndpointId::generate();
        // Logged times are to the millisecond, so the first entry is at `since`.
        let now = to_millis(OffsetDateTime::now_utc());
        let since = now - Duration::hours(1);
        // 250 entries in the window: three pages of the log.
        let log: Vec<DeliveryAttempt> = (0..250)
            .map(|i| failed(&tenant, endpoint, since + Duration::seconds(i)))
            .collect();
        store.record_attempts(&log).await.unwrap();
        let read = |limit| {
            let store = &store;
            let tenant = &tenant;
            async move {
                let mut recovery = Recovery::new(since, now, now, 3);
                let read = read_log(store, tenant, endpoint, since, &mut recovery, limit).await;
                (read, recovery.events().len())
            }
        };
        let (whole, events) = read(250).await;
        assert_eq!(whole.unwrap(), 250);
        assert_eq!(events, 250);
        let (over, _) = read(249).await;
        let problem = over.unwrap_err().problem();
        assert_eq!(problem.field.as_deref(), Some("since"));
        assert!(
            problem.detail.contains("more than 249 attempts"),
            "{problem:?}"
        );
    }
}
