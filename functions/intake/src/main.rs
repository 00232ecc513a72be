//! Intake Lambda: wiring only. API Gateway events go through the HTTP
//! router; any other payload is a direct invocation.

use std::sync::Arc;

use courier::config::Settings;
use courier::metrics::Metrics;
use courier_api::auth::AdminAuth;
use courier_intake::{Intake, handle_direct, router};
use lambda_http::{Adapter, request::LambdaRequest};
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::Value;
use tower::Service;

#[tokio::main]
async fn main() -> Result<(), Error> {
    courier_aws::logging::init_lambda_logging();
    let metrics = Metrics::from_env()?;
    let settings = Settings::from_env()?;
    let auth = AdminAuth::from_env()?;
    let backend = courier_aws::AwsBackend::from_env().await?;
    let max_payload = settings.max_payload_bytes;
    let intake = Arc::new(Intake::new(backend.store, backend.queue, settings));
    let http = router(intake.clone(), auth, max_payload);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let intake = intake.clone();
        let mut http = Adapter::from(http.clone());
        async move {
            let LambdaEvent { payload, context } = event;
            // Metrics are flushed once per invocation, whatever its outcome.
            let result: Result<Value, Diagnostic> = async {
                if payload.get("requestContext").is_some() {
                    let bad = |e: serde_json::Error| Diagnostic {
                        error_type: "InvalidRequest".into(),
                        error_message: e.to_string(),
                    };
                    let request: LambdaRequest = serde_json::from_value(payload).map_err(bad)?;
                    let response = http.call(LambdaEvent::new(request, context)).await?;
                    return serde_json::to_value(response).map_err(bad);
                }
                handle_direct(&intake, &payload.to_string())
                    .await
                    .map_err(|e| {
                        let kind = match e {
                            courier_intake::PublishError::Invalid { .. }
                            | courier_intake::PublishError::TooLarge { .. } => "InvalidEvent",
                            _ => "Unavailable",
                        };
                        Diagnostic {
                            error_type: kind.into(),
                            error_message: e.to_string(),
                        }
                    })
            }
            .await;
            metrics.flush();
            result
        }
    }))
    .await
}
