//! The `api` Lambda: wiring only. Reads the configuration once, builds the
//! DynamoDB and SQS adapters once, and serves the admin router for API
//! Gateway (HTTP API, payload v2, `$default` stage so paths carry no stage).

use courier::config::Settings;
use courier_api::auth::AdminAuth;
use courier_api::{ApiState, router};
use courier_aws::AwsBackend;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // One JSON object per line, fields at the top level (Logs Insights:
    // `filter endpoint_id = "ep_..."`), with the `timestamp` and `level` that
    // Lambda's log-level filter reads. Same set-up in all three functions.
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let settings = Settings::from_env()?;
    let auth = AdminAuth::from_env()?;
    let backend = AwsBackend::from_env().await?;
    let state = ApiState {
        store: backend.store,
        queue: backend.queue,
        settings,
        auth,
    };
    lambda_http::run(router(state)).await
}
