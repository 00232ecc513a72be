//! The intake function: accepts events over HTTP (API Gateway) or by direct
//! Lambda `Invoke`, stores each once and fans it out to the delivery queue.

mod catalogue;
mod direct;
mod http;
mod lambda;
mod publish;

pub use courier::fan_out::{FAN_OUT_BUDGET, FanOutStop, PAGE};
pub use direct::{DirectEvent, handle_direct};
pub use http::{router, routes, to_api_error};
pub use lambda::handle_invocation;
pub use publish::{Intake, PublishError, PublishRequest, Published};
