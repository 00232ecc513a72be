//! The deliveries table's stream on DynamoDB Local, read the way Lambda's
//! event source mapping reads it, so tests count logged attempts with the
//! same code the delivery function runs (`StreamAccounting::count_entries`).

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use aws_sdk_dynamodbstreams::types::{OperationType, ShardIteratorType};
use courier::ids::TenantId;
use courier_aws::{DynamoStore, LoggedEntry, StreamAccounting};
use tokio::sync::Mutex;

use crate::aws::{DYNAMODB_ENDPOINT_VAR, clients};

/// Reads one table's stream from its start, remembering where each shard
/// was left. Clients are made per read: a test's runtime owns its connections.
#[derive(Debug, Default)]
pub struct StreamReader {
    table: String,
    stream_arn: Option<String>,
    /// Shard id → where reading it stands.
    shards: BTreeMap<String, Position>,
}

/// Where reading a shard stands.
#[derive(Debug, Default)]
struct Position {
    /// The last sequence number read.
    last: Option<String>,
    /// The shard is closed and every record of it was read.
    done: bool,
}

impl StreamReader {
    /// A reader of `table`'s stream, from its first record.
    pub fn new(table: &str) -> Self {
        Self {
            table: table.to_owned(),
            ..Self::default()
        }
    }

    /// Every new log entry written since the last read, in stream order per
    /// shard. Panics when the stream cannot be read (a test must not pass
    /// without counting).
    pub async fn read(&mut self) -> Vec<LoggedEntry> {
        self.read_images()
            .await
            .into_iter()
            .filter_map(|(sequence, image)| courier_aws::entry_from_stream_image(&sequence, image))
            .map(|entry| entry.expect("a log entry in the stream decodes"))
            .collect()
    }

    /// The `(sequence number, new image)` of every item inserted since the
    /// last read, in stream order per shard, as Lambda would hand them over.
    pub async fn read_images(&mut self) -> Vec<(String, serde_dynamo::Item)> {
        let (dynamodb, _) = clients(None);
        let endpoint = std::env::var(DYNAMODB_ENDPOINT_VAR).expect("DynamoDB Local's address");
        let client = streams_client(&endpoint);
        let arn = match &self.stream_arn {
            Some(arn) => arn.clone(),
            None => {
                let table = dynamodb
                    .describe_table()
                    .table_name(&self.table)
                    .send()
                    .await
                    .expect("describe the deliveries table");
                let arn = table
                    .table
                    .and_then(|t| t.latest_stream_arn)
                    .expect("the deliveries table has a stream");
                self.stream_arn = Some(arn.clone());
                arn
            }
        };
        let description = client
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .expect("describe the stream")
            .stream_description
            .expect("a stream description");
        for shard in description.shards.unwrap_or_default() {
            let Some(id) = shard.shard_id else { continue };
            self.shards.entry(id).or_default();
        }
        let mut entries = Vec::new();
        for (shard, position) in self.shards.iter_mut().filter(|(_, p)| !p.done) {
            // A fresh iterator each read, after the last record read (or
            // from the shard's start): DynamoDB Local's iterators handed back
            // by a read of a shard with no record yet fail once records come.
            let request = client.get_shard_iterator().stream_arn(&arn).shard_id(shard);
            let request = match &position.last {
                Some(last) => request
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(last),
                None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let mut iterator = request
                .send()
                .await
                .expect("a shard iterator")
                .shard_iterator;
            // A page may come back empty with records after it (as on
            // DynamoDB): caught up only after a few empty pages in a row.
            let mut empty_pages = 0;
            // A bounded number of pages per read: while a test keeps
            // writing, pages are rarely empty, and an unbounded read would
            // only return once it stopped. The next read carries on.
            let mut pages = 0;
            while let Some(current) = iterator.take() {
                pages += 1;
                if pages > MAX_PAGES_PER_READ {
                    break;
                }
                let out = match client.get_records().shard_iterator(current).send().await {
                    Ok(out) => out,
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|e| e.is_trimmed_data_access_exception()) =>
                    {
                        break; // nothing past this yet: next read starts over from `position`
                    }
                    Err(e) => panic!("stream records: {e:?}"),
                };
                let records = out.records.unwrap_or_default();
                iterator = out.next_shard_iterator;
                // No next iterator: the shard is closed and read to its end.
                position.done = iterator.is_none() && records.is_empty();
                if records.is_empty() {
                    empty_pages += 1;
                    if empty_pages == 3 {
                        break; // caught up (an open shard always has a next iterator)
                    }
                    continue;
                }
                empty_pages = 0;
                for record in records {
                    let Some(change) = record.dynamodb else {
                        continue;
                    };
                    let Some(sequence) = change.sequence_number else {
                        continue;
                    };
                    position.last = Some(sequence.clone());
                    if record.event_name != Some(OperationType::Insert) {
                        continue;
                    }
                    if let Some(image) = change.new_image {
                        entries.push((sequence, serde_dynamo::Item::from(image)));
                    }
                }
            }
        }
        entries
    }
}

fn streams_client(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "courier-testkit",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(config)
}

/// The stream of this process's shared deliveries table, with the entries
/// read for tenants whose tests have not asked for them yet.
struct Shared {
    reader: StreamReader,
    waiting: HashMap<TenantId, Vec<LoggedEntry>>,
}

/// Pages of one shard read by one [`StreamReader::read`].
const MAX_PAGES_PER_READ: usize = 16;

static SHARED: LazyLock<Mutex<Option<Shared>>> = LazyLock::new(|| Mutex::new(None));

/// `tenant`'s log entries written to this process's tables since the last
/// take, in stream order, as the stream hands them to the delivery
/// function. Other tenants' entries wait for their own tests (which may
/// count them under another threshold).
pub async fn take_logged(tenant: &TenantId) -> Vec<LoggedEntry> {
    let mut guard = SHARED.lock().await;
    let shared = &mut *guard;
    if shared.is_none() {
        let (_, deliveries) = crate::aws::tables().await;
        *shared = Some(Shared {
            reader: StreamReader::new(&deliveries),
            waiting: HashMap::new(),
        });
    }
    let shared = shared.as_mut().expect("just set");
    for entry in shared.reader.read().await {
        shared
            .waiting
            .entry(entry.attempt.tenant_id.clone())
            .or_default()
            .push(entry);
    }
    shared.waiting.remove(tenant).unwrap_or_default()
}

/// Counts what `tenant`'s deliveries logged in this process's tables, as
/// the delivery function does from the stream, under `rules`.
pub async fn count_logged(
    store: &DynamoStore,
    tenant: &TenantId,
    rules: &courier::circuit::HealthRules,
) {
    let mine = take_logged(tenant).await;
    if !mine.is_empty() {
        store
            .count_entries(&mine, rules)
            .await
            .expect("counting logged attempts");
    }
}
