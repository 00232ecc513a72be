//! The direct-`Invoke` door, for producers that use the AWS SDK: one event
//! `{"tenantId","id"?,"type","data"}` or a list of them.

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

/// Publishes a direct invocation's events in order. The whole invocation
/// fails on the first error so the invoker retries it; events accepted
/// before are idempotent and are not fanned out twice.
pub async fn handle_direct(intake: &Intake, payload: &str) -> Result<Value, PublishError> {
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
    let mut results: Vec<Published> = Vec::with_capacity(events.len());
    for event in events {
        let tenant: TenantId = event
            .tenant_id
            .parse()
            .map_err(|e: courier::ids::IdError| PublishError::Invalid {
                field: "tenantId",
                detail: e.0,
            })?;
        let request = PublishRequest {
            id: event.id,
            event_type: event.event_type,
            data: event.data,
        };
        results.push(intake.publish(&tenant, request).await?);
    }
    let value = if single {
        serde_json::to_value(&results[0])
    } else {
        serde_json::to_value(&results)
    };
    value.map_err(|e| invalid(e.to_string()))
}
