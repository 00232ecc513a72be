//! The DynamoDB stream event source mapping, played by the harness: read
//! the deliveries table's stream and invoke `delivery` with the event
//! Lambda would build, so the binary counts logged attempts itself.

use courier_testkit::stream::StreamReader;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::watch::Watch;

/// Records per invocation, as the template's `BatchSize`.
const BATCH_SIZE: usize = 1000;

/// Reads one table's stream and hands new items to a function.
pub struct StreamMapping {
    reader: Mutex<StreamReader>,
    function: String,
}

impl StreamMapping {
    /// A mapping from `table`'s stream to `function`, from the stream's start.
    pub fn new(table: &str, function: &str) -> Self {
        Self {
            reader: Mutex::new(StreamReader::new(table)),
            function: function.to_owned(),
        }
    }

    /// Hands every new item to the function (all of them: the template's
    /// filter on log entries is the function's to repeat) and returns how
    /// many records it was given. Panics when the function fails or reports
    /// a batch item failure.
    pub async fn pump(&self, watch: &Watch) -> usize {
        let images = self.reader.lock().await.read_images().await;
        for chunk in images.chunks(BATCH_SIZE) {
            let records: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, (sequence, image))| {
                    json!({
                        "eventID": format!("{i}"),
                        "eventName": "INSERT",
                        "eventVersion": "1.1",
                        "eventSource": "aws:dynamodb",
                        "awsRegion": "us-east-1",
                        "dynamodb": {
                            "NewImage": image,
                            "SequenceNumber": sequence,
                            "SizeBytes": 100,
                            "StreamViewType": "NEW_IMAGE",
                        },
                    })
                })
                .collect();
            let response = watch
                .invoke(&self.function, &json!({ "Records": records }))
                .await
                .unwrap_or_else(|e| panic!("{} failed on a stream batch: {e:?}", self.function));
            assert_eq!(
                response["batchItemFailures"],
                json!([]),
                "{} could not count a stream batch",
                self.function
            );
        }
        images.len()
    }
}
