//! The rule reference in `docs/rules/` is generated from the registry and must be current
//! (`PW_UPDATE_DOCS=1` rewrites it); each rule's documented example draws the rule, and its
//! "Use instead" passes the checker and draws no finding of any rule.

use pw_compiler::lint::{self, docs, registry, LintConfig};
use pw_compiler::{analyze, Workspace};
use std::path::Path;

#[test]
fn rule_docs_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/rules");
    let update = std::env::var_os("PW_UPDATE_DOCS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, text) in docs::pages() {
        let path = dir.join(&name);
        if update {
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    let expected: Vec<String> = docs::pages().into_iter().map(|(n, _)| n).collect();
    let extra: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect::<Vec<String>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|n: &String| !expected.contains(n))
        .collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "docs/rules is stale ({stale:?} differ, {extra:?} are not generated): run `PW_UPDATE_DOCS=1 cargo test -p pw-compiler --test lint_docs`"
    );
}

/// The ```pw blocks of a section of a rule's documentation.
fn blocks(doc: &str, heading: &str) -> Vec<String> {
    let Some(start) = doc.find(heading) else { return Vec::new() };
    let section = &doc[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section.split("```pw\n").skip(1).filter_map(|b| b.split("```").next()).map(str::to_string).collect()
}

fn codes(text: &str) -> Vec<&'static str> {
    let mut ws = Workspace::new();
    ws.add("example.pw", text);
    let analysis = analyze(&ws);
    let errors: Vec<_> = analysis.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect();
    assert!(errors.is_empty(), "a documented example fails the checker: {errors:?}\n{text}");
    lint::lint(&ws, &analysis, &LintConfig::default()).iter().map(|d| d.code).collect()
}

#[test]
fn documented_examples_behave_as_documented() {
    for rule in registry::RULES {
        let doc = rule.documentation();
        let examples = blocks(&doc, "## Example");
        let instead = blocks(&doc, "## Use instead");
        assert!(!examples.is_empty() && !instead.is_empty(), "{}: no example", rule.code);
        for text in examples {
            assert!(codes(&text).contains(&rule.code), "{}: its example does not draw it:\n{text}", rule.code);
        }
        for text in instead {
            let found = codes(&text);
            assert!(found.is_empty(), "{}: its `Use instead` draws {found:?}:\n{text}", rule.code);
        }
    }
}

#[test]
fn explain_prints_lint_rules() {
    let text = pw_compiler::codes::explain("L0003").unwrap_or_default();
    assert!(text.starts_with("L0003 (long-stage-chain)"), "{text}");
    assert!(text.contains("## Why is this bad?"));
    assert!(pw_compiler::codes::explain("unsafe-download").is_some());
}
