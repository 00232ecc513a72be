//! [`DynamoStore`]: every storage port of `courier::ports` on two tables,
//! both keyed by string `pk` (partition) and `sk` (sort). No operation
//! scans; every read is a `GetItem` or a `Query` on one partition, with
//! consistent reads so a write is visible to the next read, as in the
//! embedded store.
//!
//! **Endpoints table** (`ENDPOINTS_TABLE`, no TTL, point-in-time recovery):
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | endpoint | `TENANT#{tenant}` | `EP#{ep_id}` | the `Endpoint` in camelCase without `secrets` and `headers`; `sealedSecrets` (binary: the secrets list and the custom headers sealed as one value by the store's [`SecretSealer`], KMS envelope encryption in production), `lastAttemptMs` (number, for the max of `lastAttemptAt`) |
//! | subscription | `SUB#{tenant}#{filter}` | `EP#{ep_id}` | none; exists iff the endpoint is enabled and has that filter as written (`*`, `booking.*`, `booking.created`) |
//! | event type | `EVENTTYPE` | `{name}` | the `EventType` in camelCase |
//!
//! An endpoint and its subscription items change together in one
//! `TransactWriteItems` (at most 32 filters, so at most 65 items). An item
//! of an earlier release with plaintext `secrets` (and no `sealedSecrets`)
//! is still read, and is written sealed, `secrets` removed, by its next
//! full write (`update_endpoint`).
//!
//! **Deliveries table** (`DELIVERIES_TABLE`, TTL on `expiresAt` in unix
//! seconds; reads ignore items whose `expiresAt` has passed, since TTL
//! deletion lags by up to two days):
//!
//! | item | pk | sk | attributes | expires |
//! |---|---|---|---|---|
//! | event | `EVENT#{tenant}#{event_id}` | `EVENT` | `id`, `tenantId`, `type`, `createdAt`, `data` (the producer's raw JSON as a string), `fannedOut`, `fanOutLeasedUntil` (unix ms: a fan-out in progress holds the event until then), `fanOutResumeAfter` (the last endpoint a stopped fan-out enqueued); `fannedOut` marks finished only items of earlier releases | retention |
//! | fan-out finished | `EVENT#{tenant}#{event_id}` | `FANNED_OUT` | `eventCreatedNs` (the `createdAt` of the event it marks, unix ns: a mark never finishes a later event of the same id) | retention |
//! | attempt | `LOG#{tenant}#{ep_id}` | `{del_id}` ([`courier::ids::DeliveryId::for_attempt`]: the attempt's claim, in time order) | the `DeliveryAttempt` in camelCase, its exact expiry in `expiresAtRfc3339` | its `expiresAt` |
//! | stats | `STATS#{tenant}#{ep_id}` | `{YYYY-MM-DD}` | `attempts`, `succeeded`, `failed`, `f_{class}` (`f_4xx`, `f_timeout`, ...), `countedSeq` | day + 40 days |
//! | rate window | `RATE#{tenant}#{ep_id}#{unix second}` | `RATE` | `count` (the takes of that second, see `courier::rate`) | a minute after its second |
//!
//! The table's stream (new images) carries each new attempt entry to the
//! delivery function, which counts it into the statistics and the
//! endpoint's counter (`countedSeq` there too): see [`accounting`].
//! Progress records (`MSG#{msg_id}`/`PROGRESS`) of earlier releases are
//! no longer read and expire by TTL.

pub mod accounting;
mod credentials;
mod endpoints;
mod event_types;
mod events;
mod log;
mod outcome;
mod rate;
mod sealed;
mod stats;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use courier::paging::encode_cursor;
use courier::ports::{Page, SecretSealer, StoreError};
use courier::sealing::LocalSealer;
use courier::secrets_memo::SecretsMemo;
use time::OffsetDateTime;

use crate::error_text;
use crate::schema::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};

/// A DynamoDB item.
type Item = HashMap<String, AttributeValue>;

/// Every storage port on DynamoDB; see the module docs for the table layout.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    endpoints_table: String,
    deliveries_table: String,
    sealer: Arc<dyn SecretSealer>,
    /// What the sealer opened, by sealed value (shared by the clones).
    secrets: Arc<SecretsMemo>,
}

impl DynamoStore {
    /// A store on the two tables (created by [`crate::schema::create_table`]
    /// or the SAM template) sealing secrets with a key of this process
    /// only, shared by its stores, for tools and tests that read what they
    /// wrote; deployments pass the KMS sealer with [`Self::with_sealer`]
    /// ([`crate::AwsBackend`]).
    pub fn new(client: Client, endpoints_table: &str, deliveries_table: &str) -> Self {
        Self {
            client,
            endpoints_table: endpoints_table.to_owned(),
            deliveries_table: deliveries_table.to_owned(),
            sealer: process_sealer(),
            secrets: Arc::new(secrets_memo()),
        }
    }

    /// The same store sealing and opening endpoint secrets with `sealer`.
    pub fn with_sealer(mut self, sealer: Arc<dyn SecretSealer>) -> Self {
        self.sealer = sealer;
        self.secrets = Arc::new(secrets_memo());
        self
    }

    /// The client, for tooling that needs the same connection settings.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Writes `items` all or nothing.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), SdkError<TransactWriteItemsError, HttpResponse>> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
    }
}

/// The memo of opened secrets: as long as the KMS sealer keeps a data key,
/// so a revoked key stops endpoint reads no later than it did without it.
fn secrets_memo() -> SecretsMemo {
    SecretsMemo::with_max_age(crate::kms::DATA_KEY_TTL)
}

/// The sealer of stores built without one: one key per process, so every
/// store of a benchmark or a test reads the endpoints another one wrote.
fn process_sealer() -> Arc<dyn SecretSealer> {
    static SEALER: OnceLock<Arc<LocalSealer>> = OnceLock::new();
    SEALER
        .get_or_init(|| Arc::new(LocalSealer::generate()))
        .clone()
}

/// Every item `query` selects, page after page.
async fn query_all(query: QueryFluentBuilder) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let out = query
            .clone()
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(unavailable)?;
        items.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(items),
        }
    }
}

/// The first `n` items `query` (without a filter) selects after `start`,
/// fewer at the end of the partition; reads no more than that.
async fn query_first(
    query: QueryFluentBuilder,
    mut start: Option<Item>,
    n: usize,
) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    while items.len() < n {
        let out = query
            .clone()
            .limit((n - items.len()) as i32)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(unavailable)?;
        items.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    Ok(items)
}

/// A page of `limit` from up to `limit + 1` items in list order: the extra
/// item only tells that another page follows, whose cursor is the sort key
/// of the page's last item.
fn into_page<T>(mut items: Vec<T>, limit: usize, sort_key: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|item| encode_cursor(&sort_key(item)))
    } else {
        None
    };
    Page { items, next_cursor }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_owned(), s(pk)),
        (SORT_KEY.to_owned(), s(sk)),
    ])
}

/// A pause before retrying a transaction that lost a race, growing with
/// each `round` so writers contending for one item spread out.
async fn backoff(round: usize) {
    let millis = 10u64 << round.min(6);
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// True unless the item carries an `expiresAt` that has passed.
fn unexpired(item: &Item) -> bool {
    get_n::<i64>(item, TTL_ATTRIBUTE).is_none_or(|exp| exp > now_secs())
}

/// A failure of the service, described without item contents.
fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    StoreError::Unavailable(error_text(&e))
}

/// True when a single-item write failed on its condition.
fn condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// True when a transaction was cancelled because a condition failed or a
/// concurrent transaction touched the same items: the caller re-reads.
fn transaction_cancelled<R>(e: &SdkError<TransactWriteItemsError, R>) -> bool {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            let reasons = c.cancellation_reasons();
            reasons.is_empty()
                || reasons.iter().any(|r| {
                    matches!(
                        r.code(),
                        Some("ConditionalCheckFailed") | Some("TransactionConflict")
                    )
                })
        }
        _ => false,
    }
}

/// True when a transaction was cancelled by the condition of its first
/// item (the endpoint item; the rest are subscription items).
fn first_condition_failed<R>(e: &SdkError<TransactWriteItemsError, R>) -> bool {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
            .cancellation_reasons()
            .first()
            .is_some_and(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    }
}

/// A request the SDK's builder refused (a required field missing): a bug
/// here, reported like a service failure rather than a panic.
fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Unavailable(format!("could not build request: {e}")))
}

/// A struct as an item (camelCase attributes, as serde writes them).
fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value)
        .map_err(|e| StoreError::Unavailable(format!("could not encode item: {e}")))
}

/// An item as a struct; a malformed item is reported, not skipped.
fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Unavailable(format!("could not decode stored item: {e}")))
}
