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
    // Cargo gives the test process its package's variables; build scripts
    // that watch them (ring's `rerun-if-env-changed=CARGO_MANIFEST_DIR`)
    // would see them changed and rebuild half the dependency tree, here and
    // again in the next ordinary build. The nested build gets none of them.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_for_the_test) {
            command.env_remove(&name);
        }
    }
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

/// Variables Cargo sets for the process it runs (the test), as opposed to
/// the user's configuration (`CARGO_HOME`, `CARGO_TARGET_DIR`, ...).
fn set_by_cargo_for_the_test(name: &str) -> bool {
    const EXACT: [&str; 9] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    EXACT.contains(&name) || name.starts_with("CARGO_PKG_") || name.starts_with("CARGO_BIN_EXE_")
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
    fn the_test_package_variables_are_not_passed_on() {
        for name in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_PRE",
            "OUT_DIR",
        ] {
            assert!(set_by_cargo_for_the_test(name), "{name}");
        }
        for name in ["CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_BUILD_JOBS", "PATH"] {
            assert!(!set_by_cargo_for_the_test(name), "{name}");
        }
    }

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
