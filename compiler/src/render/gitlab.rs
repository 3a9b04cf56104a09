//! GitLab's Code Quality report: a JSON array of issues with a description, a check name, a
//! fingerprint, a severity and a location, shown in merge requests.

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::Workspace;
use serde_json::{json, Value};

pub fn render(diagnostics: &[Diagnostic], workspace: &Workspace) -> String {
    let mut text = serde_json::to_string_pretty(&document(diagnostics, workspace)).unwrap_or_default();
    text.push('\n');
    text
}

pub fn document(diagnostics: &[Diagnostic], workspace: &Workspace) -> Value {
    let fingerprints = super::sarif::fingerprints(diagnostics, workspace);
    let issues: Vec<Value> = diagnostics
        .iter()
        .zip(fingerprints)
        .map(|(d, fp)| {
            let file = workspace.file(d.file);
            let (start, end) = (file.line_col(d.span.start), file.line_col(d.span.end));
            json!({
                "type": "issue",
                "description": format!("{}: {}", d.code, d.message),
                "check_name": super::code_and_name(d.code),
                "fingerprint": fp.replace(':', "-"),
                "severity": match d.severity {
                    Severity::Error => "major",
                    Severity::Warning => "minor",
                    Severity::Info => "info",
                },
                "location": {
                    "path": super::sarif::repo_relative(&file.path),
                    "lines": {"begin": start.line, "end": end.line},
                },
            })
        })
        .collect();
    Value::Array(issues)
}
