//! Integration tests of the admin API. Scenarios are plain async functions
//! over a store, and `courier_testkit::backend_tests!(store: ...)` runs each
//! on the embedded store and on DynamoDB Local (started by `infra/test.sh`
//! or `infra/emulators.sh`; the AWS tests fail, never skip, when it is
//! missing). Scenarios that follow a delivery through the delivery function
//! to a receiver (resend, test events, statistics) are in
//! `infra/e2e/tests/pipeline`, so that this function crate does not depend
//! on another.

mod bad_input;
mod bad_input_deliveries;
mod common;
mod credentials;
mod deliveries;
mod endpoint_limit;
mod endpoints;
mod event_types;
mod headers;
mod http;
mod isolation;
mod lambda_events;
mod openapi;
mod operational;
mod portal;
mod rate_limit;
mod recover;
mod rotation;
mod scopes;
mod template;
