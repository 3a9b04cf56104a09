//! Code actions: each diagnostic's fix as a quick fix, and a suppression comment for each lint
//! finding.

use super::diagnostics;
use crate::state::Snapshot;
use pw_compiler::diagnostic::{Applicability, Diagnostic, Fix};
use pw_compiler::FileId;
use std::collections::HashMap;
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Position, Range, TextEdit, Uri, WorkspaceEdit,
};

pub fn code_actions(snap: &Snapshot, file: FileId, range: Range) -> Vec<CodeActionOrCommand> {
    let span = snap.encoding.span(snap.source(file), range);
    let mut out = Vec::new();
    let here =
        snap.diagnostics().iter().filter(|d| d.file == file && d.span.start <= span.end && span.start <= d.span.end);
    for d in here {
        if let Some(fix) = &d.fix {
            out.push(quick_fix(snap, d, fix));
        }
        if d.code.starts_with('L') {
            out.push(suppress(snap, d));
        }
    }
    out.into_iter().map(CodeActionOrCommand::CodeAction).collect()
}

fn quick_fix(snap: &Snapshot, d: &Diagnostic, fix: &Fix) -> CodeAction {
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for edit in &fix.edits {
        let change = TextEdit::new(snap.range(edit.file, edit.span), edit.replacement.clone());
        changes.entry(snap.uri(edit.file).clone()).or_default().push(change);
    }
    CodeAction {
        title: fix.message.clone(),
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostics::to_lsp(snap, d)]),
        edit: Some(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }),
        is_preferred: Some(fix.applicability == Applicability::Safe),
        ..CodeAction::default()
    }
}

/// `# pw: allow(rule) -- ` on the line above the finding, indented like it; the reason is left
/// for the person to write (a suppression without one suppresses nothing).
fn suppress(snap: &Snapshot, d: &Diagnostic) -> CodeAction {
    let source = snap.source(d.file);
    let line = source.line_index(d.span.start);
    let text = source.line_text(line);
    let indent = &text[..text.len() - text.trim_start().len()];
    let rule = crate::lints::rule_name(d.code);
    let insert = format!("{indent}# pw: allow({rule}) -- \n");
    let at = Position::new(line as u32, 0);
    let edit = TextEdit::new(Range::new(at, at), insert);
    CodeAction {
        title: format!("Suppress `{rule}` here (then say why after `--`)"),
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostics::to_lsp(snap, d)]),
        edit: Some(WorkspaceEdit {
            changes: Some(HashMap::from([(snap.uri(d.file).clone(), vec![edit])])),
            ..WorkspaceEdit::default()
        }),
        ..CodeAction::default()
    }
}
