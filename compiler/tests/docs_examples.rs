//! The Pipewright code shown in the documentation is valid and in `pw fmt` layout.
//!
//! The convention, for `README.md`, `grammar/REFERENCE.md` and `docs/*.md`:
//!
//! - a block fenced ```` ```pw ```` is a complete workspace of one file: it must check clean
//!   (`pw check` reports nothing) and be formatted (`pw fmt --check` passes);
//! - a block fenced ```` ```pw fragment ```` is part of a file (a job, an `env` block, or text
//!   with `...` in it): it is not checked, but when it parses it must be formatted. GitHub and
//!   other Markdown renderers take the first word of the fence as the language and ignore the
//!   rest, so both render alike;
//! - any other word after `pw` is an error here, so that a misspelt marker does not skip a block.
//!
//! Syntax summaries (`job NAME for VAR in SOURCE { ... }`) are fenced without a language.
//! The generated rule pages in `docs/rules/` are checked by `lint_docs.rs`.

use pw_compiler::{analyze, format, Workspace};
use std::path::{Path, PathBuf};

/// A fenced block: where it starts, its info string and its text.
struct Block {
    line: usize,
    info: String,
    text: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        match open.as_mut() {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some(Block { line: i + 1, info: info.trim().to_string(), text: String::new() });
                }
            }
            Some(_) if line.starts_with("```") => out.extend(open.take()),
            Some(block) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
        }
    }
    out
}

fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut docs = vec![root.join("README.md"), root.join("grammar/REFERENCE.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    more.retain(|p| p.extension().is_some_and(|e| e == "md"));
    more.sort();
    docs.extend(more);
    docs
}

/// What is wrong with one block, if anything.
fn problem(block: &Block) -> Option<String> {
    let formatted = format::format(&block.text);
    match block.info.as_str() {
        "pw" => {
            let mut ws = Workspace::new();
            ws.add("example.pw", block.text.as_str());
            let found: Vec<String> =
                analyze(&ws).diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message)).collect();
            if !found.is_empty() {
                Some(format!("does not check clean: {found:?}"))
            } else if formatted.as_deref() != Ok(block.text.as_str()) {
                Some("is not in `pw fmt` layout".to_string())
            } else {
                None
            }
        }
        "pw fragment" => match formatted {
            Ok(text) if text != block.text => Some(format!("parses but is not in `pw fmt` layout:\n{text}")),
            _ => None,
        },
        other => Some(format!("has the unknown marker `{other}`: write `pw` or `pw fragment`")),
    }
}

#[test]
fn documented_pipewright_checks_and_is_formatted() {
    let mut problems = Vec::new();
    let mut complete = 0;
    for path in documents() {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for block in blocks(&text).iter().filter(|b| b.info == "pw" || b.info.starts_with("pw ")) {
            complete += usize::from(block.info == "pw");
            if let Some(p) = problem(block) {
                problems.push(format!("{}:{}: the block {p}\n{}", path.display(), block.line, block.text));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(complete >= 4, "expected the complete examples of README.md and REFERENCE.md, found {complete}");
}

#[test]
fn the_readme_shows_a_complete_workspace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(&root).unwrap_or_default();
    let complete: Vec<Block> = blocks(&text).into_iter().filter(|b| b.info == "pw").collect();
    assert!(!complete.is_empty(), "README.md has no complete ```pw example");
    // The markers are read as written: a formatted, valid block is accepted and a broken one is not.
    let broken = Block { line: 0, info: "pw".into(), text: "job unit = cargo(cmd = \"test\")\njob x {}\n".into() };
    assert!(problem(&broken).is_some());
    let misspelt = Block { line: 0, info: "pw fragmnet".into(), text: String::new() };
    assert!(problem(&misspelt).is_some());
}
