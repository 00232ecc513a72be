//! Delivery Lambda: wiring only. SQS batches in, batch item failures out.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use courier::config::Settings;
use courier::metrics::Metrics;
use courier_delivery::{Deliverer, batch_response, received_messages};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Error> {
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
    let metrics = Metrics::from_env()?;
    let settings = Settings::from_env()?;
    let backend = courier_aws::AwsBackend::from_env().await?;
    let deliverer = Arc::new(Deliverer::new(backend.store, backend.queue, settings)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let deliverer = deliverer.clone();
        async move {
            let failed = deliverer
                .handle_batch(received_messages(event.payload))
                .await;
            metrics.flush();
            Ok::<SqsBatchResponse, Error>(batch_response(failed))
        }
    }))
    .await
}
