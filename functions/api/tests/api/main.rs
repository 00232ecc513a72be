//! Integration tests of the admin API. Scenarios are plain async functions
//! over a store, and [`api_tests!`] runs each on the embedded store and on
//! DynamoDB Local (started by `infra/test.sh` or `infra/emulators.sh`; the
//! AWS tests fail, never skip, when it is missing). Scenarios that follow a
//! delivery to a receiver run through [`pipeline_tests!`] on a whole backend.

/// Expands scenario functions `async fn(Arc<dyn Store>)` into one test per
/// backend: `<module>::embedded::<name>` and `<module>::dynamodb::<name>`.
macro_rules! api_tests {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = courier_testkit::TestBackend::store(&courier_testkit::EmbeddedTestBackend).await;
                    super::$name(store).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = courier_testkit::TestBackend::store(&courier_testkit::AwsTestBackend).await;
                    super::$name(store).await;
                }
            )*
        }
    };
}

/// Expands scenario functions `async fn(&dyn TestBackend)` that need the
/// queue too (resends and test events pumped through the delivery
/// function) into one test per backend: the embedded store and queue, and
/// DynamoDB Local with moto's SQS.
macro_rules! pipeline_tests {
    ($($name:ident),* $(,)?) => {
        mod embedded_pipeline {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(&courier_testkit::EmbeddedTestBackend).await;
                }
            )*
        }
        mod aws_pipeline {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(&courier_testkit::AwsTestBackend).await;
                }
            )*
        }
    };
}

mod bad_input;
mod bad_input_deliveries;
mod common;
mod deliveries;
mod endpoints;
mod event_types;
mod http;
mod isolation;
mod lambda_events;
mod openapi;
mod pipeline;
mod resend;
mod rotation;
mod stats;
mod test_events;
