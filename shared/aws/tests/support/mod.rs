//! Helpers for the tests that hold `template.yaml` against the code: the
//! parsed template, and Rust sources read as text (comments and literals
//! set apart, functions found by name) so a test can see which calls the
//! code makes.

#![allow(dead_code)] // each test binary uses a part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

pub mod iam;
pub mod stack;

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the repository, as text.
pub fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The `.rs` files under a folder of the repository, sorted, as
/// `(relative path, text)`.
pub fn rust_files(relative_dir: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let base = root();
    let mut paths = Vec::new();
    walk(&base.join(relative_dir), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&base).unwrap().display().to_string();
            let text = std::fs::read_to_string(&p).unwrap();
            (rel, text)
        })
        .collect()
}

/// `template.yaml`, with SAM's short-form intrinsics (`!Ref`, `!GetAtt`,
/// `!Sub`) as tagged values.
pub fn template() -> Value {
    serde_yaml::from_str(&read("template.yaml")).expect("template.yaml is not YAML")
}

/// A resource by logical id.
pub fn resource<'a>(t: &'a Value, logical_id: &str) -> &'a Value {
    let r = &t["Resources"][logical_id];
    assert!(!r.is_null(), "template.yaml has no resource {logical_id}");
    r
}

/// Every resource of a type, by logical id.
pub fn resources_of<'a>(t: &'a Value, kind: &str) -> BTreeMap<String, &'a Value> {
    t["Resources"]
        .as_mapping()
        .expect("template.yaml has no Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(id, r)| (id.as_str().unwrap().to_owned(), r))
        .collect()
}

/// `!Tag value` as `("Tag", value as text)`; a sequence value (`!If [...]`)
/// gives its YAML text.
pub fn intrinsic(v: &Value) -> Option<(String, String)> {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string().trim_start_matches('!').to_owned();
            let value = match &t.value {
                Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other).unwrap(),
            };
            Some((tag, value))
        }
        _ => None,
    }
}

/// The logical id `v` refers to with `!Ref X` or `!GetAtt X.Attr`.
pub fn referenced_id(v: &Value) -> Option<String> {
    let (tag, value) = intrinsic(v)?;
    match tag.as_str() {
        "Ref" => Some(value),
        "GetAtt" => value.split('.').next().map(str::to_owned),
        _ => None,
    }
}

/// A value or a list of values as a list.
pub fn one_or_many(v: &Value) -> Vec<&Value> {
    match v {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

/// The `(name, value)` environment of a function: `Globals` plus its own.
pub fn environment(t: &Value, function: &str) -> BTreeMap<String, Value> {
    let global = &t["Globals"]["Function"]["Environment"]["Variables"];
    let own = &resource(t, function)["Properties"]["Environment"]["Variables"];
    [global, own]
        .into_iter()
        .filter_map(Value::as_mapping)
        .flatten()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

/// A function property, from the function or else from `Globals`.
pub fn function_property<'a>(t: &'a Value, function: &str, name: &str) -> &'a Value {
    let own = &resource(t, function)["Properties"][name];
    if own.is_null() {
        &t["Globals"]["Function"][name]
    } else {
        own
    }
}

/// Rust source with comments removed and every string or char literal
/// replaced by `""`, so braces and words inside them do not count; the
/// string literals' contents, in order.
pub struct Code {
    /// The code without comments and literals.
    pub text: String,
    /// The string literals' contents.
    pub literals: Vec<String>,
}

impl Code {
    /// Splits `src`; `#[cfg(test)] mod ... { }` blocks are left out.
    pub fn new(src: &str) -> Self {
        let chars: Vec<char> = src.chars().collect();
        let mut text = String::with_capacity(src.len());
        let mut literals = Vec::new();
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            let prev_ident = i > 0 && ident(chars[i - 1]);
            if c == '/' && next == Some('/') {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            } else if c == '/' && next == Some('*') {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            } else if c == 'r' && !prev_ident && matches!(next, Some('"') | Some('#')) {
                // Raw string: r"..." or r#"..."#.
                let mut j = i + 1;
                let mut hashes = 0;
                while chars.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if chars.get(j) != Some(&'"') {
                    text.push(c);
                    i += 1;
                    continue;
                }
                let start = j + 1;
                let mut k = start;
                loop {
                    assert!(k < chars.len(), "unterminated raw string");
                    if chars[k] == '"' && (0..hashes).all(|h| chars.get(k + 1 + h) == Some(&'#')) {
                        break;
                    }
                    k += 1;
                }
                literals.push(chars[start..k].iter().collect());
                text.push_str("\"\"");
                i = k + 1 + hashes;
            } else if c == '"' {
                let mut literal = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    if let Some(&ch) = chars.get(i) {
                        literal.push(ch);
                    }
                    i += 1;
                }
                literals.push(literal);
                text.push_str("\"\"");
                i += 1;
            } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
                // A char literal ('x', '\n'); otherwise a lifetime.
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                text.push_str("' '");
                i += 1;
            } else {
                text.push(c);
                i += 1;
            }
        }
        let text = remove_test_modules(&text);
        Self { text, literals }
    }
}

fn remove_test_modules(text: &str) -> String {
    let mut out = text.to_owned();
    while let Some(at) = out.find("#[cfg(test)]") {
        let rest = &out[at..];
        let (open, semi) = (rest.find('{'), rest.find(';'));
        // `#[cfg(test)] mod tests;`: the tests are in a file of their own.
        let end = match (open, semi) {
            (Some(open), semi) if semi.is_none_or(|s| open < s) => matching_brace(rest, open),
            (_, Some(semi)) => semi,
            _ => panic!("#[cfg(test)] without a block"),
        };
        out.replace_range(at..at + end + 1, "");
    }
    out
}

/// The index of the `}` that closes the `{` at `open`.
pub fn matching_brace(text: &str, open: usize) -> usize {
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces")
}

/// `text` without any whitespace: `self\n    .client\n    .query()` reads
/// `self.client.query()`.
pub fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The identifiers that follow each occurrence of `prefix` in squeezed code
/// (`.client.` gives the SDK operations called).
pub fn names_after(squeezed: &str, prefix: &str) -> Vec<String> {
    squeezed
        .match_indices(prefix)
        .map(|(at, _)| {
            squeezed[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// A function of a source file.
pub struct Function {
    /// Its name.
    pub name: String,
    /// `Trait` when it implements a trait method for `implementor`.
    pub trait_name: Option<String>,
    /// The type of the `impl` block it is in, if any.
    pub implementor: Option<String>,
    /// Its body, squeezed.
    pub body: String,
}

/// The functions of `code` (with bodies), each with the `impl` it is in.
pub fn functions(code: &Code) -> Vec<Function> {
    let text = &code.text;
    // `impl [Trait for] Type {`, with the range of its block.
    let mut impls: Vec<(usize, usize, Option<String>, String)> = Vec::new();
    for (at, _) in text.match_indices("impl") {
        let before_ok = at == 0 || !text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let after = &text[at + 4..];
        if !before_ok || !after.starts_with(|c: char| c.is_whitespace() || c == '<') {
            continue;
        }
        let Some(open) = after.find('{') else {
            continue;
        };
        let header = after[..open].split(" where ").next().unwrap().trim();
        let header = header
            .strip_prefix('<')
            .map_or(header, |h| h.split_once('>').unwrap().1.trim());
        let (trait_name, ty) = match header.split_once(" for ") {
            Some((tr, ty)) => (Some(tr.trim().to_owned()), ty.trim().to_owned()),
            None => (None, header.to_owned()),
        };
        let open = at + 4 + open;
        impls.push((open, matching_brace(text, open), trait_name, ty));
    }
    let mut found = Vec::new();
    for (at, _) in text.match_indices("fn ") {
        if at > 0 && text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = text[at + 3..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        // The body starts at the first `{` after the signature (the files
        // read here declare no trait methods without a body).
        let Some(open) = text[at..].find('{') else {
            continue;
        };
        let open = at + open;
        let close = matching_brace(text, open);
        let inside = impls.iter().rfind(|(o, c, _, _)| *o < at && at < *c);
        found.push(Function {
            name,
            trait_name: inside.and_then(|(_, _, tr, _)| tr.clone()),
            implementor: inside.map(|(_, _, _, ty)| ty.clone()),
            body: squeeze(&text[open..=close]),
        });
    }
    found
}

/// The functions `body` calls by name: `self.f(`, `Self::f(` or a bare `f(`
/// (not a method of another value).
pub fn calls(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = body.chars().collect();
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !is_ident(chars[i - 1])) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            if chars.get(i) == Some(&'(') {
                let before = &body[..body
                    .char_indices()
                    .nth(start)
                    .map_or(body.len(), |(b, _)| b)];
                let bare = !before.ends_with('.') && !before.ends_with("::");
                if bare || before.ends_with("self.") || before.ends_with("Self::") {
                    out.push(chars[start..i].iter().collect());
                }
            }
        } else {
            i += 1;
        }
    }
    out
}
