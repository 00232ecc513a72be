//! Delivery Lambda: wiring only. Two event sources: SQS batches of
//! deliveries (batch item failures out), and the deliveries table's stream
//! of new log entries, counted into statistics and endpoint counters.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use courier::config::Settings;
use courier::metrics::Metrics;
use courier_delivery::{Deliverer, deadline_of, handle_sqs_event, handle_stream_event};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    courier_aws::logging::init_lambda_logging();
    let metrics = Metrics::from_env()?;
    let settings = Settings::from_env()?;
    let backend = courier_aws::AwsBackend::from_env().await?;
    let rules = Arc::new(settings.health_rules());
    let store = backend.store.clone();
    let deliverer = Arc::new(Deliverer::new(backend.store, backend.queue, settings)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (deliverer, store, rules) = (deliverer.clone(), store.clone(), rules.clone());
        async move {
            let deadline = deadline_of(event.context.deadline);
            let source = event.payload["Records"][0]["eventSource"].as_str();
            let response = if source == Some("aws:dynamodb") {
                let records: StreamEvent = serde_json::from_value(event.payload)?;
                let operations = deliverer.operations();
                serde_json::to_value(
                    handle_stream_event(&*store, operations, records, &rules).await,
                )?
            } else {
                let records: SqsEvent = serde_json::from_value(event.payload)?;
                serde_json::to_value(handle_sqs_event(&deliverer, records, deadline).await)?
            };
            metrics.flush();
            Ok::<Value, Error>(response)
        }
    }))
    .await
}
