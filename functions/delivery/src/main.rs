//! Delivery Lambda: wiring only. SQS batches in, batch item failures out.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use courier::config::Settings;
use courier::metrics::Metrics;
use courier_delivery::{Deliverer, handle_sqs_event};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    courier_aws::logging::init_lambda_logging();
    let metrics = Metrics::from_env()?;
    let settings = Settings::from_env()?;
    let backend = courier_aws::AwsBackend::from_env().await?;
    let deliverer = Arc::new(Deliverer::new(backend.store, backend.queue, settings)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let deliverer = deliverer.clone();
        async move {
            let response = handle_sqs_event(&deliverer, event.payload).await;
            metrics.flush();
            Ok::<SqsBatchResponse, Error>(response)
        }
    }))
    .await
}
