//! The JSON document every command prints under `--format json`: diagnostics and a summary.

use super::Summary;
use crate::diagnostic::{Applicability, Diagnostic};
use crate::source::{FileId, Span, Workspace};
use serde_json::{json, Value};

/// The whole document: `{"diagnostics": [...], "summary": {...}}`.
pub fn document(diagnostics: &[Diagnostic], workspace: &Workspace) -> Value {
    let summary = Summary::of(diagnostics);
    json!({
        "diagnostics": diagnostics.iter().map(|d| diagnostic(d, workspace)).collect::<Vec<_>>(),
        "summary": {"errors": summary.errors, "warnings": summary.warnings, "infos": summary.infos},
    })
}

pub fn render(diagnostics: &[Diagnostic], workspace: &Workspace) -> String {
    let mut text = serde_json::to_string_pretty(&document(diagnostics, workspace)).unwrap_or_default();
    text.push('\n');
    text
}

/// One diagnostic as JSON.
pub fn diagnostic(d: &Diagnostic, workspace: &Workspace) -> Value {
    json!({
        "file": workspace.file(d.file).path,
        "code": d.code,
        "severity": d.severity.as_str(),
        "message": d.message,
        "range": range(workspace, d.file, d.span),
        "label": d.label,
        "labels": d.labels.iter().map(|l| json!({
            "file": workspace.file(l.file).path,
            "range": range(workspace, l.file, l.span),
            "message": l.message,
        })).collect::<Vec<_>>(),
        "notes": d.notes,
        "help": d.help,
        "fix": d.fix.as_ref().map(|f| json!({
            "message": f.message,
            "applicability": match f.applicability { Applicability::Safe => "safe", Applicability::Unsafe => "unsafe" },
            "edits": f.edits.iter().map(|e| json!({
                "file": workspace.file(e.file).path,
                "range": range(workspace, e.file, e.span),
                "replacement": e.replacement,
            })).collect::<Vec<_>>(),
        })),
    })
}

/// 1-based lines and character columns of a span.
pub fn range(workspace: &Workspace, file: FileId, span: Span) -> Value {
    let f = workspace.file(file);
    let (start, end) = (f.line_col(span.start), f.line_col(span.end));
    json!({
        "start": {"line": start.line, "column": start.column},
        "end": {"line": end.line, "column": end.column},
    })
}
