//! End-to-end harness for the real Lambda binaries (`api`, `intake`,
//! `delivery`): they run as processes against `cargo lambda watch`'s Lambda
//! runtime emulator, on DynamoDB Local and moto, and the harness plays the
//! SQS event source mapping for `delivery`.
//!
//! ```text
//!  test ──HTTP (function URL)──▶ ┌──────────────────────┐ ◀──runtime API── api, intake, delivery
//!       ──Invoke / cargo lambda  │ cargo lambda watch   │                   (target/debug binaries)
//!         invoke --data-file──▶  │ --only-lambda-apis   │
//!                                └──────────────────────┘       DynamoDB Local ◀── all three
//!  EventSourceMapping: ReceiveMessage (moto) → Invoke delivery → DeleteMessage for
//!  every record not named in batchItemFailures (the rest come back when their
//!  visibility timeout, set by the binary, runs out)
//!  StreamMapping: GetRecords (the deliveries table's stream) → Invoke delivery,
//!  which counts the new log entries into statistics and endpoint counters
//! ```
//!
//! [`Stack::start`] builds all of it for one test (tables and queue of its
//! own, so tests run side by side and may reuse the fixed ids of `events/`).

mod binaries;
mod mapping;
mod process;
mod sqs_stand_in;
mod stack;
mod stream_mapping;
mod watch;

pub use binaries::{Binaries, binaries, workspace_root};
pub use mapping::{Batch, EventSourceMapping, Record, to_delete};
pub use sqs_stand_in::SqsStandIn;
pub use stack::{ADMIN_TOKEN, QUEUE_VISIBILITY, Stack};
pub use stream_mapping::StreamMapping;
pub use watch::{FunctionError, Watch};
