//! Integration tests of the admin API. Scenarios are plain async functions
//! over a store, and `courier_testkit::backend_tests!(store: ...)` runs each
//! on the embedded store and on DynamoDB Local (started by `infra/test.sh`
//! or `infra/emulators.sh`; the AWS tests fail, never skip, when it is
//! missing). Scenarios that follow a delivery to a receiver take a whole
//! backend (`backend_tests!(...)`: store and queue).

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
