//! In-process adapters with the same semantics as DynamoDB and SQS (TTL
//! expiry, conditional writes, visibility timeouts, receive counts): the
//! local server's backend and the reference the conformance suite checks
//! the AWS adapters against.

mod queue;
mod store;

pub use queue::{Consumer, EmbeddedQueue, QueueSettings};
pub use store::EmbeddedStore;
