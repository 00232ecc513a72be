//! `cargo lambda watch --only-lambda-apis`: the Lambda runtime API and the
//! Invoke / function URL front door, with the functions started by the
//! harness (prebuilt binaries, an environment of the test's choosing, output
//! kept for assertions) instead of by `cargo run` inside the watcher.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::binaries::workspace_root;
use crate::process::Process;

/// How long `cargo lambda watch` may take to listen (it runs `cargo metadata`
/// first, which can wait on a busy cargo).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one invocation may take.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// A function's error answer (`{"errorType","errorMessage"}`), as Lambda
/// reports an `Err` returned by the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// `errorType`.
    pub error_type: String,
    /// `errorMessage`.
    pub message: String,
}

/// A running `cargo lambda watch` and the functions attached to it.
pub struct Watch {
    addr: SocketAddr,
    // Dropped first: functions stop before the runtime API they poll.
    functions: Vec<(String, Process)>,
    server: Process,
    http: reqwest::Client,
}

impl Watch {
    /// Starts the emulator on a free loopback port. Panics (never skips)
    /// when `cargo-lambda` is missing or does not come up.
    pub async fn start() -> Self {
        let exe = cargo_lambda();
        let mut last = String::new();
        // A free port can be taken between choosing and binding it: retry.
        for _ in 0..3 {
            let addr = free_port();
            let mut command = Command::new(&exe);
            command.current_dir(workspace_root()).args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "--ignore-changes",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &addr.port().to_string(),
            ]);
            let mut server = Process::spawn("cargo lambda watch", command);
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    let http = reqwest::Client::builder()
                        .timeout(INVOKE_TIMEOUT)
                        .build()
                        .expect("an HTTP client");
                    return Self {
                        addr,
                        functions: Vec::new(),
                        server,
                        http,
                    };
                }
                if server.exited().is_some() || Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            last = server.describe();
            if !last.contains("in use") {
                break;
            }
        }
        panic!("`cargo lambda watch` did not start listening:\n{last}");
    }

    /// The address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts `binary` as function `name`, with exactly `env` plus the
    /// Lambda runtime's variables (nothing inherited, so no developer
    /// profile or credential leaks in).
    pub fn add_function(&mut self, name: &str, binary: &Path, env: &[(String, String)]) {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://{}/.rt/{name}", self.addr),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .envs(env.iter().map(|(k, v)| (k, v)));
        self.functions
            .push((name.to_owned(), Process::spawn(name, command)));
    }

    /// Stops function `name` at once (SIGKILL, as Lambda ends a function that
    /// runs out of memory or time); [`Self::add_function`] starts it again.
    pub fn kill_function(&mut self, name: &str) {
        self.functions.retain(|(n, _)| n != name);
    }

    /// The peak resident memory of function `name`'s process so far, in
    /// KiB (`VmHWM` of `/proc/<pid>/status`): what Lambda's memory limit caps.
    pub fn peak_rss_kib(&self, name: &str) -> u64 {
        let pid = self.function(name).pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status of `{name}`: {e}"));
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status of `{name}`"))
    }

    /// Every line function `name` printed so far (its JSON log lines).
    pub fn output(&self, name: &str) -> Vec<String> {
        self.function(name).output()
    }

    /// The JSON log lines of function `name` that parse.
    pub fn log_lines(&self, name: &str) -> Vec<Value> {
        self.output(name)
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn function(&self, name: &str) -> &Process {
        self.functions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
            .unwrap_or_else(|| panic!("no function `{name}` was started"))
    }

    /// `http://{addr}/lambda-url/{function}{path}`: the emulator turns a
    /// request there into a function URL event (API Gateway v2 payload).
    pub fn url(&self, function: &str, path: &str) -> String {
        format!("http://{}/lambda-url/{function}{path}", self.addr)
    }

    /// Invokes `function` synchronously with `payload` (the Lambda Invoke
    /// API, as the SDK's `Invoke` does).
    pub async fn invoke(&self, function: &str, payload: &Value) -> Result<Value, FunctionError> {
        self.invoke_raw(function, &payload.to_string()).await
    }

    /// [`Self::invoke`] with the payload's JSON text as it is (a `Value`
    /// would sort its keys and round its numbers).
    pub async fn invoke_raw(&self, function: &str, payload: &str) -> Result<Value, FunctionError> {
        let url = format!(
            "http://{}/2015-03-31/functions/{function}/invocations",
            self.addr
        );
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(payload.to_owned())
            .send()
            .await
            .unwrap_or_else(|e| self.died(function, &format!("invoking it failed: {e}")));
        let ok = response.status().is_success();
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            self.died(function, &format!("its answer is not JSON ({e}): {text}"))
        });
        if ok {
            Ok(body)
        } else {
            Err(function_error(&body))
        }
    }

    /// `cargo lambda invoke {function} --data-file {file}`: the command a
    /// developer runs with the samples in `events/`.
    pub async fn invoke_file(&self, function: &str, file: &Path) -> Result<Value, String> {
        let mut command = Command::new(cargo_lambda());
        command
            .current_dir(workspace_root())
            .args(["lambda", "invoke", function, "--data-file"])
            .arg(file)
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(self.addr.port().to_string())
            .args(["--output-format", "json", "--color", "never"]);
        // Blocking, off the runtime's threads; std rather than tokio's
        // process feature so this crate adds no feature to the workspace's
        // dependencies (the nested build of the binaries then reuses the
        // outer build's artifacts instead of compiling a second set).
        let out = tokio::task::spawn_blocking(move || command.output());
        let out = tokio::time::timeout(INVOKE_TIMEOUT, out)
            .await
            .unwrap_or_else(|_| self.died(function, "`cargo lambda invoke` did not return"))
            .expect("the blocking task ran")
            .expect("run cargo lambda invoke");
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)));
        }
        serde_json::from_str(&stdout).map_err(|e| format!("not JSON ({e}): {stdout}"))
    }

    fn died(&self, function: &str, what: &str) -> ! {
        panic!(
            "function `{function}`: {what}\n{}\n{}",
            self.function(function).describe(),
            self.server.describe()
        )
    }
}

fn function_error(body: &Value) -> FunctionError {
    FunctionError {
        error_type: body["errorType"].as_str().unwrap_or_default().to_owned(),
        message: body["errorMessage"].as_str().unwrap_or_default().to_owned(),
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// `cargo-lambda` from `PATH` (infra/test.sh puts its venv there), else the
/// venv infra/test.sh installs it into.
fn cargo_lambda() -> PathBuf {
    let in_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let cache = std::env::var_os("COURIER_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/courier")));
    in_path
        .into_iter()
        .chain(cache.map(|c| c.join("venv/bin")))
        .map(|dir| dir.join("cargo-lambda"))
        .find(|exe| exe.is_file())
        .unwrap_or_else(|| {
            panic!(
                "cargo-lambda not found (in PATH or ~/.cache/courier/venv/bin): the end-to-end \
                 tests run the Lambdas under `cargo lambda watch`. Run infra/test.sh, which \
                 installs it, or `pip install cargo-lambda`"
            )
        })
}
