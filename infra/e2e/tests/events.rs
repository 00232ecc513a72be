//! Every sample in `events/` is used by some test, so none goes stale: a
//! sample counts as used when a string literal in a test source of the
//! workspace names it (a comment or a doc naming it does not count).
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

/// Whether the `r` at `i` opens a raw string (`r"`, `r#"`, `br"`) rather
/// than ending an identifier.
fn starts_a_literal(chars: &[char], i: usize) -> bool {
    let before = |n: usize| i.checked_sub(n).map(|j| chars[j]);
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    !ident(before(1)) || (before(1) == Some('b') && !ident(before(2)))
}

/// The contents of the string literals of Rust source `text` (plain, byte
/// and raw strings, escapes left as written), skipping comments, so a name
/// in a comment or a doc is not a use.
fn string_literals(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match (at(i), at(i + 1)) {
            ('/', '/') => {
                while i < chars.len() && at(i) != '\n' {
                    i += 1;
                }
            }
            ('/', '*') => {
                // Block comments nest in Rust.
                let mut depth = 0;
                loop {
                    match (at(i), at(i + 1)) {
                        ('/', '*') => (depth, i) = (depth + 1, i + 2),
                        ('*', '/') => (depth, i) = (depth - 1, i + 2),
                        _ if i >= chars.len() => break,
                        _ => i += 1,
                    }
                    if depth == 0 {
                        break;
                    }
                }
            }
            ('r', '"' | '#') if starts_a_literal(&chars, i) => {
                let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
                let open = i + 1 + hashes;
                if at(open) != '"' {
                    i += 1;
                    continue;
                }
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let rest: String = chars[open + 1..].iter().collect();
                let len = rest.find(&close).unwrap_or(rest.len());
                found.push(rest[..len].to_owned());
                i = open + 1 + rest[..len].chars().count() + close.chars().count();
            }
            ('"', _) => {
                let mut literal = String::new();
                i += 1;
                while i < chars.len() && at(i) != '"' {
                    if at(i) == '\\' {
                        literal.push(at(i));
                        i += 1;
                    }
                    literal.push(at(i));
                    i += 1;
                }
                found.push(literal);
                i += 1;
            }
            // A char literal ('"', '\''); a lifetime has no closing quote.
            ('\'', '\\') => {
                // Past the quote, the backslash and the escaped character.
                i += 3;
                while i < chars.len() && at(i) != '\'' {
                    i += 1;
                }
                i += 1;
            }
            ('\'', _) if at(i + 2) == '\'' => i += 3,
            _ => i += 1,
        }
    }
    found
}

#[test]
fn only_string_literals_name_a_sample() {
    let source = r##"
        //! Uses doc.json.
        /// And doc2.json.
        // A comment: line.json, "quoted.json".
        /* block.json /* nested.json */ still-block.json */
        fn f<'a>(x: &'a str) -> [&'a str; 4] {
            let q = '"';
            let e = '\'';
            [x, "plain.json", r#"raw "quoted" .json"#, "esc\"aped.json"]
        }
        const B: &[u8] = b"bytes.json";
        const R: &[u8] = br"raw\bytes.json";
    "##;
    assert_eq!(
        string_literals(source),
        [
            "plain.json",
            r#"raw "quoted" .json"#,
            r#"esc\"aped.json"#,
            "bytes.json",
            r"raw\bytes.json",
        ]
    );
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
    let literals: Vec<String> = sources
        .iter()
        .flat_map(|p| string_literals(&fs::read_to_string(p).unwrap()))
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
        .filter(|name| !literals.iter().any(|l| l.contains(name.as_str())))
        .collect();
    assert!(
        unused.is_empty(),
        "samples in events/ that no test uses: {unused:?} — drive them in a test \
         (infra/e2e/tests/lambdas/ runs them on the real binaries) or delete them"
    );
}
