//! Ports: the small traits the domain needs from storage and the queue. The
//! embedded adapters (local server, tests) and the AWS adapters (DynamoDB,
//! SQS) implement them with the same semantics, checked by one conformance
//! suite.

use std::time::Duration;

use async_trait::async_trait;
use time::{Date, OffsetDateTime};

use crate::attempt::{DeliveryAttempt, DeliveryQuery};
use crate::circuit::{HealthRules, Observed};
use crate::credentials::CredentialStore;
use crate::endpoint::{DisabledReason, Endpoint};
use crate::event::Event;
use crate::event_type::{EventType, EventTypeName};
use crate::ids::{DeliveryId, EndpointId, EventId, MessageId, TenantId};
use crate::message::DeliveryMessage;
use crate::stats::{DailyStats, StatsDelta};

/// Storage failures the domain distinguishes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The item changed since it was read (optimistic concurrency).
    #[error("the item was changed by someone else; read it again and retry")]
    Conflict,
    /// The item already exists.
    #[error("already exists")]
    AlreadyExists,
    /// A pagination cursor that this store did not issue.
    #[error("invalid cursor")]
    InvalidCursor,
    /// The backing service failed; the operation may be retried.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// What a store did with an event handed to [`EventStore::store_event`].
#[derive(Debug, Clone, PartialEq)]
pub enum StoredEvent {
    /// First time this id was seen: fan it out.
    New,
    /// Seen before and completely fanned out: do nothing.
    Duplicate(Event),
    /// Seen before, but its fan-out never completed: claim it with
    /// [`EventStore::claim_fan_out`] before fanning it out again.
    Unfinished(Event),
}

/// How long a fan-out may run before another request may take it over: a
/// little longer than the intake function's 29 s timeout, so a live fan-out
/// is never taken over, and a crashed one waits at most this long.
pub const FAN_OUT_LEASE: Duration = Duration::from_secs(30);

/// The answer to [`EventStore::claim_fan_out`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FanOutClaim {
    /// The caller now holds the fan-out for [`FAN_OUT_LEASE`]; it continues
    /// after `resume_after` (from the first endpoint when `None`).
    Claimed {
        /// The last endpoint an earlier, stopped fan-out enqueued.
        resume_after: Option<EndpointId>,
    },
    /// Another request is fanning the event out right now.
    Held,
    /// The fan-out is complete (or the event is gone): nothing to do.
    Finished,
}

/// The endpoint's state after [`EndpointStore::record_outcome`].
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeRecorded {
    /// The counter after the update.
    pub consecutive_failures: u32,
    /// Set when this call disabled the endpoint (it was enabled before).
    pub disabled: Option<DisabledReason>,
}

/// What [`DeliveryLog::record_attempt`] did with an entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Another copy of the message logged this attempt first; nothing changed.
    Duplicate,
    /// Logged and counted in the same step (the embedded store): what the
    /// counting did to the endpoint, `None` when nothing was counted (a
    /// skipped attempt, or the endpoint is gone).
    Counted(Option<OutcomeRecorded>),
    /// Logged; counted later from the table's stream (DynamoDB), whose
    /// handler reports what the counting did.
    Deferred,
}

impl Recorded {
    /// True when the entry is new (this call logged it).
    pub fn is_new(&self) -> bool {
        !matches!(self, Self::Duplicate)
    }
}

/// Endpoints of tenants.
#[async_trait]
pub trait EndpointStore: Send + Sync {
    /// Saves a new endpoint.
    async fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    /// One endpoint of a tenant; `None` if absent or owned by another tenant.
    async fn endpoint(
        &self,
        tenant: &TenantId,
        id: EndpointId,
    ) -> Result<Option<Endpoint>, StoreError>;
    /// A tenant's endpoints, oldest first.
    async fn list_endpoints(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Endpoint>, StoreError>;
    /// Replaces an endpoint's settings with `updated` if it still has
    /// `previous.revision`, else [`StoreError::Conflict`]. `updated` must
    /// carry `previous.revision + 1`.
    async fn update_endpoint(
        &self,
        previous: &Endpoint,
        updated: &Endpoint,
    ) -> Result<(), StoreError>;
    /// Deletes an endpoint; false when there was none.
    async fn delete_endpoint(&self, tenant: &TenantId, id: EndpointId) -> Result<bool, StoreError>;
    /// Up to `limit` enabled endpoints of `tenant` whose filters select
    /// `event_type`, each once, in id order after `after`, found through a
    /// subscription index rather than a scan; fewer than `limit` means the end.
    async fn subscribed_endpoints_after(
        &self,
        tenant: &TenantId,
        event_type: &EventTypeName,
        after: Option<EndpointId>,
        limit: usize,
    ) -> Result<Vec<EndpointId>, StoreError>;
    /// Every subscribed endpoint at once (tests and small lists); a fan-out
    /// reads them page by page with [`Self::subscribed_endpoints_after`].
    async fn subscribed_endpoints(
        &self,
        tenant: &TenantId,
        event_type: &EventTypeName,
    ) -> Result<Vec<EndpointId>, StoreError> {
        const PAGE: usize = 100;
        let mut all: Vec<EndpointId> = Vec::new();
        loop {
            let page = self
                .subscribed_endpoints_after(tenant, event_type, all.last().copied(), PAGE)
                .await?;
            let last_page = page.len() < PAGE;
            all.extend(page);
            if last_page {
                return Ok(all);
            }
        }
    }
    /// How many endpoints `tenant` has, enabled or not (for the per-tenant limit).
    async fn endpoint_count(&self, tenant: &TenantId) -> Result<usize, StoreError>;
    /// Folds attempts, in log order, into the endpoint's failure counter,
    /// circuit and `lastAttemptAt` ([`crate::circuit::Circuit::observe`]),
    /// disabling it when the rules say so; releases the probe when one of
    /// them was the probe. `None` when the endpoint no longer exists.
    async fn record_outcome(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        attempts: &[Observed],
        rules: &HealthRules,
    ) -> Result<Option<OutcomeRecorded>, StoreError>;
    /// Takes the open circuit's probe until `until`, if the circuit's next
    /// probe is still the one the caller read (`seen`) and no other delivery
    /// holds it at `now`; false otherwise.
    async fn claim_probe(
        &self,
        tenant: &TenantId,
        id: EndpointId,
        seen: Option<OffsetDateTime>,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

/// Published events, kept for idempotency and resends.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores an event once per (tenant, id) until `expires_at`; tells
    /// whether it is new, a finished duplicate, or an unfinished one. A new
    /// event's fan-out is leased to the caller for [`FAN_OUT_LEASE`].
    async fn store_event(
        &self,
        event: &Event,
        expires_at: OffsetDateTime,
    ) -> Result<StoredEvent, StoreError>;
    /// Marks the stored `event`'s fan-out complete, so a repeat is a
    /// duplicate; the mark is kept until `expires_at` and never finishes
    /// another event stored later under the same id.
    async fn mark_fanned_out(
        &self,
        event: &Event,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Takes over the fan-out of an unfinished event whose lease (set by
    /// [`Self::store_event`] or an earlier claim) has run out or was released.
    async fn claim_fan_out(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<FanOutClaim, StoreError>;
    /// Ends the caller's lease on a fan-out it stopped, recording the last
    /// endpoint it enqueued so the next claim resumes after it.
    async fn release_fan_out(
        &self,
        tenant: &TenantId,
        id: &EventId,
        resume_after: Option<EndpointId>,
    ) -> Result<(), StoreError>;
    /// An unexpired event.
    async fn event(&self, tenant: &TenantId, id: &EventId) -> Result<Option<Event>, StoreError>;
}

/// The per-attempt delivery log. It is also the record of each delivery's
/// progress: attempt `n` of a delivery is logged under the id
/// [`DeliveryId::for_attempt`] gives, so the entry is the attempt's claim
/// and the chain of entries numbers the attempts.
#[async_trait]
pub trait DeliveryLog: Send + Sync {
    /// Logs one attempt under its id, unless an entry with that id is
    /// already stored (another copy of the message logged this attempt
    /// first): then [`Recorded::Duplicate`] and nothing changes. A new entry
    /// is counted exactly once in its endpoint's daily statistics, failure
    /// counter and circuit, under `rules` — the embedded store in the same
    /// step ([`Recorded::Counted`]), DynamoDB from the table's stream,
    /// seconds later ([`Recorded::Deferred`]).
    async fn record_attempt(
        &self,
        attempt: &DeliveryAttempt,
        rules: &HealthRules,
    ) -> Result<Recorded, StoreError>;
    /// The entry under `id` (expired ones too, until removed: entries are
    /// kept until their chain can no longer continue, see the delivery
    /// function); may miss an entry written a moment ago.
    async fn find_attempt(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryAttempt>, StoreError>;
    /// Stores entries as given, replacing any with the same id, without
    /// counting them (imports, demo data and tests).
    async fn record_attempts(&self, attempts: &[DeliveryAttempt]) -> Result<(), StoreError>;
    /// One unexpired attempt.
    async fn delivery(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryAttempt>, StoreError>;
    /// An endpoint's unexpired attempts, newest first, filtered; pages are
    /// filled up to `limit` even when the filter removes entries, within a
    /// read budget: a short page with a `next_cursor` means more may follow.
    async fn recent_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        query: &DeliveryQuery,
    ) -> Result<Page<DeliveryAttempt>, StoreError>;
}

/// Daily statistics per endpoint.
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// Adds counts to an endpoint's UTC day (kept 40 days).
    async fn add_stats(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        day: Date,
        delta: &StatsDelta,
    ) -> Result<(), StoreError>;
    /// The days from `from` to `to` inclusive that have counts, oldest first.
    async fn daily_stats(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        from: Date,
        to: Date,
    ) -> Result<Vec<DailyStats>, StoreError>;
}

/// The catalogue of event types.
#[async_trait]
pub trait EventTypeStore: Send + Sync {
    /// Adds a type; [`StoreError::AlreadyExists`] if present.
    async fn create_event_type(&self, event_type: &EventType) -> Result<(), StoreError>;
    /// One type.
    async fn event_type(&self, name: &EventTypeName) -> Result<Option<EventType>, StoreError>;
    /// Types in name order.
    async fn list_event_types(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<EventType>, StoreError>;
    /// Removes a type; false when there was none.
    async fn delete_event_type(&self, name: &EventTypeName) -> Result<bool, StoreError>;
}

/// The shared counters of per-endpoint rate limits (see [`crate::rate`]).
#[async_trait]
pub trait RateLimits: Send + Sync {
    /// Counts one more delivery to the endpoint in `window` (a unix second)
    /// and returns the count, 1 for the first: one atomic increment shared
    /// by every caller. Counters are kept [`crate::rate::WINDOW_RETENTION`]
    /// after their second.
    async fn take_rate_slot(
        &self,
        tenant: &TenantId,
        endpoint: EndpointId,
        window: i64,
    ) -> Result<u64, StoreError>;
}

/// Everything the functions need from storage, as one object.
pub trait Store:
    EndpointStore
    + EventStore
    + DeliveryLog
    + StatsStore
    + EventTypeStore
    + CredentialStore
    + RateLimits
{
}

impl<T> Store for T where
    T: EndpointStore
        + EventStore
        + DeliveryLog
        + StatsStore
        + EventTypeStore
        + CredentialStore
        + RateLimits
{
}

/// Queue failures.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Some messages could not be enqueued even after retries.
    #[error("{} of the messages could not be enqueued", failed.len())]
    NotEnqueued {
        /// The deliveries that were not enqueued.
        failed: Vec<MessageId>,
    },
    /// The queue service failed.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// The delivery queue.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Enqueues every message, retrying transient failures; on error, the
    /// ones named in [`QueueError::NotEnqueued`] were not enqueued.
    async fn enqueue(&self, messages: &[DeliveryMessage]) -> Result<(), QueueError>;
    /// Makes a received message visible again after `delay` (the retry).
    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError>;
}

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The sealed bytes are malformed, were sealed for another context, or
    /// under a key this sealer does not hold.
    #[error("sealed data could not be opened (malformed, tampered with, or another key)")]
    Invalid,
    /// This process may not seal or open secrets (no key is configured).
    #[error("secrets cannot be sealed or opened here: {0}")]
    NotConfigured(&'static str),
    /// The key service failed; the operation may be retried.
    #[error("key service unavailable: {0}")]
    Unavailable(String),
}

/// Encrypts secrets before they are stored and decrypts them when read, so
/// storage (and its backups) never holds them in plaintext. `context` is
/// bound to the ciphertext: a sealed value opens only under the same one.
/// `Debug` must never print key material.
#[async_trait]
pub trait SecretSealer: Send + Sync + std::fmt::Debug {
    /// Encrypts `plaintext` for `context`.
    async fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError>;
    /// Decrypts what [`Self::seal`] returned for the same `context`.
    async fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError>;
}
