//! The `api` Lambda: wiring only. Reads the configuration once, builds the
//! DynamoDB and SQS adapters once, and serves the API and the panel for API
//! Gateway (HTTP API, payload v2, `$default` stage so paths carry no stage).

use courier::config::Settings;
use courier_api::auth::AdminAuth;
use courier_api::portal::PortalSettings;
use courier_api::{ApiState, router};
use courier_aws::AwsBackend;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    courier_aws::logging::init_lambda_logging();

    let settings = Settings::from_env()?;
    let auth = AdminAuth::from_env()?;
    let portal = PortalSettings::from_env()?;
    let backend = AwsBackend::from_env().await?;
    let state = ApiState::new(backend.store, backend.queue, settings, auth).with_portal(portal);
    lambda_http::run(router(state)).await
}
