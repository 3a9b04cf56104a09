//! The runtime takes a plan: of the compiler it uses only `pw_compiler::runtime_api` (the plan's
//! types, the naming of fanned-out jobs, the durations file). Compiling `.pw` files, rendering
//! diagnostics and linting are the CLI's work; this test fails when the runtime's source reaches
//! further. Unit-test files (`tests.rs`) may compile `.pw` text to build their fixtures.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && path.file_name().is_some_and(|n| n != "tests.rs") {
            out.push(path);
        }
    }
}

/// Each use of the compiler in `text` that does not go through its runtime API: `(line, text)`.
fn reaches_past_the_api(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("pw_compiler") {
            let after = &rest[at + "pw_compiler".len()..];
            let api = after.strip_prefix("::runtime_api");
            if api.is_none_or(|rest| rest.starts_with(|c: char| c.is_alphanumeric() || c == '_')) {
                found.push((i + 1, line.trim().to_string()));
                break;
            }
            rest = after;
        }
    }
    found
}

#[test]
fn the_runtime_uses_only_the_compilers_runtime_api() {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    assert!(files.len() > 10, "the runtime's sources were found: {files:?}");
    let mut past = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (line, code) in reaches_past_the_api(&text) {
            past.push(format!("{}:{line}: {code}", file.display()));
        }
    }
    assert!(past.is_empty(), "the runtime reaches past `pw_compiler::runtime_api`:\n{}", past.join("\n"));
}

#[test]
fn uses_past_the_api_are_found() {
    assert_eq!(reaches_past_the_api("use pw_compiler::runtime_api::plan::Plan;"), []);
    assert_eq!(reaches_past_the_api("//! it uses only `pw_compiler::runtime_api`."), []);
    assert_eq!(reaches_past_the_api("use pw_compiler::runtime_apis::X;").len(), 1);
    assert_eq!(reaches_past_the_api("use pw_compiler::{analyze, driver};").len(), 1);
    assert_eq!(reaches_past_the_api("let x = pw_compiler::lint::history::FILE_NAME;").len(), 1);
    assert_eq!(reaches_past_the_api("use pw_compiler as c;").len(), 1);
}
