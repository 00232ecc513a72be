//! Courier: the domain of a webhook delivery service — endpoints, events,
//! signatures, the delivery rules — and the ports (traits) storage and queue
//! adapters implement, with the embedded adapters used by the local server
//! and the tests. No AWS types live here; see `courier-aws` for those.

pub mod access;
pub mod attempt;
pub mod chain;
pub mod circuit;
pub mod config;
pub mod credentials;
pub mod embedded;
pub mod endpoint;
pub mod event;
pub mod event_type;
pub mod fan_out;
pub mod headers;
pub mod ids;
pub mod message;
pub mod metrics;
pub mod net;
pub mod operational;
pub mod paging;
pub mod policy;
pub mod ports;
pub mod rate;
pub mod recovery;
pub mod schedule;
pub mod sealing;
pub mod secrets_memo;
pub mod signing;
pub mod stats;
