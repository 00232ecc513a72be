//! The API's router, the delivery function's `Deliverer` and a loopback
//! receiver in one process, on both backends: resends, test events and
//! statistics followed from the API call to the receiver and back to the
//! log. They live here, not in `functions/api/tests`, so that no function
//! crate depends on another (`cargo tree`); the request helpers are the API
//! tests' own.

#[path = "../../../../functions/api/tests/api/common.rs"]
#[allow(dead_code)] // the API tests use the rest of it
mod common;
mod pipeline;
mod recover;
mod resend;
mod stats;
mod test_events;
