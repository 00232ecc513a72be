//! Every sample in `events/` is used by some test, so none goes stale: a
//! sample counts as used when a test source of the workspace names it.
//! Needs no emulator.

use std::fs;
use std::path::{Path, PathBuf};

use courier_e2e::workspace_root;

/// Where test sources live: each crate's `tests/` and `src/` (unit tests).
const CRATE_DIRS: &[&str] = &["functions", "shared", "infra"];

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

#[test]
fn every_sample_event_is_used_by_a_test() {
    let root = workspace_root();
    let mut sources = Vec::new();
    for group in CRATE_DIRS {
        for krate in fs::read_dir(root.join(group)).unwrap().flatten() {
            for part in ["tests", "src"] {
                rust_files(&krate.path().join(part), &mut sources);
            }
        }
    }
    // This file names no sample, so it cannot count one as used.
    let text: String = sources
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect();

    let mut samples: Vec<String> = fs::read_dir(root.join("events"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    samples.sort();
    assert!(!samples.is_empty(), "no samples found in events/");
    let unused: Vec<&String> = samples
        .iter()
        .filter(|name| !text.contains(name.as_str()))
        .collect();
    assert!(
        unused.is_empty(),
        "samples in events/ that no test uses: {unused:?} — drive them in a test \
         (infra/e2e/tests/lambdas/ runs them on the real binaries) or delete them"
    );
}
