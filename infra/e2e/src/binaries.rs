//! The three Lambda binaries, built once per test process.
//!
//! Why build them here instead of taking them from `target/debug`:
//! `CARGO_BIN_EXE_*` only names binaries of the test's own package, and a
//! binary lying in the target directory may be stale or missing (`cargo test
//! -p courier-e2e` builds no other package's binaries). `cargo build
//! --message-format=json` brings them up to date — a no-op when `cargo test
//! --workspace` just built them — and reports where they are, whatever
//! `CARGO_TARGET_DIR` says. Cargo releases its build lock before it runs the
//! tests, so the nested build does not wait on the outer one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Paths of the built Lambda binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `functions/api`, binary `api`.
    pub api: PathBuf,
    /// `functions/intake`, binary `intake`.
    pub intake: PathBuf,
    /// `functions/delivery`, binary `delivery`.
    pub delivery: PathBuf,
}

/// (package, binary) of each function.
const FUNCTIONS: [(&str, &str); 3] = [
    ("courier-api", "api"),
    ("courier-intake", "intake"),
    ("courier-delivery", "delivery"),
];

static BINARIES: OnceLock<Binaries> = OnceLock::new();

/// The workspace root (where `Cargo.toml`, `events/` and `functions/` are).
pub fn workspace_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .expect("the workspace root exists")
    })
}

/// Builds the binaries on first use (blocking; a few seconds when they are
/// up to date) and returns their paths. Panics with cargo's output when the
/// build fails.
pub fn binaries() -> &'static Binaries {
    BINARIES.get_or_init(build)
}

fn build() -> Binaries {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut command = Command::new(&cargo);
    command
        .current_dir(workspace_root())
        .args(["build", "--message-format=json-render-diagnostics"]);
    for (package, bin) in FUNCTIONS {
        command.args(["-p", package, "--bin", bin]);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cargo.to_string_lossy()));
    assert!(
        out.status.success(),
        "building the Lambda binaries failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let executables = executables(&String::from_utf8_lossy(&out.stdout));
    let path = |bin: &str| {
        executables.get(bin).cloned().unwrap_or_else(|| {
            panic!("cargo build reported no executable for `{bin}`; its output:\n{executables:?}")
        })
    };
    Binaries {
        api: path("api"),
        intake: path("intake"),
        delivery: path("delivery"),
    }
}

/// `binary name -> path` from cargo's JSON messages.
fn executables(messages: &str) -> HashMap<String, PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| {
            let name = m["target"]["name"].as_str()?.to_owned();
            let path = m["executable"].as_str()?.into();
            Some((name, path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_are_read_from_compiler_artifacts_only() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"courier"},"executable":null}
{"reason":"compiler-artifact","target":{"name":"api"},"executable":"/t/debug/api"}
{"reason":"build-finished","success":true}
not json"#;
        let found = executables(messages);
        assert_eq!(found.len(), 1);
        assert_eq!(found["api"], PathBuf::from("/t/debug/api"));
    }
}
