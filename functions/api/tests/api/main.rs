//! Integration tests of the admin API. Scenarios are plain async functions
//! over a store, and [`api_tests!`] runs each on the embedded store and on
//! DynamoDB Local (started by `infra/test.sh` or `infra/emulators.sh`; the
//! AWS tests fail, never skip, when it is missing).

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

mod bad_input;
mod common;
mod endpoints;
mod event_types;
mod http;
mod isolation;
mod lambda_events;
mod openapi;
mod rotation;
