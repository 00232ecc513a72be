//! The operational webhooks the delivery function publishes (see
//! `courier::operational`): after logging an attempt on a store that counts
//! inline (the embedded one), here; on DynamoDB, whose counting runs from
//! the table's stream, in the stream handler ([`crate::stream`]).

use courier::attempt::DeliveryAttempt;
use courier::ports::OutcomeRecorded;

use crate::Deliverer;

impl Deliverer {
    /// Publishes what the inline counting of `entry` calls for: `disabled`
    /// when it disabled the endpoint, `exhausted` when the entry ends its
    /// delivery in failure. Best effort: the embedded store and queue live
    /// in this process, so a failure here is a bug to log, not an outage to
    /// wait out (and the entry is logged already, so nothing would retry it).
    pub(crate) async fn report_counted(
        &self,
        entry: &DeliveryAttempt,
        outcome: Option<OutcomeRecorded>,
    ) {
        if outcome.is_some_and(|o| o.disabled.is_some())
            && let Err(e) = self
                .operations
                .endpoint_disabled(&entry.tenant_id, entry.endpoint_id)
                .await
        {
            tracing::error!(endpoint_id = %entry.endpoint_id, error = %e, "endpoint.disabled not published");
        }
        if let Err(e) = self.operations.delivery_exhausted(entry).await {
            tracing::error!(endpoint_id = %entry.endpoint_id, delivery_id = %entry.id, error = %e, "delivery.exhausted not published");
        }
    }
}
