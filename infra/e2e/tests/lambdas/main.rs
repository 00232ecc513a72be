//! End-to-end: the real `api`, `intake` and `delivery` binaries under
//! `cargo lambda watch`, on DynamoDB Local and moto, driven over HTTP
//! (function URLs), by Lambda Invoke, with `cargo lambda invoke --data-file`
//! and the samples in `events/`, and with the SQS event source mapping
//! played by the harness (`courier-e2e`). Needs the emulators: run through
//! infra/test.sh.

mod common;
mod direct;
mod log_hygiene;
mod pipeline;
mod retries;
mod samples;
mod scale;
