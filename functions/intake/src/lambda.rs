//! The Lambda entry: an API Gateway event goes to the HTTP router, any other
//! payload is a direct invocation. The payload stays raw JSON, never a
//! `serde_json::Value`, so a direct event's `data` keeps the producer's key
//! order and number spelling.

use std::time::Instant;

use axum::Router;
use lambda_http::Adapter;
use lambda_http::request::LambdaRequest;
use lambda_runtime::{Diagnostic, LambdaEvent, Service};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::direct::handle_direct;
use crate::http::now_ms;
use crate::publish::{Intake, PublishError};
use courier::fan_out::fan_out_deadline;

/// Answers one invocation: the HTTP response for an API Gateway event, the
/// publish results for a direct one. A refused direct event fails with
/// `InvalidEvent`, anything else with `Unavailable`.
pub async fn handle_invocation(
    intake: &Intake,
    http: Router,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Value, Diagnostic> {
    let LambdaEvent { payload, context } = event;
    if is_http_request(&payload) {
        let bad = |e: serde_json::Error| Diagnostic {
            error_type: "InvalidRequest".into(),
            error_message: e.to_string(),
        };
        let request: LambdaRequest = serde_json::from_str(payload.get()).map_err(bad)?;
        let response = Adapter::from(http)
            .call(LambdaEvent::new(request, context))
            .await?;
        return serde_json::to_value(response).map_err(bad);
    }
    let deadline = fan_out_deadline(Instant::now(), now_ms(), context.deadline);
    handle_direct(intake, payload.get(), deadline)
        .await
        .map_err(|e| {
            let kind = match e.root() {
                PublishError::Invalid { .. } | PublishError::TooLarge { .. } => "InvalidEvent",
                _ => "Unavailable",
            };
            Diagnostic {
                error_type: kind.into(),
                error_message: e.to_string(),
            }
        })
}

/// Whether the payload is an API Gateway request: an object with a
/// `requestContext` (a direct invocation is an event or a list of them).
fn is_http_request(payload: &RawValue) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "requestContext")]
        request_context: Option<IgnoredAny>,
    }
    // serde would read a one-element list into the probe; only an object counts.
    payload.get().trim_start().starts_with('{')
        && serde_json::from_str::<Probe>(payload.get()).is_ok_and(|p| p.request_context.is_some())
}
