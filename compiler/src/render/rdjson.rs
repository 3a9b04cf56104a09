//! reviewdog's diagnostic format (rdjson), so that reviewdog posts findings as review comments
//! on the changed lines, with fixes as suggestions. Columns count UTF-8 bytes, as it expects.

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{FileId, Span, Workspace};
use serde_json::{json, Value};

pub fn render(diagnostics: &[Diagnostic], workspace: &Workspace) -> String {
    let mut text = serde_json::to_string_pretty(&document(diagnostics, workspace)).unwrap_or_default();
    text.push('\n');
    text
}

pub fn document(diagnostics: &[Diagnostic], workspace: &Workspace) -> Value {
    json!({
        "source": {"name": "pw"},
        "diagnostics": diagnostics.iter().map(|d| diagnostic(d, workspace)).collect::<Vec<_>>(),
    })
}

fn position(workspace: &Workspace, file: FileId, offset: usize) -> Value {
    let f = workspace.file(file);
    let line = f.line_index(offset);
    let column = offset.min(f.text.len()) - f.line_start(line) + 1;
    json!({"line": line + 1, "column": column})
}

fn range(workspace: &Workspace, file: FileId, span: Span) -> Value {
    json!({"start": position(workspace, file, span.start), "end": position(workspace, file, span.end)})
}

fn diagnostic(d: &Diagnostic, workspace: &Workspace) -> Value {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let suggestions: Vec<Value> = d
        .fix
        .iter()
        .filter(|f| f.edits.iter().all(|e| e.file == d.file))
        .flat_map(|f| f.edits.iter())
        .map(|e| json!({"range": range(workspace, e.file, e.span), "text": e.replacement}))
        .collect();
    let mut out = json!({
        "message": message,
        "location": {"path": workspace.file(d.file).path, "range": range(workspace, d.file, d.span)},
        "severity": match d.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
            Severity::Info => "INFO",
        },
        "code": {"value": d.code},
    });
    if !suggestions.is_empty() {
        out["suggestions"] = Value::Array(suggestions);
    }
    out
}
