//! SARIF 2.1.0, as GitHub code scanning accepts it: the tool's rules with their help, and each
//! result with its `ruleId`, a repository-relative location with a full region, and a
//! fingerprint that survives edits elsewhere in the file.

use crate::diagnostic::{Diagnostic, Severity};
use crate::lint::registry::{self, Rule};
use crate::source::{FileId, Span, Workspace};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

pub(crate) const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub fn render(diagnostics: &[Diagnostic], workspace: &Workspace) -> String {
    let mut text = serde_json::to_string_pretty(&document(diagnostics, workspace)).unwrap_or_default();
    text.push('\n');
    text
}

/// The SARIF log.
pub fn document(diagnostics: &[Diagnostic], workspace: &Workspace) -> Value {
    let mut rules: Vec<Value> = registry::RULES.iter().map(|r| lint_rule(r)).collect();
    let mut index: HashMap<&str, usize> = registry::RULES.iter().enumerate().map(|(i, r)| (r.code, i)).collect();
    for d in diagnostics {
        if !index.contains_key(d.code) {
            index.insert(d.code, rules.len());
            rules.push(check_rule(d.code));
        }
    }
    let fingerprints = fingerprints(diagnostics, workspace);
    let results: Vec<Value> = diagnostics
        .iter()
        .zip(fingerprints)
        .map(|(d, fp)| result(d, workspace, index.get(d.code).copied().unwrap_or(0), fp))
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "pw",
                "fullName": "Pipewright",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn lint_rule(rule: &Rule) -> Value {
    let doc = rule.documentation();
    json!({
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": level(rule.severity)},
        "properties": {"tags": [rule.category.name()]},
    })
}

fn check_rule(code: &str) -> Value {
    let title = crate::codes::title(code).unwrap_or("checker diagnostic");
    let help = crate::codes::explain(code).unwrap_or_else(|| title.to_string());
    json!({
        "id": code,
        "shortDescription": {"text": title},
        "help": {"text": help, "markdown": help},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["check"]},
    })
}

/// A region: 1-based lines and columns in characters, end exclusive.
pub fn region(workspace: &Workspace, file: FileId, span: Span) -> Value {
    let f = workspace.file(file);
    let (start, end) = (f.line_col(span.start), f.line_col(span.end));
    json!({"startLine": start.line, "startColumn": start.column, "endLine": end.line, "endColumn": end.column})
}

fn location(workspace: &Workspace, file: FileId, span: Span) -> Value {
    json!({"physicalLocation": {
        "artifactLocation": {"uri": repo_relative(&workspace.file(file).path), "uriBaseId": "%SRCROOT%"},
        "region": region(workspace, file, span),
    }})
}

fn result(d: &Diagnostic, workspace: &Workspace, rule_index: usize, fingerprint: String) -> Value {
    let mut text = d.message.clone();
    if let Some(help) = &d.help {
        text.push_str(&format!("\nhelp: {help}"));
    }
    let mut result = json!({
        "ruleId": d.code,
        "ruleIndex": rule_index,
        "level": level(d.severity),
        "message": {"text": text},
        "locations": [location(workspace, d.file, d.span)],
        "partialFingerprints": {"pwFinding/v1": fingerprint},
    });
    if !d.labels.is_empty() {
        result["relatedLocations"] = d
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut loc = location(workspace, l.file, l.span);
                loc["id"] = json!(i + 1);
                loc["message"] = json!({"text": l.message});
                loc
            })
            .collect();
    }
    if let Some(fix) = &d.fix {
        let mut by_file: Vec<(FileId, Vec<Value>)> = Vec::new();
        for e in &fix.edits {
            let replacement =
                json!({"deletedRegion": region(workspace, e.file, e.span), "insertedContent": {"text": e.replacement}});
            match by_file.iter_mut().find(|(f, _)| *f == e.file) {
                Some((_, list)) => list.push(replacement),
                None => by_file.push((e.file, vec![replacement])),
            }
        }
        result["fixes"] = json!([{
            "description": {"text": fix.message},
            "artifactChanges": by_file.into_iter().map(|(f, replacements)| json!({
                "artifactLocation": {"uri": repo_relative(&workspace.file(f).path), "uriBaseId": "%SRCROOT%"},
                "replacements": replacements,
            })).collect::<Vec<_>>(),
        }]);
    }
    result
}

/// Stable identities of findings: the code, the file, the message and the flagged text (not
/// the line number, so that edits above a finding do not make it new), numbered when equal.
pub fn fingerprints(diagnostics: &[Diagnostic], workspace: &Workspace) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    diagnostics
        .iter()
        .map(|d| {
            let file = workspace.file(d.file);
            let flagged = file.text.get(d.span.range()).unwrap_or("");
            let mut hash = Sha256::new();
            for part in [d.code, &repo_relative(&file.path), &d.message, flagged] {
                hash.update(part.as_bytes());
                hash.update([0]);
            }
            let base: String = hash.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect();
            let n = seen.entry(base.clone()).or_default();
            *n += 1;
            format!("{base}:{n}")
        })
        .collect()
}

/// A file's path relative to the root of its git repository, `/`-separated; the path as given
/// when it is in no repository or does not exist.
pub(crate) fn repo_relative(path: &str) -> String {
    let given = path.replace('\\', "/");
    let Ok(abs) = Path::new(path).canonicalize() else { return given };
    let Some(root) = abs.ancestors().skip(1).find(|d| d.join(".git").exists()) else { return given };
    abs.strip_prefix(root).map_or(given, |rel| rel.to_string_lossy().replace('\\', "/"))
}
