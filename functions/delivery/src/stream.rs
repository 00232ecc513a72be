//! The Lambda side of the deliveries table's stream: new log entries in,
//! counted into the statistics and the endpoints' failure counters and circuits (see
//! `courier_aws::accounting`), operational webhooks published from what the
//! counting did (`courier::operational`), batch item failures out.

use std::collections::BTreeSet;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use courier::attempt::AttemptStatus;
use courier::ids::{EndpointId, TenantId};
use courier::operational::{OperationalError, Operations};
use courier::policy;
use courier::ports::StoreError;
use courier_aws::{LoggedEntry, StreamAccounting};

/// The new log entries of a stream event, in stream order. Records that
/// are not new log entries are left out; an entry that cannot be decoded
/// is logged and left out (it would stop its shard forever otherwise).
fn logged_entries(event: Event) -> Vec<LoggedEntry> {
    let mut entries = Vec::with_capacity(event.records.len());
    for record in event.records {
        if record.event_name != "INSERT" {
            continue;
        }
        let Some(sequence) = record.change.sequence_number else {
            tracing::error!("stream record without a sequence number");
            continue;
        };
        match courier_aws::entry_from_stream_image(&sequence, record.change.new_image) {
            None => {}
            Some(Ok(entry)) => entries.push(entry),
            Some(Err(e)) => {
                tracing::error!(sequence, error = %e, "log entry in the stream could not be decoded; not counted");
            }
        }
    }
    entries
}

/// Why a stream batch is handed back: counting or publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The statistics or counters could not be updated.
    #[error("could not count log entries: {0}")]
    Count(#[from] StoreError),
    /// An operational webhook could not be published.
    #[error(transparent)]
    Publish(#[from] OperationalError),
}

/// Counts a stream event's entries and publishes the operational webhooks
/// they call for ([`count_and_report`]). On a fault, the batch is reported
/// failed from its first entry: Lambda hands it over again, what was
/// counted already is not counted twice, and what was published already is
/// a duplicate.
pub async fn handle_stream_event(
    store: &dyn StreamAccounting,
    operations: &Operations,
    event: Event,
    rules: &courier::circuit::HealthRules,
) -> DynamoDbEventResponse {
    let entries = logged_entries(event);
    let mut response = DynamoDbEventResponse::default();
    let Some(first) = entries.first() else {
        return response;
    };
    if let Err(e) = count_and_report(store, operations, &entries, rules).await {
        tracing::error!(error = %e, entries = entries.len(), "stream batch not finished; it comes back");
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(first.sequence.trim_start_matches('0').to_owned());
        response.batch_item_failures.push(failure);
    }
    response
}

/// Counts new log entries (exactly once, see `courier_aws::accounting`),
/// then publishes `webhooks.endpoint.disabled` for each endpoint the
/// counting disabled and `webhooks.delivery.exhausted` for each entry that
/// failed its delivery's last attempt.
///
/// A batch seen before (Lambda retries one whose publishing failed) is
/// counted as nothing new, so its disablings are not reported again: then
/// every endpoint with a failure in the batch is read back, and one that
/// is disabled by counting is published again — under the id of that
/// disabling, so one published before is a duplicate. Exhausted events
/// follow from the entries alone, and their ids absorb repeats.
pub async fn count_and_report(
    store: &dyn StreamAccounting,
    operations: &Operations,
    entries: &[LoggedEntry],
    rules: &courier::circuit::HealthRules,
) -> Result<(), StreamError> {
    let counted = store.count_entries(entries, rules).await?;
    let mut disabled: BTreeSet<(TenantId, EndpointId)> = BTreeSet::new();
    for (tenant, endpoint, recorded) in counted.disabled {
        tracing::warn!(
            tenant_id = %tenant, endpoint_id = %endpoint,
            consecutive_failures = recorded.consecutive_failures,
            reason = ?recorded.disabled, "endpoint disabled"
        );
        courier::metrics::endpoint_disabled();
        disabled.insert((tenant, endpoint));
    }
    let countable = entries
        .iter()
        .filter(|e| policy::result_of(&e.attempt).is_some())
        .count();
    if counted.entries < countable {
        disabled.extend(
            entries
                .iter()
                .filter(|e| e.attempt.status == AttemptStatus::Failed)
                .map(|e| (e.attempt.tenant_id.clone(), e.attempt.endpoint_id)),
        );
    }
    for (tenant, endpoint) in &disabled {
        operations.endpoint_disabled(tenant, *endpoint).await?;
    }
    for entry in entries {
        operations.delivery_exhausted(&entry.attempt).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;
    use courier::circuit::HealthRules;
    use courier::config::Settings;
    use courier::embedded::{EmbeddedQueue, EmbeddedStore, QueueSettings};
    use courier::endpoint::DisabledReason;
    use courier::ports::EndpointStore;
    use courier_aws::Counted;
    use courier_testkit::conformance::attempt;

    use super::*;

    /// Counting that finds everything counted already: a retried batch.
    struct CountedBefore;

    #[async_trait]
    impl StreamAccounting for CountedBefore {
        async fn count_entries(
            &self,
            _entries: &[LoggedEntry],
            _rules: &HealthRules,
        ) -> Result<Counted, StoreError> {
            Ok(Counted::default())
        }
    }

    #[tokio::test]
    async fn a_retried_batch_publishes_the_disabling_it_no_longer_reports_once() {
        let store = Arc::new(EmbeddedStore::new());
        let queue = Arc::new(EmbeddedQueue::new(QueueSettings::default()));
        let settings = Settings::default();
        let ops = courier_testkit::endpoint(&settings.operations_tenant, &["webhooks.*"]);
        store.create_endpoint(&ops).await.unwrap();
        let tenant = courier_testkit::unique_tenant();
        let mut ep = courier_testkit::endpoint(&tenant, &["*"]);
        ep.enabled = false;
        ep.disabled_reason = Some(DisabledReason::ConsecutiveFailures);
        store.create_endpoint(&ep).await.unwrap();
        let mut failed = attempt(
            &tenant,
            ep.id,
            "booking.created",
            time::OffsetDateTime::now_utc(),
        );
        failed.status = AttemptStatus::Failed;
        failed.http_status = Some(500);
        let entries = [LoggedEntry {
            sequence: "1".into(),
            attempt: failed,
        }];
        let operations = Operations::new(store.clone(), queue.clone(), &settings);
        let rules = settings.health_rules();
        for _ in 0..2 {
            count_and_report(&CountedBefore, &operations, &entries, &rules)
                .await
                .unwrap();
        }
        let queued = queue.receive(10, Duration::from_millis(50)).await;
        let mut types: Vec<String> = queued
            .iter()
            .map(|m| {
                let message = courier::message::DeliveryMessage::from_json(&m.body).unwrap();
                message.event.event_type.to_string()
            })
            .collect();
        types.sort();
        assert_eq!(
            types,
            [
                courier::operational::DELIVERY_EXHAUSTED,
                courier::operational::ENDPOINT_DISABLED
            ],
            "each once, however often the batch comes back"
        );
    }
}
