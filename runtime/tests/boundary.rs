//! The runtime's boundaries, as tests that fail when a dependency breaks them.
//!
//! - The runtime takes a plan: of the compiler it uses only `pw_compiler::runtime_api` (the
//!   plan's types, the naming of fanned-out jobs, the durations file). Compiling `.pw` files,
//!   rendering diagnostics and linting are the CLI's work; a test fails when the runtime's source
//!   reaches further. Unit-test files (`tests.rs`) may compile `.pw` text to build their fixtures.
//! - Its top-level modules depend on each other without a cycle, read from the `crate::` paths
//!   of their source (unit tests included), and keep their layers: `state` and `protocol` at
//!   the bottom, a scheduler that knows no store and does no I/O, an agent that knows its server
//!   only through the protocol.

use std::collections::{BTreeMap, BTreeSet};
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

/// Every `.rs` file under `dir`, unit tests included.
fn all_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            all_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules `lib.rs` declares.
fn top_level_modules(lib: &str) -> BTreeSet<String> {
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .filter_map(|rest| rest.strip_suffix(';'))
        .map(str::to_string)
        .collect()
}

/// The first segment of each path after `crate::` in `text` (comments left out), with its line:
/// `use crate::{git, store::Store};` names `git` and `store`.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = code_of(line);
        let mut rest = code.as_str();
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let names = match rest.strip_prefix('{') {
                // A group: the first segment of each of its paths, up to the group's end.
                Some(group) => {
                    let mut depth = 0;
                    let end = group
                        .find(|c| {
                            match c {
                                '{' => depth += 1,
                                '}' if depth == 0 => return true,
                                '}' => depth -= 1,
                                _ => {}
                            }
                            false
                        })
                        .unwrap_or(group.len());
                    let mut names = Vec::new();
                    let mut depth = 0;
                    let mut start = true;
                    for (j, c) in group[..end].char_indices() {
                        match c {
                            '{' => depth += 1,
                            '}' => depth -= 1,
                            ',' if depth == 0 => start = true,
                            c if start && (c.is_alphanumeric() || c == '_') => {
                                let name: String =
                                    group[j..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                                names.push(name);
                                start = false;
                            }
                            _ => {}
                        }
                    }
                    names
                }
                None => vec![rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()],
            };
            found.extend(names.into_iter().filter(|n| !n.is_empty()).map(|n| (i + 1, n)));
        }
    }
    found
}

/// A line without its comment and without the text of its string literals.
fn code_of(line: &str) -> String {
    let (mut code, mut in_string, mut escaped) = (String::new(), false, false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => {
                in_string = !in_string;
                code.push(c);
            }
            _ if in_string => {}
            '/' if chars.peek() == Some(&'/') => break,
            _ => code.push(c),
        }
    }
    code
}

/// Which top-level module `file` (under `src`) belongs to; `None` for `lib.rs`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    match first.strip_suffix(".rs") {
        Some("lib") => None,
        Some(name) => Some(name.to_string()),
        None => Some(first.to_string()),
    }
}

/// The edges between top-level modules: `(from, to)` and where each is first seen (`file:line`).
type Graph = BTreeMap<(String, String), String>;

fn module_graph() -> (BTreeSet<String>, Graph) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules = top_level_modules(&lib);
    assert!(modules.len() > 10, "the runtime's modules were found: {modules:?}");
    let mut files = Vec::new();
    all_sources(&src, &mut files);
    files.sort();
    let mut edges = Graph::new();
    for file in &files {
        let Some(from) = module_of(&src, file) else { continue };
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (line, to) in crate_paths(&text) {
            if to != from && modules.contains(&to) {
                let at = format!("{}:{line}", file.strip_prefix(&src).unwrap_or(file).display());
                edges.entry((from.clone(), to)).or_insert(at);
            }
        }
    }
    (modules, edges)
}

/// A cycle of the graph, as the modules along it (the first again at the end), if there is one.
fn find_cycle(modules: &BTreeSet<String>, edges: &Graph) -> Option<Vec<String>> {
    fn visit<'a>(
        m: &'a str,
        edges: &'a Graph,
        done: &mut BTreeSet<&'a str>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| *p == m) {
            let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if !done.insert(m) {
            return None;
        }
        path.push(m);
        for (from, to) in edges.keys() {
            if from == m {
                if let Some(cycle) = visit(to, edges, done, path) {
                    return Some(cycle);
                }
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    modules.iter().find_map(|m| visit(m, edges, &mut done, &mut Vec::new()))
}

#[test]
fn the_runtimes_modules_depend_on_each_other_without_a_cycle() {
    let (modules, edges) = module_graph();
    if let Some(cycle) = find_cycle(&modules, &edges) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|w| format!("  {} -> {} ({})", w[0], w[1], edges[&(w[0].clone(), w[1].clone())]))
            .collect();
        panic!("the runtime's modules depend on each other in a cycle:\n{}", steps.join("\n"));
    }
}

#[test]
fn the_runtimes_modules_keep_their_layers() {
    let (_, edges) = module_graph();
    let uses = |from: &str| -> Vec<(&str, &str)> {
        edges.iter().filter(|((f, _), _)| f == from).map(|((_, t), at)| (t.as_str(), at.as_str())).collect()
    };
    // Modules that use only the ones listed, and why.
    let only: &[(&str, &[&str], &str)] = &[
        ("state", &[], "the recorded state is the bottom: it uses no other module"),
        ("protocol", &["state"], "the protocol's bodies carry the state's types as they are, and nothing else"),
    ];
    // Modules that never use the ones listed, and why.
    let never: &[(&str, &[&str], &str)] = &[
        (
            "scheduler",
            &["store", "engine", "server", "dashboard", "agent", "client", "git", "statedir"],
            "the scheduler is a pure state machine: the engine saves what it changed and does its I/O",
        ),
        ("store", &["scheduler", "engine", "server", "dashboard"], "the store saves the state, whoever changed it"),
        (
            "agent",
            &["scheduler", "store", "engine", "server", "dashboard", "durations"],
            "an agent knows its server only through the protocol",
        ),
    ];
    let mut broken = Vec::new();
    for (module, allowed, why) in only {
        for (to, at) in uses(module) {
            if !allowed.contains(&to) {
                broken.push(format!("{module} uses {to} ({at}): {why}"));
            }
        }
    }
    for (module, forbidden, why) in never {
        for (to, at) in uses(module) {
            if forbidden.contains(&to) {
                broken.push(format!("{module} uses {to} ({at}): {why}"));
            }
        }
    }
    assert!(broken.is_empty(), "the runtime's layers are broken:\n{}", broken.join("\n"));
}

#[test]
fn paths_into_the_crate_and_cycles_are_found() {
    let names = |text: &str| -> Vec<String> { crate_paths(text).into_iter().map(|(_, n)| n).collect() };
    assert_eq!(names("use crate::store::{Store, Write};"), ["store"]);
    assert_eq!(
        names("use crate::{git, now_ms, store::{Store, Write}, protocol::*};"),
        ["git", "now_ms", "store", "protocol"]
    );
    assert_eq!(names("    let x = crate::durations::read(&dir); // see crate::engine"), ["durations"]);
    assert_eq!(names("//! masked by [`crate::masker`]"), Vec::<String>::new());
    assert_eq!(names("use pw_crate::x;"), Vec::<String>::new());
    assert_eq!(names(r#"let u = "http://a/crate::x"; crate::git::resolve(u)"#), ["git"]);
    let modules: BTreeSet<String> = ["a", "b", "c"].into_iter().map(String::from).collect();
    let edge = |f: &str, t: &str| ((f.to_string(), t.to_string()), format!("{f}.rs:1"));
    let mut edges: Graph = [edge("a", "b"), edge("b", "c")].into_iter().collect();
    assert_eq!(find_cycle(&modules, &edges), None);
    edges.extend([edge("c", "b")]);
    assert_eq!(find_cycle(&modules, &edges), Some(vec!["b".into(), "c".into(), "b".into()]));
}
