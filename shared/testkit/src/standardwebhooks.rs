//! Checks signatures with both official `standardwebhooks` packages, the
//! PyPI one (`infra/tools/verify_standardwebhooks.py`, run by the Python
//! that `infra/test.sh` installs: `COURIER_TEST_PYTHON`) and the npm one
//! (`infra/tools/verify_standardwebhooks.js`, found through
//! `COURIER_TEST_NODE_PATH`). A missing interpreter or package fails the
//! test: it never passes without both checks.

use std::io::Write;
use std::process::{Command, Stdio};

/// Variable naming the Python with `standardwebhooks` installed.
pub const PYTHON_VAR: &str = "COURIER_TEST_PYTHON";
/// Variable naming the `node_modules` folder holding the npm package.
pub const NODE_PATH_VAR: &str = "COURIER_TEST_NODE_PATH";

fn tool(name: &str) -> String {
    format!("{}/../../infra/tools/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the tests through infra/test.sh (or source ~/.cache/courier/emulators.env), which installs standardwebhooks")
    })
}

/// Verifies each case `{"secret","headers","body"}` with both libraries;
/// panics with a library's verdict when any case fails in either.
pub fn verify_all(cases: &[serde_json::Value]) {
    let input = serde_json::to_vec(cases).expect("cases serialise");
    let mut python = Command::new(required(PYTHON_VAR));
    python.arg(tool("verify_standardwebhooks.py"));
    run("PyPI", python, &input);
    let mut node = Command::new("node");
    node.arg(tool("verify_standardwebhooks.js"))
        .env("NODE_PATH", required(NODE_PATH_VAR));
    run("npm", node, &input);
}

fn run(library: &str, mut command: Command, input: &[u8]) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the {library} verifier {command:?}: {e}"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input)
        .expect("write cases");
    let out = child.wait_with_output().expect("verifier finished");
    assert!(
        out.status.success(),
        "the {library} standardwebhooks package rejected a signature:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The case of [`verify_all`] for a request a [`crate::Receiver`] recorded,
/// signed with `secret` (`whsec_...`).
pub fn case(secret: &str, request: &crate::RecordedRequest) -> serde_json::Value {
    let header = |name: &str| request.header(name).unwrap_or_default().to_owned();
    serde_json::json!({
        "secret": secret,
        "headers": {
            "webhook-id": header("webhook-id"),
            "webhook-timestamp": header("webhook-timestamp"),
            "webhook-signature": header("webhook-signature"),
        },
        "body": request.body_text(),
    })
}
