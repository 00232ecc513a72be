//! Intake Lambda: wiring only. [`handle_invocation`] routes API Gateway
//! events to the HTTP router and any other payload to the direct door.

use std::sync::Arc;

use courier::config::Settings;
use courier::metrics::Metrics;
use courier_http::access::Credentials;
use courier_http::auth::AdminAuth;
use courier_intake::{Intake, handle_invocation, router};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    courier_aws::logging::init_lambda_logging();
    let metrics = Metrics::from_env()?;
    let settings = Settings::from_env()?;
    let auth = AdminAuth::from_env()?;
    let backend = courier_aws::AwsBackend::from_env_without_secrets().await?;
    let max_payload = settings.max_payload_bytes;
    let credentials = Credentials::new(auth, backend.store.clone());
    let intake = Arc::new(Intake::new(backend.store, backend.queue, settings));
    let http = router(intake.clone(), credentials, max_payload);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let intake = intake.clone();
        let http = http.clone();
        async move {
            let result = handle_invocation(&intake, http, event).await;
            // Metrics are flushed once per invocation, whatever its outcome.
            metrics.flush();
            result
        }
    }))
    .await
}
