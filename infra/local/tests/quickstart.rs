//! The README's first command and its quickstart never rot: the real
//! `courier-local` binary is started as README.md says, and the quickstart
//! it prints, and README.md's own copy, run through bash and curl exactly as
//! written (only the ports and `cargo run` are pointed at this build). Then
//! the receiver must have printed a verified failed attempt and a verified
//! retry, and the deliveries API must list both. The same server takes a
//! tenant's API key on the publish route.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use courier::signing::Secret;
use serde_json::{Value, json};

const TOKEN: &str = "quickstart-test-token";
const EXE: &str = env!("CARGO_BIN_EXE_courier-local");
const README: &str = include_str!("../../../README.md");

/// A child process with its output kept; its whole process group (a
/// receiver bash left in the background included) is killed on drop.
struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn spawn(mut command: Command) -> Self {
        use std::os::unix::process::CommandExt;
        command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start the process");
        let lines = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().unwrap(), lines.clone());
        collect(child.stderr.take().unwrap(), lines.clone());
        Self { child, lines }
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits until a line contains `needle`; returns that line.
    fn wait_for_line(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?} within {timeout:?}; output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends signal `name` to the whole process group.
    fn signal(&self, name: &str) -> bool {
        Command::new("kill")
            .args(["-s", name, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {timeout:?}; output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // The group outlives a shell that left a receiver running; a
        // failed kill must not leave this waiting forever.
        if !self.signal("KILL") {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("----- output -----\n{}\n-----", self.output());
        }
    }
}

fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            into.lock().unwrap().push(line);
        }
    });
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `cargo run -p courier-local` as README.md's first line runs it, on a
/// free port with a fixed token and a fast retry schedule.
fn start_server() -> (Proc, String) {
    let mut command = Command::new(EXE);
    command
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("ADMIN_TOKEN", TOKEN)
        .env("RETRY_SCHEDULE", "1,2")
        .env("DELIVERY_TIMEOUT_MS", "1500")
        .env("DISABLE_AFTER_FAILURES", "4")
        .env_remove("ALLOW_PRIVATE_TARGETS")
        .env_remove("RUST_LOG");
    let server = Proc::spawn(command);
    let line = server.wait_for_line("Courier is running on http://", Duration::from_secs(30));
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the address")
        .to_owned();
    (server, base)
}

/// `script` with its receiver on a free port and `cargo run` replaced by
/// this build's binary; panics if the script no longer has those parts.
fn localize(script: &str) -> String {
    let port = free_port();
    for part in [
        "cargo run -q -p courier-local -- receiver",
        "--port 4000",
        "127.0.0.1:4000",
    ] {
        assert!(script.contains(part), "the quickstart lost {part:?}");
    }
    script
        .replace("cargo run -q -p courier-local --", &format!("'{EXE}'"))
        .replace("--port 4000", &format!("--port {port}"))
        .replace("127.0.0.1:4000", &format!("127.0.0.1:{port}"))
}

/// Runs the quickstart and checks what the README promises: a verified
/// delivery that failed, its retry, and both in the deliveries API.
async fn run_quickstart(script: &str, base: &str) {
    assert!(
        Command::new("curl").arg("--version").output().is_ok(),
        "the quickstart needs curl"
    );
    let dir = std::env::temp_dir().join(format!("courier-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new("bash");
    command
        .args(["-euo", "pipefail", "-c", &localize(script)])
        .current_dir(&dir);
    let mut bash = Proc::spawn(command);
    let status = bash.wait(Duration::from_secs(60));
    assert!(
        status.success(),
        "the quickstart failed:\n{}",
        bash.output()
    );

    let output = bash.output();
    let endpoint = output
        .split('"')
        .find(|w| w.starts_with("ep_"))
        .unwrap_or_else(|| panic!("no endpoint id in:\n{output}"))
        .to_owned();
    assert!(output.contains(r#""endpoints":1"#), "{output}");
    let first = bash.wait_for_line("attempt=1", Duration::from_secs(10));
    assert!(first.ends_with("signature ok -> 500"), "{first}");
    let second = bash.wait_for_line("attempt=2", Duration::from_secs(10));
    assert!(second.ends_with("signature ok -> 200"), "{second}");

    let log: Value = reqwest::Client::new()
        .get(format!(
            "{base}/v1/tenants/store_1/endpoints/{endpoint}/deliveries"
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attempts: Vec<(&Value, &Value, &Value)> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (&d["attempt"], &d["trigger"], &d["httpStatus"]))
        .collect();
    assert_eq!(
        attempts,
        [
            (&2.into(), &"retry".into(), &200.into()),
            (&1.into(), &"event".into(), &500.into()),
        ],
        "{log}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_quickstart_the_server_prints_works_and_ctrl_c_stops_it() {
    let (mut server, base) = start_server();
    server.wait_for_line(
        "retry schedule: 1,2 s · timeout: 1500 ms · disable after 4 failures · private targets allowed: true",
        Duration::from_secs(5),
    );
    let quickstart_end = "Ctrl-C stops the server.";
    server.wait_for_line(quickstart_end, Duration::from_secs(5));
    let printed = server.output();
    let script = printed
        .split_once("Quickstart: paste into a second terminal")
        .and_then(|(_, rest)| rest.split_once(quickstart_end))
        .map(|(script, _)| script.split_once('\n').map_or("", |(_, s)| s))
        .expect("the printed quickstart");
    assert!(script.contains(&format!("export TOKEN={TOKEN}")));
    run_quickstart(script, &base).await;

    assert!(server.signal("INT"));
    let status = server.wait(Duration::from_secs(10));
    assert!(status.success(), "{status}: {}", server.output());
    assert!(server.output().contains("shutting down"));
}

#[tokio::test]
async fn the_readme_quickstart_works() {
    let first = README
        .lines()
        .find(|l| !l.starts_with('#') && !l.starts_with("```") && !l.trim().is_empty())
        .unwrap();
    assert!(
        first.starts_with("cargo run -p courier-local "),
        "README.md's first command must start the local server: {first}"
    );
    let section = README
        .split("\n## Quickstart")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a `## Quickstart` section in README.md");
    let script = section
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split_once("\n```").map(|(code, _)| code))
        .find(|code| code.contains("export TOKEN="))
        .expect("a ```sh block with `export TOKEN=` in the quickstart");

    let (_server, base) = start_server();
    let script: String = script
        .lines()
        .map(|line| {
            if line.starts_with("export TOKEN=") {
                format!("export TOKEN={TOKEN}")
            } else if line.starts_with("B=http://127.0.0.1:3000") {
                format!("B={base}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(script.contains(&format!("B={base}")), "{script}");
    run_quickstart(&script, &base).await;
}

/// The local server merges intake into the API, under the same credential
/// check as on AWS: a tenant's API key publishes to its own tenant only,
/// and a read-only portal session cannot publish.
#[tokio::test]
async fn a_tenant_api_key_publishes_through_the_local_server() {
    let (_server, base) = start_server();
    let client = reqwest::Client::new();
    let call = |token: &str, path: &str, body: Value| {
        let request = client
            .post(format!("{base}/v1/tenants/{path}"))
            .bearer_auth(token)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, key) = call(TOKEN, "store_keys/api-keys", json!({"name": "erp"})).await;
    assert_eq!(status, 201, "{key}");
    let key = key["key"].as_str().unwrap().to_owned();
    let (status, session) = call(
        TOKEN,
        "store_keys/portal-sessions",
        json!({"readOnly": true}),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    let read_only = session["token"].as_str().unwrap().to_owned();
    // Loopback is allowed locally; nothing listens on port 9.
    let endpoint = json!({"url": "http://127.0.0.1:9/hook", "eventTypes": ["*"]});
    let (status, created) = call(&key, "store_keys/endpoints", endpoint).await;
    assert_eq!(status, 201, "{created}");

    let event = json!({"type": "order.created", "data": {"order": 1}});
    let (status, published) = call(&key, "store_keys/events", event.clone()).await;
    assert_eq!(
        (status, &published["endpoints"]),
        (202, &json!(1)),
        "{published}"
    );
    for (token, path, why) in [
        (&key, "store_other/events", "tenant 'store_keys'"),
        (&read_only, "store_keys/events", "read-only"),
    ] {
        let (status, problem) = call(token, path, event.clone()).await;
        assert_eq!(status, 403, "{path}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(why),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn the_receiver_verifies_signatures_and_fails_as_told() {
    let secret = Secret::generate();
    let mut command = Command::new(EXE);
    command.args([
        "receiver",
        "--port",
        "0",
        "--secret",
        secret.expose(),
        "--fail-first",
        "1",
        "--status",
        "204",
        "--delay-ms",
        "300",
    ]);
    let receiver = Proc::spawn(command);
    let line = receiver.wait_for_line("receiver on http://", Duration::from_secs(30));
    assert!(line.contains("verifying signatures"), "{line}");
    let url = line.split_whitespace().nth(2).unwrap().to_owned();

    let client = reqwest::Client::new();
    let body = br#"{"id":"evt_1","type":"booking.created","data":{}}"#;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let post = |signature: String| {
        client
            .post(&url)
            .header("webhook-id", "evt_1")
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", signature)
            .header("webhook-attempt", "1")
            .body(body.to_vec())
            .send()
    };
    let started = Instant::now();
    let first = post(secret.sign("evt_1", now, body)).await.unwrap();
    assert_eq!(first.status(), 500, "the first N fail");
    assert!(started.elapsed() >= Duration::from_millis(300), "delayed");
    let forged = Secret::generate().sign("evt_1", now, body);
    let second = post(forged).await.unwrap();
    assert_eq!(second.status(), 204, "then --status");

    let ok = receiver.wait_for_line("#1 evt_1", Duration::from_secs(5));
    assert!(ok.ends_with("signature ok -> 500"), "{ok}");
    let bad = receiver.wait_for_line("#2 evt_1", Duration::from_secs(5));
    assert!(bad.contains("SIGNATURE INVALID"), "{bad}");
}
