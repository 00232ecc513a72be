//! SDK clients for the emulators whose calls are counted by operation
//! ([`CallCounter`], one per service) and metered ([`CapacityMeter`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use courier_aws::CallCounter;
use courier_testkit::aws;

use crate::capacity::{CapacityMeter, Usage};

/// A DynamoDB and an SQS client with their counters.
pub struct Metered {
    /// The DynamoDB client.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The SQS client.
    pub sqs: aws_sdk_sqs::Client,
    dynamodb_calls: Arc<CallCounter>,
    sqs_calls: Arc<CallCounter>,
    meter: Arc<CapacityMeter>,
}

impl Metered {
    /// Clients for DynamoDB Local and moto (or, with `sqs_endpoint`, another SQS).
    pub fn new(sqs_endpoint: Option<&str>) -> Self {
        let (dynamodb_calls, sqs_calls, meter) =
            (CallCounter::new(), CallCounter::new(), CapacityMeter::new());
        let (dynamodb, sqs) = aws::clients(None);
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            dynamodb
                .config()
                .to_builder()
                .interceptor(dynamodb_calls.interceptor())
                .interceptor(meter.dynamodb())
                .build(),
        );
        let mut sqs = sqs
            .config()
            .to_builder()
            .interceptor(sqs_calls.interceptor())
            .interceptor(meter.sqs());
        if let Some(endpoint) = sqs_endpoint {
            sqs = sqs.endpoint_url(endpoint);
        }
        Self {
            dynamodb,
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            dynamodb_calls,
            sqs_calls,
            meter,
        }
    }

    /// Starts counting again from zero.
    pub fn reset(&self) {
        self.dynamodb_calls.reset();
        self.sqs_calls.reset();
        self.meter.reset();
    }

    /// DynamoDB calls so far, by operation.
    pub fn dynamodb_calls(&self) -> BTreeMap<String, u64> {
        nonzero(self.dynamodb_calls.counts())
    }

    /// SQS calls so far, by operation.
    pub fn sqs_calls(&self) -> BTreeMap<String, u64> {
        nonzero(self.sqs_calls.counts())
    }

    /// Capacity units and billed SQS requests so far, by operation.
    pub fn usage(&self) -> BTreeMap<String, Usage> {
        self.meter.usage()
    }
}

fn nonzero(mut counts: BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    counts.retain(|_, n| *n > 0);
    counts
}
