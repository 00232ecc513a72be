//! What the calls cost, beside [`courier_aws::CallCounter`]'s call counts:
//! an SDK interceptor that asks DynamoDB for `ConsumedCapacity` on every
//! read and write and adds it up by operation, and sizes SQS payloads into
//! the 64 KiB chunks SQS bills as one request each.
//!
//! DynamoDB Local computes capacity from item sizes as DynamoDB does (1 KB
//! per write unit, 4 KB per strongly consistent read unit) but does not
//! double transactional writes, so `TransactWriteItems` units are doubled
//! here. DynamoDB Local reports 0 for a query that finds nothing; DynamoDB
//! bills every request at least one unit when strongly consistent and half
//! a unit when eventually consistent, so each read counts at least that
//! (eventually consistent reads are also counted apart, [`Usage::eventual_reads`]). A conditional write that fails returns no
//! capacity; DynamoDB bills it by the item's size, counted here as one
//! write unit (items ≤ 1 KB).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextMut, BeforeSerializationInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation as ddb;
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_sdk_sqs::operation as sqs;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde::Serialize;

/// SQS bills each 64 KiB of a request's payload as one request.
const SQS_CHUNK: u64 = 64 * 1024;

/// Usage of one operation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct Usage {
    /// DynamoDB read request units.
    pub read_units: f64,
    /// DynamoDB write request units.
    pub write_units: f64,
    /// DynamoDB writes refused by their condition (billed, counted as 1 unit).
    pub failed_writes: u64,
    /// DynamoDB calls whose answer carried no capacity (counted as 1 unit).
    pub units_assumed: u64,
    /// SQS requests as billed (64 KiB chunks, at least one per call).
    pub sqs_billed_requests: u64,
    /// SQS message bytes sent or received.
    pub sqs_payload_bytes: u64,
    /// DynamoDB reads that were eventually consistent (among the read units
    /// above, at half a unit at least).
    pub eventual_reads: u64,
}

impl Usage {
    /// Adds `other` into this one.
    pub fn add(&mut self, other: &Usage) {
        self.read_units += other.read_units;
        self.write_units += other.write_units;
        self.failed_writes += other.failed_writes;
        self.units_assumed += other.units_assumed;
        self.sqs_billed_requests += other.sqs_billed_requests;
        self.sqs_payload_bytes += other.sqs_payload_bytes;
        self.eventual_reads += other.eventual_reads;
    }
}

/// Marks a call as an eventually consistent read, from its input to its output.
#[derive(Debug, Clone, Copy)]
struct EventualRead;

impl Storable for EventualRead {
    type Storer = StoreReplace<Self>;
}

/// Usage by operation name; one meter may serve both SDK clients.
#[derive(Debug, Default)]
pub struct CapacityMeter {
    usage: Mutex<BTreeMap<String, Usage>>,
}

impl CapacityMeter {
    /// A meter at zero.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The interceptor to register on a DynamoDB client config.
    pub fn dynamodb(self: &Arc<Self>) -> MeterCalls {
        MeterCalls(self.clone(), Service::DynamoDb)
    }

    /// The interceptor to register on an SQS client config.
    pub fn sqs(self: &Arc<Self>) -> MeterCalls {
        MeterCalls(self.clone(), Service::Sqs)
    }

    /// Usage so far, by operation.
    pub fn usage(&self) -> BTreeMap<String, Usage> {
        self.lock().clone()
    }

    /// Starts again from zero.
    pub fn reset(&self) {
        self.lock().clear();
    }

    fn add(&self, operation: &str, f: impl FnOnce(&mut Usage)) {
        f(self.lock().entry(operation.to_owned()).or_default());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Usage>> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The SDK interceptor of a [`CapacityMeter`], for one service's client.
#[derive(Debug, Clone)]
pub struct MeterCalls(Arc<CapacityMeter>, Service);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    DynamoDb,
    Sqs,
}

fn operation(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map_or("unknown", |m| m.name())
        .to_owned()
}

/// Sets `return_consumed_capacity` on the DynamoDB inputs that have it.
macro_rules! ask_capacity {
    ($input:expr, $($ty:ty),+ $(,)?) => {
        $(
            if let Some(i) = $input.downcast_mut::<$ty>() {
                i.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
            }
        )+
    };
}

fn one(c: Option<&ConsumedCapacity>) -> Option<f64> {
    c.and_then(|c| c.capacity_units)
}

fn all(c: Option<&Vec<ConsumedCapacity>>) -> Option<f64> {
    c.map(|v| v.iter().filter_map(|c| c.capacity_units).sum())
}

fn chunks(bytes: u64) -> u64 {
    bytes.div_ceil(SQS_CHUNK).max(1)
}

impl Intercept for MeterCalls {
    fn name(&self) -> &'static str {
        "MeterCalls"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.1 != Service::DynamoDb {
            return Ok(());
        }
        let input = context.input_mut();
        ask_capacity!(
            input,
            ddb::get_item::GetItemInput,
            ddb::query::QueryInput,
            ddb::scan::ScanInput,
            ddb::batch_get_item::BatchGetItemInput,
            ddb::transact_get_items::TransactGetItemsInput,
            ddb::put_item::PutItemInput,
            ddb::update_item::UpdateItemInput,
            ddb::delete_item::DeleteItemInput,
            ddb::batch_write_item::BatchWriteItemInput,
            ddb::transact_write_items::TransactWriteItemsInput,
        );
        Ok(())
    }

    // The input is gone once serialized, so SQS's sent bytes are read here.
    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        if self.1 == Service::DynamoDb {
            if is_eventually_consistent(input) {
                self.0.add(&operation(cfg), |u| u.eventual_reads += 1);
                cfg.interceptor_state().store_put(EventualRead);
            }
            return Ok(());
        }
        let sent: Option<u64> = if let Some(i) =
            input.downcast_ref::<sqs::send_message_batch::SendMessageBatchInput>()
        {
            Some(
                i.entries
                    .iter()
                    .flatten()
                    .map(|e| e.message_body.len() as u64)
                    .sum(),
            )
        } else if let Some(i) = input.downcast_ref::<sqs::send_message::SendMessageInput>() {
            Some(i.message_body.as_ref().map_or(0, |b| b.len() as u64))
        } else if input
            .downcast_ref::<sqs::receive_message::ReceiveMessageInput>()
            .is_some()
        {
            // Billed by what comes back: counted after the call.
            None
        } else {
            Some(0)
        };
        if let Some(bytes) = sent {
            self.0.add(&operation(cfg), |u| {
                u.sqs_billed_requests += chunks(bytes);
                u.sqs_payload_bytes += bytes;
            });
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = operation(cfg);
        let Some(result) = context.output_or_error() else {
            return Ok(());
        };
        let output = match result {
            Ok(output) => output,
            Err(_) => {
                if self.1 == Service::DynamoDb && is_write(&name) {
                    self.0.add(&name, |u| {
                        u.failed_writes += 1;
                        u.write_units += 1.0;
                    });
                }
                return Ok(());
            }
        };
        if let Some(o) = output.downcast_ref::<sqs::receive_message::ReceiveMessageOutput>() {
            let bytes: u64 = o
                .messages
                .iter()
                .flatten()
                .map(|m| m.body.as_ref().map_or(0, |b| b.len() as u64))
                .sum();
            self.0.add(&name, |u| {
                u.sqs_billed_requests += chunks(bytes);
                u.sqs_payload_bytes += bytes;
            });
            return Ok(());
        }
        let (read, write) = (read_units(output), write_units(output));
        let minimum_read = if cfg.load::<EventualRead>().is_some() {
            0.5
        } else {
            1.0
        };
        match (read, write) {
            (Some(units), _) => self.0.add(&name, |u| match units {
                // DynamoDB bills a read at least one unit, half a unit when
                // eventually consistent.
                Some(units) => u.read_units += units.max(minimum_read),
                None => {
                    u.read_units += 1.0;
                    u.units_assumed += 1;
                }
            }),
            (_, Some(units)) => self.0.add(&name, |u| match units {
                Some(units) => u.write_units += units.max(1.0),
                None => {
                    u.write_units += 1.0;
                    u.units_assumed += 1;
                }
            }),
            (None, None) => {}
        }
        Ok(())
    }
}

/// Whether `input` is a single-table read without `ConsistentRead`.
fn is_eventually_consistent(input: &Input) -> bool {
    if let Some(i) = input.downcast_ref::<ddb::get_item::GetItemInput>() {
        return i.consistent_read != Some(true);
    }
    if let Some(i) = input.downcast_ref::<ddb::query::QueryInput>() {
        return i.consistent_read != Some(true);
    }
    input
        .downcast_ref::<ddb::scan::ScanInput>()
        .is_some_and(|i| i.consistent_read != Some(true))
}

/// The units a read's answer reports; `Some(None)` when it carries none.
fn read_units(output: &Output) -> Option<Option<f64>> {
    if let Some(o) = output.downcast_ref::<ddb::get_item::GetItemOutput>() {
        return Some(one(o.consumed_capacity.as_ref()));
    }
    if let Some(o) = output.downcast_ref::<ddb::query::QueryOutput>() {
        return Some(one(o.consumed_capacity.as_ref()));
    }
    if let Some(o) = output.downcast_ref::<ddb::scan::ScanOutput>() {
        return Some(one(o.consumed_capacity.as_ref()));
    }
    if let Some(o) = output.downcast_ref::<ddb::batch_get_item::BatchGetItemOutput>() {
        return Some(all(o.consumed_capacity.as_ref()));
    }
    // Transactional reads cost twice (DynamoDB Local does not double).
    output
        .downcast_ref::<ddb::transact_get_items::TransactGetItemsOutput>()
        .map(|o| all(o.consumed_capacity.as_ref()).map(|u| 2.0 * u))
}

/// The units a write's answer reports; `Some(None)` when it carries none.
fn write_units(output: &Output) -> Option<Option<f64>> {
    if let Some(o) = output.downcast_ref::<ddb::put_item::PutItemOutput>() {
        return Some(one(o.consumed_capacity.as_ref()));
    }
    if let Some(o) = output.downcast_ref::<ddb::update_item::UpdateItemOutput>() {
        return Some(one(o.consumed_capacity.as_ref()));
    }
    if let Some(o) = output.downcast_ref::<ddb::delete_item::DeleteItemOutput>() {
        return Some(one(o.consumed_capacity.as_ref()));
    }
    if let Some(o) = output.downcast_ref::<ddb::batch_write_item::BatchWriteItemOutput>() {
        return Some(all(o.consumed_capacity.as_ref()));
    }
    // Transactional writes cost twice (DynamoDB Local does not double).
    output
        .downcast_ref::<ddb::transact_write_items::TransactWriteItemsOutput>()
        .map(|o| all(o.consumed_capacity.as_ref()).map(|u| 2.0 * u))
}

fn is_write(operation: &str) -> bool {
    matches!(
        operation,
        "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqs_bills_each_64_kib_chunk_and_at_least_one() {
        assert_eq!(chunks(0), 1);
        assert_eq!(chunks(1), 1);
        assert_eq!(chunks(64 * 1024), 1);
        assert_eq!(chunks(64 * 1024 + 1), 2);
        assert_eq!(chunks(256 * 1024), 4);
    }
}
