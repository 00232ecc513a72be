//! Fault injection: a store and a queue that fail or hang on the calls the
//! delivery path makes — before a call takes effect, or after (its answer
//! lost) — at seeded random, and an outage switch that fails every call
//! until it is turned off. Everything else passes through.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use courier::attempt::{DeliveryAttempt, DeliveryQuery};
use courier::circuit::{HealthRules, Observed};
use courier::credentials::{ApiKey, ApiKeyId, CredentialHash, CredentialStore, PortalSession};
use courier::endpoint::Endpoint;
use courier::event::Event;
use courier::event_type::{EventType, EventTypeName};
use courier::ids::{DeliveryId, EndpointId, EventId, TenantId};
use courier::message::DeliveryMessage;
use courier::ports::*;
use courier::stats::{DailyStats, StatsDelta};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, OffsetDateTime};

/// How often calls fail, and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultRates {
    /// A call fails before it takes effect.
    pub fail_before: f64,
    /// A call takes effect, then its answer is lost (only for writes).
    pub fail_after: f64,
    /// A call hangs for [`Self::hang`] and then fails (a timeout), before
    /// it takes effect.
    pub hang: f64,
    /// How long a hanging call holds before failing.
    pub hang_for: Duration,
}

impl FaultRates {
    /// No faults.
    pub const NONE: Self = Self {
        fail_before: 0.0,
        fail_after: 0.0,
        hang: 0.0,
        hang_for: Duration::ZERO,
    };
}

/// The shared fault plan of a test: seeded, counted, switchable.
pub struct Faults {
    rng: Mutex<StdRng>,
    rates: Mutex<FaultRates>,
    outage: Mutex<bool>,
    injected: Mutex<BTreeMap<String, u64>>,
}

impl Faults {
    /// A plan drawing from `seed` (print it, so a failure can be replayed).
    pub fn new(seed: u64, rates: FaultRates) -> Arc<Self> {
        Arc::new(Self {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            rates: Mutex::new(rates),
            outage: Mutex::new(false),
            injected: Mutex::new(BTreeMap::new()),
        })
    }

    /// Changes the rates from now on (e.g. none, to let a test drain).
    pub fn set_rates(&self, rates: FaultRates) {
        *self.rates.lock().unwrap() = rates;
    }

    /// While on, every faulted call fails before taking effect.
    pub fn set_outage(&self, on: bool) {
        *self.outage.lock().unwrap() = on;
    }

    /// Faults injected so far, by `call: kind`.
    pub fn injected(&self) -> BTreeMap<String, u64> {
        self.injected.lock().unwrap().clone()
    }

    /// A random draw in `0.0..1.0` from the plan's generator.
    pub fn draw(&self) -> f64 {
        self.rng.lock().unwrap().r#gen()
    }

    fn count(&self, call: &str, kind: &str) {
        *self
            .injected
            .lock()
            .unwrap()
            .entry(format!("{call}: {kind}"))
            .or_default() += 1;
    }

    /// Called before `call` takes effect: may fail or hang-then-fail.
    pub async fn before(&self, call: &str) -> Result<(), FaultError> {
        if *self.outage.lock().unwrap() {
            self.count(call, "outage");
            return Err(FaultError(format!("injected outage: {call}")));
        }
        let rates = *self.rates.lock().unwrap();
        let draw = self.draw();
        if draw < rates.fail_before {
            self.count(call, "fail before");
            return Err(FaultError(format!("injected failure before {call}")));
        }
        if draw < rates.fail_before + rates.hang {
            self.count(call, "hang");
            tokio::time::sleep(rates.hang_for).await;
            return Err(FaultError(format!("injected timeout of {call}")));
        }
        Ok(())
    }

    /// Called after `call` took effect: may lose its answer.
    pub async fn after(&self, call: &str) -> Result<(), FaultError> {
        let rates = *self.rates.lock().unwrap();
        if self.draw() < rates.fail_after {
            self.count(call, "fail after");
            return Err(FaultError(format!(
                "injected failure after {call} took effect"
            )));
        }
        Ok(())
    }
}

/// An injected fault; converts into the ports' errors.
#[derive(Debug)]
pub struct FaultError(String);

impl From<FaultError> for StoreError {
    fn from(e: FaultError) -> Self {
        StoreError::Unavailable(e.0)
    }
}

impl From<FaultError> for QueueError {
    fn from(e: FaultError) -> Self {
        QueueError::Unavailable(e.0)
    }
}

/// A store whose `endpoint`, `find_attempt` and `record_attempt` (the
/// delivery path's calls) fail by plan; every other call passes through.
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    faults: Arc<Faults>,
}

impl FaultyStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>, faults: Arc<Faults>) -> Self {
        Self { inner, faults }
    }
}

/// A queue whose `retry_after` (the delivery path's call) fails by plan,
/// before or after the visibility change took effect.
pub struct FaultyQueue {
    inner: Arc<dyn DeliveryQueue>,
    faults: Arc<Faults>,
}

impl FaultyQueue {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn DeliveryQueue>, faults: Arc<Faults>) -> Self {
        Self { inner, faults }
    }
}

#[async_trait]
impl DeliveryQueue for FaultyQueue {
    async fn enqueue(&self, messages: &[DeliveryMessage]) -> Result<(), QueueError> {
        self.inner.enqueue(messages).await
    }

    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.faults.before("retry_after").await?;
        self.inner.retry_after(receipt, delay).await?;
        self.faults.after("retry_after").await?;
        Ok(())
    }
}

#[async_trait]
impl EndpointStore for FaultyStore {
    async fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        self.inner.create_endpoint(endpoint).await
    }
    async fn endpoint(
        &self,
        tenant: &TenantId,
        id: EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        self.faults.before("endpoint").await?;
        self.inner.endpoint(tenant, id).await
    }
    async fn list_endpoints(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Endpoint>, StoreError> {
        self.inner.list_endpoints(tenant, limit, cursor).await
    }
    async fn update_endpoint(
        &self,
        previous: &Endpoint,
        updated: &Endpoint,
    ) -> Result<(), StoreError> {
        self.inner.update_endpoint(previous, updated).await
    }
    async fn delete_endpoint(&self, tenant: &TenantId, id: EndpointId) -> Result<bool, StoreError> {
        self.inner.delete_endpoint(tenant, id).await
    }
    async fn subscribed_endpoints_after(
        &self,
        tenant: &TenantId,
        event_type: &EventTypeName,
        after: Option<EndpointId>,
        limit: usize,
    ) -> Result<Vec<EndpointId>, StoreError> {
        self.inner
            .subscribed_endpoints_after(tenant, event_type, after, limit)
            .await
    }
    async fn endpoint_count(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        self.inner.endpoint_count(tenant).await
    }
    async fn record_outcome(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        attempts: &[Observed],
        rules: &HealthRules,
    ) -> Result<Option<OutcomeRecorded>, StoreError> {
        self.inner.record_outcome(tenant, id, attempts, rules).await
    }
    async fn claim_probe(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        seen: Option<OffsetDateTime>,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.faults.before("claim_probe").await?;
        self.inner.claim_probe(tenant, id, seen, now, until).await
    }
}

#[async_trait]
impl RateLimits for FaultyStore {
    async fn take_rate_slot(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        window: i64,
    ) -> Result<u64, StoreError> {
        self.faults.before("take_rate_slot").await?;
        let count = self.inner.take_rate_slot(tenant, endpoint, window).await?;
        self.faults.after("take_rate_slot").await?;
        Ok(count)
    }
}

#[async_trait]
impl EventStore for FaultyStore {
    async fn store_event(
        &self,
        event: &Event,
        expires_at: OffsetDateTime,
    ) -> Result<StoredEvent, StoreError> {
        self.inner.store_event(event, expires_at).await
    }
    async fn mark_fanned_out(
        &self,
        event: &Event,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.inner.mark_fanned_out(event, expires_at).await
    }
    async fn claim_fan_out(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<FanOutClaim, StoreError> {
        self.inner.claim_fan_out(tenant, id).await
    }
    async fn release_fan_out(
        &self,
        tenant: &TenantId,
        id: &EventId,
        resume_after: Option<EndpointId>,
    ) -> Result<(), StoreError> {
        self.inner.release_fan_out(tenant, id, resume_after).await
    }
    async fn event(&self, tenant: &TenantId, id: &EventId) -> Result<Option<Event>, StoreError> {
        self.inner.event(tenant, id).await
    }
}

#[async_trait]
impl DeliveryLog for FaultyStore {
    async fn record_attempt(
        &self,
        attempt: &DeliveryAttempt,
        rules: &HealthRules,
    ) -> Result<Recorded, StoreError> {
        self.faults.before("record_attempt").await?;
        let written = self.inner.record_attempt(attempt, rules).await?;
        // The write took effect, but its answer is lost (a timeout after
        // DynamoDB applied it): the worst case for exactly-once logging.
        self.faults.after("record_attempt").await?;
        Ok(written)
    }
    async fn find_attempt(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryAttempt>, StoreError> {
        self.faults.before("find_attempt").await?;
        self.inner.find_attempt(tenant, endpoint, id).await
    }
    async fn record_attempts(&self, attempts: &[DeliveryAttempt]) -> Result<(), StoreError> {
        self.inner.record_attempts(attempts).await
    }
    async fn delivery(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryAttempt>, StoreError> {
        self.inner.delivery(tenant, endpoint, id).await
    }
    async fn recent_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        query: &DeliveryQuery,
    ) -> Result<Page<DeliveryAttempt>, StoreError> {
        self.inner.recent_deliveries(tenant, endpoint, query).await
    }
}

#[async_trait]
impl StatsStore for FaultyStore {
    async fn add_stats(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        day: Date,
        delta: &StatsDelta,
    ) -> Result<(), StoreError> {
        self.inner.add_stats(tenant, endpoint, day, delta).await
    }
    async fn daily_stats(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        from: Date,
        to: Date,
    ) -> Result<Vec<DailyStats>, StoreError> {
        self.inner.daily_stats(tenant, endpoint, from, to).await
    }
}

#[async_trait]
impl EventTypeStore for FaultyStore {
    async fn create_event_type(&self, event_type: &EventType) -> Result<(), StoreError> {
        self.inner.create_event_type(event_type).await
    }
    async fn event_type(&self, name: &EventTypeName) -> Result<Option<EventType>, StoreError> {
        self.inner.event_type(name).await
    }
    async fn list_event_types(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<EventType>, StoreError> {
        self.inner.list_event_types(limit, cursor).await
    }
    async fn delete_event_type(&self, name: &EventTypeName) -> Result<bool, StoreError> {
        self.inner.delete_event_type(name).await
    }
}

#[async_trait]
impl CredentialStore for FaultyStore {
    async fn create_api_key(&self, key: &ApiKey, hash: &CredentialHash) -> Result<(), StoreError> {
        self.inner.create_api_key(key, hash).await
    }
    async fn api_keys(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ApiKey>, StoreError> {
        self.inner.api_keys(tenant, limit, cursor).await
    }
    async fn api_key_by_hash(&self, hash: &CredentialHash) -> Result<Option<ApiKey>, StoreError> {
        self.inner.api_key_by_hash(hash).await
    }
    async fn touch_api_key(
        &self,
        tenant: &TenantId,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.inner.touch_api_key(tenant, id, at).await
    }
    async fn revoke_api_key(&self, tenant: &TenantId, id: ApiKeyId) -> Result<bool, StoreError> {
        self.inner.revoke_api_key(tenant, id).await
    }
    async fn create_portal_session(
        &self,
        session: &PortalSession,
        hash: &CredentialHash,
    ) -> Result<(), StoreError> {
        self.inner.create_portal_session(session, hash).await
    }
    async fn portal_session(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<PortalSession>, StoreError> {
        self.inner.portal_session(hash).await
    }
}
