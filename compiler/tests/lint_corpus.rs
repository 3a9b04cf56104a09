//! `pw lint` on a corpus of real GoCD config repositories (`tests/corpus/gocd/`, one folder a
//! repository, its files linted as one workspace as GoCD merges them). Every diagnostic is
//! snapshotted, one a line, and every one but `no-timeout` must have a row in the judged table
//! `tests/corpus/gocd/JUDGED.md`; a row whose finding no longer appears fails too.

use pw_compiler::diagnostic::Diagnostic;
use pw_compiler::lint::{self, Configs, History, LintConfig};
use pw_compiler::{driver, Workspace};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The rule whose findings are judged by a sample only.
const SAMPLED: &str = "L0008";

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/gocd")
}

/// The repositories of the corpus, one folder each, in order.
fn repositories() -> Vec<PathBuf> {
    let entries = std::fs::read_dir(corpus()).unwrap_or_else(|e| panic!("{}: {e}", corpus().display()));
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

/// A repository's files, named relative to the corpus (`owner--repo/ci.gocd.yaml`).
fn workspace(dir: &Path) -> Workspace {
    let mut workspace = driver::load(&[dir.to_path_buf()]).unwrap_or_else(|e| panic!("{e}"));
    for file in &mut workspace.files {
        let path = Path::new(&file.path);
        let relative = path.strip_prefix(corpus()).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf());
        file.path = driver::display_path(&relative);
    }
    workspace
}

/// One diagnostic as the snapshot and the judged table know it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    file: String,
    line: usize,
    column: usize,
    code: String,
    message: String,
}

impl Finding {
    fn new(workspace: &Workspace, d: &Diagnostic) -> Finding {
        let source = workspace.file(d.file);
        let at = source.line_col(d.span.start);
        let code = d.code.to_string();
        Finding { file: source.path.clone(), line: at.line, column: at.column, code, message: d.message.clone() }
    }

    /// What a judged row names: the file, the line and the code.
    fn key(&self) -> (String, usize, String) {
        (self.file.clone(), self.line, self.code.clone())
    }

    fn render(&self) -> String {
        let message = self.message.replace('\n', " ");
        format!("{}:{}:{} {} {message}", self.file, self.line, self.column, self.code)
    }
}

/// What `pw lint FOLDER` reports on a repository: the checker's diagnostics, and the linter's
/// when the checker found no error, with the default configuration (GoCD's cost figures).
fn findings(dir: &Path) -> Vec<Finding> {
    let workspace = workspace(dir);
    let configs = Configs::single(LintConfig::default());
    let (_, diagnostics) = lint::check_and_lint(&workspace, &configs, &History::default());
    let mut out: Vec<Finding> = diagnostics.iter().map(|d| Finding::new(&workspace, d)).collect();
    out.sort();
    out
}

fn all_findings() -> Vec<Finding> {
    repositories().iter().flat_map(|dir| findings(dir)).collect()
}

/// A row of the judged table: `| file:line | code | right or wrong | reason |`.
#[derive(Debug)]
struct Row {
    file: String,
    line: usize,
    code: String,
    verdict: String,
}

fn parse_row(line: &str) -> Option<Row> {
    let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
    let [place, code, verdict, _reason] = cells.as_slice() else { return None };
    let (file, number) = place.trim_matches('`').rsplit_once(':')?;
    let line = number.parse().ok()?;
    Some(Row { file: file.to_string(), line, code: code.trim_matches('`').to_string(), verdict: verdict.to_string() })
}

fn judged() -> Vec<Row> {
    let path = corpus().join("JUDGED.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().filter_map(parse_row).collect()
}

fn count<K: Ord>(keys: impl Iterator<Item = K>) -> BTreeMap<K, usize> {
    let mut counts = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

#[test]
fn findings_on_the_corpus() {
    let mut text = String::new();
    for dir in repositories() {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        text.push_str(&format!("## {name}\n"));
        for finding in findings(&dir) {
            text.push_str(&finding.render());
            text.push('\n');
        }
    }
    insta::assert_snapshot!("findings", text);
}

#[test]
fn every_finding_is_judged_and_every_row_still_found() {
    let rows = judged();
    let bad: Vec<&Row> = rows.iter().filter(|r| r.verdict != "right" && r.verdict != "wrong").collect();
    assert!(bad.is_empty(), "a verdict is `right` or `wrong`: {bad:?}");
    let found = count(all_findings().iter().map(Finding::key));
    let listed = count(rows.iter().map(|r| (r.file.clone(), r.line, r.code.clone())));
    let mut problems = Vec::new();
    for (key, n) in &found {
        let rows_for = listed.get(key).copied().unwrap_or(0);
        if key.2 != SAMPLED && rows_for < *n {
            problems.push(format!("{}:{} {}: {n} found, {rows_for} judged", key.0, key.1, key.2));
        }
    }
    for (key, n) in &listed {
        let now = found.get(key).copied().unwrap_or(0);
        if now < *n {
            problems.push(format!("{}:{} {}: {n} judged, {now} found (the row is stale)", key.0, key.1, key.2));
        }
    }
    assert!(problems.is_empty(), "JUDGED.md and the findings differ:\n{}", problems.join("\n"));
}

#[test]
fn the_corpus_is_many_real_repositories() {
    let dirs = repositories();
    let files: usize = dirs.iter().map(|d| workspace(d).files.len()).sum();
    assert!(dirs.len() >= 20, "{} repositories", dirs.len());
    assert!(files >= 45, "{files} files");
    let sources = std::fs::read_to_string(corpus().join("SOURCES.md")).unwrap_or_default();
    for dir in &dirs {
        for file in workspace(dir).files {
            assert!(sources.contains(&format!("| `{}` |", file.path)), "SOURCES.md has no row for {}", file.path);
        }
    }
}
