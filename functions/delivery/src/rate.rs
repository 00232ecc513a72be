//! A delivery to a rate-limited endpoint takes a slot of its endpoint's
//! shared counter before the POST, and sends at the slot's time or waits
//! for a later window (see `courier::rate` for the rules and their cost).

use courier::endpoint::Endpoint;
use courier::message::ReceivedMessage;
use courier::rate::{self, Pace};
use time::OffsetDateTime;

use crate::{BatchClock, Deliverer, Handled};

impl Deliverer {
    /// Holds a delivery to `endpoint` to its rate limit: `None` when it may
    /// be sent now (after sleeping until its slot), else what became of it
    /// (put back for a later window, or a fault), spending no attempt.
    pub(crate) async fn keep_pace(
        &self,
        received: &ReceivedMessage,
        endpoint: &Endpoint,
        clock: &BatchClock,
    ) -> Option<Handled> {
        let limit = endpoint.rate_limit_per_second?;
        let window = rate::window_of(OffsetDateTime::now_utc());
        let position = match self
            .store
            .take_rate_slot(&endpoint.tenant_id, endpoint.id, window)
            .await
        {
            Ok(position) => position,
            Err(e) => {
                tracing::error!(endpoint_id = %endpoint.id, error = %e, "rate-limit slot could not be taken");
                return Some(self.fault(received).await);
            }
        };
        match rate::pace(limit, window, position, OffsetDateTime::now_utc()) {
            Pace::Wait(wait) => {
                tracing::debug!(endpoint_id = %endpoint.id, position, wait_s = wait.as_secs(), "above the endpoint's rate limit; waiting");
                Some(self.put_back(received, wait, clock).await)
            }
            // The slot is lost if the attempt could not finish in time after
            // it; the next receive takes another.
            Pace::SendAfter(wait)
                if !clock.time_for_an_attempt(self.settings.delivery_timeout + wait) =>
            {
                Some(self.fault(received).await)
            }
            Pace::SendAfter(wait) => {
                tokio::time::sleep(wait).await;
                None
            }
        }
    }
}
