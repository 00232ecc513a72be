//! `AwsBackend::from_env` on the emulators: reads the resource names and
//! lets the SDK apply `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS` /
//! `AWS_ENDPOINT_URL_KMS`; seals secrets under `SECRETS_KEY_ID`, and
//! refuses to touch any without it; `from_env_without_secrets` (the
//! intake's) refuses even with it.
//! Alone in its test binary because it sets process environment variables.

use std::time::Duration;

use courier::message::{DeliveryMessage, Trigger};
use courier::ports::{DeliveryQueue, EndpointStore};
use courier_aws::schema::{
    ENV_DELIVERIES_TABLE, ENV_DELIVERY_QUEUE_URL, ENV_ENDPOINTS_TABLE, ENV_SECRETS_KEY_ID,
};
use courier_aws::{AwsBackend, BackendError};
use courier_testkit::aws::{self, DYNAMODB_ENDPOINT_VAR, SQS_ENDPOINT_VAR};
use courier_testkit::conformance::{endpoint, event, unique_tenant};

fn set(var: &str, value: &str) {
    // SAFETY: this binary's only test sets variables before any other thread
    // of it reads the environment.
    unsafe { std::env::set_var(var, value) };
}

#[tokio::test]
async fn from_env_uses_the_named_resources_and_endpoint_overrides() {
    let dynamodb_url = std::env::var(DYNAMODB_ENDPOINT_VAR)
        .unwrap_or_else(|_| panic!("{DYNAMODB_ENDPOINT_VAR} is not set (run infra/test.sh)"));
    let sqs_url = std::env::var(SQS_ENDPOINT_VAR)
        .unwrap_or_else(|_| panic!("{SQS_ENDPOINT_VAR} is not set (run infra/test.sh)"));
    set("AWS_ACCESS_KEY_ID", "test");
    set("AWS_SECRET_ACCESS_KEY", "test");
    set("AWS_REGION", "us-east-1");
    set("AWS_EC2_METADATA_DISABLED", "true");
    assert!(matches!(
        AwsBackend::from_env().await,
        Err(BackendError::MissingVariable(ENV_ENDPOINTS_TABLE))
    ));

    let (endpoints, deliveries) = aws::tables().await;
    let (_, sqs) = aws::clients(None);
    let urls = aws::new_queue(&sqs, Duration::from_secs(30)).await;
    set(ENV_ENDPOINTS_TABLE, &endpoints);
    set(ENV_DELIVERIES_TABLE, &deliveries);
    set(ENV_DELIVERY_QUEUE_URL, &urls.queue_url);
    set("AWS_ENDPOINT_URL_DYNAMODB", &dynamodb_url);
    set("AWS_ENDPOINT_URL_SQS", &sqs_url);

    // Without a key (the intake) no secret is written or read.
    let t = unique_tenant();
    let ep = endpoint(&t, &["*"]);
    let keyless = AwsBackend::from_env().await.unwrap();
    let refused = keyless.store.create_endpoint(&ep).await.unwrap_err();
    assert!(
        refused.to_string().contains(ENV_SECRETS_KEY_ID),
        "{refused}"
    );

    for (var, value) in aws::secrets_env().await {
        set(&var, &value);
    }
    let backend = AwsBackend::from_env().await.unwrap();
    backend.store.create_endpoint(&ep).await.unwrap();
    assert_eq!(
        backend.store.endpoint(&t, ep.id).await.unwrap(),
        Some(ep.clone())
    );
    let message = DeliveryMessage::new(ep.id, Trigger::Test, event(&t, "booking.created", "{}"));
    backend
        .queue
        .enqueue(std::slice::from_ref(&message))
        .await
        .unwrap();
    let received = backend
        .queue
        .receive(10, Duration::from_secs(2), None)
        .await
        .unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(
        DeliveryMessage::from_json(&received[0].body).unwrap(),
        message
    );

    // The intake's backend builds no KMS client: it reads the endpoint but
    // refuses to open its secrets, whatever the environment says.
    let intake = AwsBackend::from_env_without_secrets().await.unwrap();
    let refused = intake.store.endpoint(&t, ep.id).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("does not handle endpoint secrets"),
        "{refused}"
    );
}
