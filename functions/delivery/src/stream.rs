//! The Lambda side of the deliveries table's stream: new log entries in,
//! counted into the statistics and the endpoints' failure counters and circuits (see
//! `courier_aws::accounting`), batch item failures out.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
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

/// Counts a stream event's entries. On a store fault, the batch is reported
/// failed from its first entry: Lambda hands it over again, and what was
/// counted already is not counted twice.
pub async fn handle_stream_event(
    store: &dyn StreamAccounting,
    event: Event,
    rules: &courier::circuit::HealthRules,
) -> DynamoDbEventResponse {
    let entries = logged_entries(event);
    let mut response = DynamoDbEventResponse::default();
    let Some(first) = entries.first() else {
        return response;
    };
    match store.count_entries(&entries, rules).await {
        Ok(counted) => {
            for (tenant, endpoint, recorded) in counted.disabled {
                tracing::warn!(
                    tenant_id = %tenant, endpoint_id = %endpoint,
                    consecutive_failures = recorded.consecutive_failures,
                    reason = ?recorded.disabled, "endpoint disabled"
                );
                courier::metrics::endpoint_disabled();
            }
        }
        Err(e) => {
            tracing::error!(error = %e, entries = entries.len(), "could not count log entries; the batch comes back");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(first.sequence.trim_start_matches('0').to_owned());
            response.batch_item_failures.push(failure);
        }
    }
    response
}
