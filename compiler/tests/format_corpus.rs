//! The formatter over every example and every test file: formatting is idempotent, never
//! changes what a file means, and refuses files with syntax errors.

use pw_compiler::format::format;
use pw_compiler::{FileId, Workspace};
use std::path::{Path, PathBuf};

fn pw_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            pw_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "pw") {
            out.push(path);
        }
    }
}

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    pw_files(&root.join("../examples"), &mut files);
    pw_files(&root.join("tests/ui"), &mut files);
    assert!(files.len() >= 10, "the corpus should hold the examples and the UI tests; found {}", files.len());
    files
}

/// The tree's debug form without byte positions: equal when two files mean the same.
fn shape(text: &str) -> String {
    let tree = format!("{:#?}", pw_compiler::parse_file(FileId(0), text).ast);
    let mut out = String::with_capacity(tree.len());
    let mut rest = tree.as_str();
    while let Some(i) = rest.find("Span {") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').map_or(rest.len(), |e| i + e + 1);
        out.push('_');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The plan without source positions, which formatting moves.
fn plan_without_positions(path: &str, text: &str) -> Option<serde_json::Value> {
    let mut workspace = Workspace::new();
    workspace.add(path, text);
    let plan = pw_compiler::analyze(&workspace).plan(&workspace)?;
    let mut value = serde_json::to_value(&plan).ok()?;
    strip(&mut value, "source");
    Some(value)
}

fn strip(value: &mut serde_json::Value, key: &str) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove(key);
            map.values_mut().for_each(|v| strip(v, key));
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| strip(v, key)),
        _ => {}
    }
}

#[test]
fn formatting_is_idempotent_and_keeps_the_meaning() {
    let mut formatted_files = 0;
    for path in corpus() {
        let text = std::fs::read_to_string(&path).expect("readable test file");
        let name = path.display().to_string();
        let has_syntax_errors = pw_compiler::parse_file(FileId(0), &text).diagnostics.iter().any(|d| d.is_error());
        let once = match format(&text) {
            Ok(once) => once,
            Err(diagnostics) => {
                assert!(has_syntax_errors, "{name}: refused without a syntax error");
                assert!(!diagnostics.is_empty());
                continue;
            }
        };
        assert!(!has_syntax_errors, "{name}: formatted although it has syntax errors");
        formatted_files += 1;
        let twice =
            format(&once).unwrap_or_else(|e| panic!("{name}: the formatted text does not parse: {e:?}\n{once}"));
        assert_eq!(once, twice, "{name}: formatting is not idempotent");
        assert_eq!(shape(&text), shape(&once), "{name}: formatting changed the syntax tree");
        let comments = |t: &str| pw_compiler::parse_file(FileId(0), t).comments.len();
        assert_eq!(comments(&text), comments(&once), "{name}: formatting lost a comment");
        if let Some(plan) = plan_without_positions(&name, &text) {
            assert_eq!(Some(plan), plan_without_positions(&name, &once), "{name}: formatting changed the plan");
        }
        for (i, line) in once.lines().enumerate() {
            assert_eq!(line, line.trim_end(), "{name}:{}: trailing whitespace", i + 1);
        }
    }
    assert!(formatted_files >= 5, "only {formatted_files} files were formatted");
}
