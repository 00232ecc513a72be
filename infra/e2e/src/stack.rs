//! One test's deployment: its own tables on DynamoDB Local and queue on
//! moto, `cargo lambda watch`, and the three functions configured as the
//! SAM template configures them, pointed at the emulators.

use std::time::Duration;

use courier_aws::DynamoStore;
use courier_aws::schema::{self, QueueUrls};
use courier_testkit::aws::{DYNAMODB_ENDPOINT_VAR, SQS_ENDPOINT_VAR, clients, unique_name};
use reqwest::Method;
use sha2::{Digest, Sha256};

use crate::binaries::binaries;
use crate::mapping::EventSourceMapping;
use crate::stream_mapping::StreamMapping;
use crate::watch::Watch;

/// The admin token the functions accept: the one the samples in `events/`
/// send (see events/README.md), never a deployment's.
pub const ADMIN_TOKEN: &str = "local-admin-token";
/// The delivery queue's own visibility timeout. Far above the retry
/// schedule (`1,2`), so a retry arriving on schedule proves the binary set
/// the message's visibility rather than the queue's timeout running out.
pub const QUEUE_VISIBILITY: Duration = Duration::from_secs(30);

/// The emulators, the runtime emulator and the three functions.
pub struct Stack {
    /// `cargo lambda watch` with `api`, `intake` and `delivery` attached.
    pub watch: Watch,
    /// The store on this stack's tables (to seed and to inspect).
    pub store: DynamoStore,
    /// An SQS client on moto.
    pub sqs: aws_sdk_sqs::Client,
    /// This stack's delivery queue and dead-letter queue.
    pub queues: QueueUrls,
    http: reqwest::Client,
    /// The intake's environment, to start it again after a kill.
    intake_env: Vec<(String, String)>,
    /// The deliveries table's stream, to `delivery`.
    stream: StreamMapping,
}

impl Stack {
    /// Everything with the test settings: retries after 1 s and 2 s, a 2 s
    /// delivery timeout, loopback targets allowed.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// As [`Self::start`], with `intake_env` added to (or replacing in) the
    /// intake function's environment, e.g. another SQS endpoint.
    pub async fn start_with(intake_env: &[(&str, String)]) -> Self {
        Self::start_configured(&[], intake_env).await
    }

    /// As [`Self::start`], with `env` added to (or replacing in) every
    /// function's environment, e.g. `RUST_LOG`.
    pub async fn start_with_every(env: &[(&str, String)]) -> Self {
        Self::start_configured(env, &[]).await
    }

    async fn start_configured(every: &[(&str, String)], intake_env: &[(&str, String)]) -> Self {
        let binaries = tokio::task::spawn_blocking(binaries)
            .await
            .expect("building the binaries");
        let (dynamodb, sqs) = clients(None);
        let endpoints_table = unique_name("e2e-endpoints");
        let deliveries_table = unique_name("e2e-deliveries");
        for (name, spec) in [
            (&endpoints_table, &schema::ENDPOINTS_TABLE),
            (&deliveries_table, &schema::DELIVERIES_TABLE),
        ] {
            schema::create_table(&dynamodb, name, spec)
                .await
                .unwrap_or_else(|e| panic!("DynamoDB Local: {e} (is it running?)"));
        }
        let queues = courier_testkit::aws::new_queue(&sqs, QUEUE_VISIBILITY).await;

        let env = [
            (schema::ENV_ENDPOINTS_TABLE, endpoints_table.as_str()),
            (schema::ENV_DELIVERIES_TABLE, deliveries_table.as_str()),
            (schema::ENV_DELIVERY_QUEUE_URL, queues.queue_url.as_str()),
            (
                "AWS_ENDPOINT_URL_DYNAMODB",
                &emulator_endpoint(DYNAMODB_ENDPOINT_VAR),
            ),
            ("AWS_ENDPOINT_URL_SQS", &emulator_endpoint(SQS_ENDPOINT_VAR)),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            (
                "ADMIN_TOKEN_SHA256",
                &hex::encode(Sha256::digest(ADMIN_TOKEN)),
            ),
            ("ALLOW_PRIVATE_TARGETS", "true"),
            ("RETRY_SCHEDULE", "1,2"),
            ("DELIVERY_TIMEOUT_MS", "2000"),
            ("RUST_BACKTRACE", "1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let mut env = env.to_vec();
        for (name, value) in every {
            env.retain(|(k, _)| k != name);
            env.push(((*name).to_owned(), value.clone()));
        }

        let mut intake = env.clone();
        for (name, value) in intake_env {
            intake.retain(|(k, _)| k != name);
            intake.push(((*name).to_owned(), value.clone()));
        }
        // The secrets key, as the template gives the api and delivery
        // functions; the intake has none (and cannot read a secret).
        let mut sealing = env.clone();
        sealing.extend(courier_testkit::aws::secrets_env().await);
        let mut watch = Watch::start().await;
        watch.add_function("api", &binaries.api, &sealing);
        watch.add_function("intake", &binaries.intake, &intake);
        watch.add_function("delivery", &binaries.delivery, &sealing);
        Self {
            watch,
            store: DynamoStore::new(dynamodb, &endpoints_table, &deliveries_table)
                .with_sealer(courier_testkit::aws::kms_sealer().await),
            sqs,
            queues,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
            intake_env: intake,
            stream: StreamMapping::new(&deliveries_table, "delivery"),
        }
    }

    /// Has `delivery` count what was logged so far, as the stream's event
    /// source mapping would by now; returns the records handed over.
    pub async fn count_logged(&self) -> usize {
        self.stream.pump(&self.watch).await
    }

    /// Kills the intake function's process (SIGKILL) and starts a new one
    /// with the same environment, as Lambda does after a crash.
    pub fn restart_intake(&mut self) {
        self.watch.kill_function("intake");
        self.watch
            .add_function("intake", &binaries().intake, &self.intake_env);
    }

    /// A request to `function`'s URL at `path`, with the admin token.
    pub fn request(&self, method: Method, function: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.watch.url(function, path))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// The SQS event source mapping from the delivery queue to `delivery`.
    pub async fn mapping(&self) -> EventSourceMapping<'_> {
        EventSourceMapping::new(
            &self.watch,
            "delivery",
            self.sqs.clone(),
            &self.queues.queue_url,
        )
        .await
    }
}

fn emulator_endpoint(var: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| {
            panic!("{var} is not set: the end-to-end tests need DynamoDB Local and moto; run infra/test.sh")
        })
}
