//! The compiler's diagnostics as LSP diagnostics: code with a link to its documentation, the
//! secondary labels as related information, notes and help appended to the message.

use crate::state::Snapshot;
use pw_compiler::{Diagnostic, Severity};
use tower_lsp_server::ls_types::{
    self as lsp, CodeDescription, DiagnosticRelatedInformation, DiagnosticSeverity, NumberOrString, Uri,
};

/// The page below `docs_url` (the `[lsp]` setting) that explains `code`: the rule's page for a
/// lint, the reference's entry otherwise.
pub(crate) fn doc_link(docs_url: &str, code: &str) -> Option<Uri> {
    let url = if code.starts_with('L') {
        format!("{docs_url}/rules/{code}")
    } else {
        format!("{docs_url}/reference/errors#{}", code.to_ascii_lowercase())
    };
    url.parse().ok()
}

pub(crate) fn to_lsp(snap: &Snapshot, d: &Diagnostic) -> lsp::Diagnostic {
    let mut message = d.message.clone();
    for note in &d.notes {
        message.push_str("\nnote: ");
        message.push_str(note);
    }
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let mut related = Vec::new();
    if let Some(label) = &d.label {
        related.push(DiagnosticRelatedInformation { location: snap.location(d.file, d.span), message: label.clone() });
    }
    for label in &d.labels {
        related.push(DiagnosticRelatedInformation {
            location: snap.location(label.file, label.span),
            message: label.message.clone(),
        });
    }
    lsp::Diagnostic {
        range: snap.range(d.file, d.span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Info => DiagnosticSeverity::INFORMATION,
        }),
        code: Some(NumberOrString::String(d.code.to_string())),
        code_description: doc_link(&snap.settings.docs_url, d.code).map(|href| CodeDescription { href }),
        source: Some("pipewright".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    }
}

/// The diagnostics of every file of the snapshot, grouped by document, with the version of each
/// open document they were computed for.
pub fn by_document(snap: &Snapshot) -> Vec<(Uri, Option<i32>, Vec<lsp::Diagnostic>)> {
    let mut out: Vec<(Uri, Option<i32>, Vec<lsp::Diagnostic>)> =
        snap.uris.iter().zip(&snap.versions).map(|(u, v)| (u.clone(), *v, Vec::new())).collect();
    for d in snap.diagnostics() {
        if let Some(entry) = out.get_mut(d.file.0 as usize) {
            entry.2.push(to_lsp(snap, d));
        }
    }
    out
}
