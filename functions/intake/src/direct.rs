//! The direct-`Invoke` door, for producers that use the AWS SDK: one event
//! `{"tenantId","id"?,"type","data"}` or a list of them.

use std::time::Instant;

use courier::ids::TenantId;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::publish::{Intake, PublishError, PublishRequest, Published};

/// One event of a direct invocation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DirectEvent {
    /// Whose event.
    pub tenant_id: String,
    /// Optional producer id.
    #[serde(default)]
    pub id: Option<String>,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The producer's object.
    pub data: Box<RawValue>,
}

/// Publishes a direct invocation's events in order, fanning out until
/// `deadline`. Every event is validated before any is stored, so a list
/// with a bad event changes nothing. If a fan-out fails part-way the
/// invocation fails, naming every event's id (generated ones included) so
/// the invoker can retry the list with those ids: events already accepted
/// are then duplicates, not resent.
pub async fn handle_direct(
    intake: &Intake,
    payload: &str,
    deadline: Instant,
) -> Result<Value, PublishError> {
    let invalid = |detail: String| PublishError::Invalid {
        field: "payload",
        detail,
    };
    let trimmed = payload.trim_start();
    let (events, single): (Vec<DirectEvent>, bool) = if trimmed.starts_with('[') {
        (
            serde_json::from_str(payload).map_err(|e| invalid(e.to_string()))?,
            false,
        )
    } else {
        (
            vec![serde_json::from_str(payload).map_err(|e| invalid(e.to_string()))?],
            true,
        )
    };
    let mut prepared = Vec::with_capacity(events.len());
    for (index, event) in events.into_iter().enumerate() {
        // A refusal names the event by its place in the list: nothing of
        // the list is stored, so a generated id would mean nothing.
        let at = |e: PublishError| match e.root() {
            PublishError::Invalid { field, detail } => PublishError::Invalid {
                field,
                detail: format!("event {index}: {detail}"),
            },
            // The direct door has no statuses: a refusal is a refusal.
            PublishError::NotInCatalogue(detail) => PublishError::Invalid {
                field: "type",
                detail: format!("event {index}: {detail}"),
            },
            _ => e,
        };
        let tenant: TenantId = event
            .tenant_id
            .parse()
            .map_err(|e: courier::ids::IdError| {
                at(PublishError::Invalid {
                    field: "tenantId",
                    detail: e.0,
                })
            })?;
        let request = PublishRequest {
            id: event.id,
            event_type: event.event_type,
            data: event.data,
        };
        prepared.push(intake.prepare(&tenant, request).await.map_err(at)?);
    }
    let ids: Vec<String> = prepared.iter().map(|e| e.id.to_string()).collect();
    let mut results: Vec<Published> = Vec::with_capacity(prepared.len());
    for event in prepared {
        match intake.accept(event, deadline).await {
            Ok(published) => results.push(published),
            Err(PublishError::ForEvent { event_id, error }) => {
                return Err(PublishError::ForEvent {
                    event_id: format!("{event_id} (retry the list with ids {})", ids.join(", ")),
                    error,
                });
            }
            Err(other) => return Err(other),
        }
    }
    let value = if single {
        serde_json::to_value(&results[0])
    } else {
        serde_json::to_value(&results)
    };
    value.map_err(|e| invalid(e.to_string()))
}
