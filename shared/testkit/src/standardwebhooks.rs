//! Checks signatures with the official `standardwebhooks` package from PyPI,
//! through `infra/tools/verify_standardwebhooks.py` run by the Python that
//! `infra/test.sh` installs (`COURIER_TEST_PYTHON`). A missing interpreter
//! fails the test: it never passes without the check.

use std::io::Write;
use std::process::{Command, Stdio};

/// Variable naming the Python with `standardwebhooks` installed.
pub const PYTHON_VAR: &str = "COURIER_TEST_PYTHON";

/// Verifies each case `{"secret","headers","body"}`; panics with the
/// library's verdict when any fails.
pub fn verify_all(cases: &[serde_json::Value]) {
    let python = std::env::var(PYTHON_VAR).unwrap_or_else(|_| {
        panic!("{PYTHON_VAR} is not set: run the tests through infra/test.sh, which installs standardwebhooks")
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/tools/verify_standardwebhooks.py"
    );
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let input = serde_json::to_vec(cases).expect("cases serialise");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(&input)
        .expect("write cases");
    let out = child.wait_with_output().expect("verifier finished");
    assert!(
        out.status.success(),
        "standardwebhooks rejected a signature:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
