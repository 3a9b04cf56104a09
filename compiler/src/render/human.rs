//! The terminal rendering of diagnostics, with ariadne: source excerpts, labels, notes and help.

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{FileId, Workspace};
use ariadne::{Color, Config, IndexType, Label, Report, ReportKind};

/// Renders one diagnostic; `color` adds ANSI colours.
pub fn render(diagnostic: &Diagnostic, workspace: &Workspace, color: bool) -> String {
    let path = |id: FileId| workspace.file(id).path.clone();
    let main = path(diagnostic.file);
    let (kind, accent) = match diagnostic.severity {
        Severity::Error => (ReportKind::Error, Color::Red),
        Severity::Warning => (ReportKind::Warning, Color::Yellow),
        Severity::Info => (ReportKind::Advice, Color::Cyan),
    };
    let config = Config::default().with_color(color).with_index_type(IndexType::Byte);
    let mut report = Report::build(kind, (main.clone(), diagnostic.span.range()))
        .with_config(config)
        .with_code(diagnostic.code)
        .with_message(&diagnostic.message);
    let mut primary = Label::new((main, diagnostic.span.range())).with_color(accent);
    if let Some(text) = &diagnostic.label {
        primary = primary.with_message(text);
    }
    // ariadne starts a new section whenever a label lies above the one before it: add labels in
    // source order, the primary's file first, so each file shows as one excerpt.
    let mut labels = vec![(diagnostic.file, diagnostic.span.start, primary)];
    for label in &diagnostic.labels {
        let l = Label::new((path(label.file), label.span.range())).with_message(&label.message).with_color(Color::Blue);
        labels.push((label.file, label.span.start, l));
    }
    labels.sort_by_key(|(file, start, _)| (*file != diagnostic.file, *file, *start));
    for (_, _, label) in labels {
        report = report.with_label(label);
    }
    for note in &diagnostic.notes {
        report = report.with_note(note);
    }
    if let Some(help) = &diagnostic.help {
        report = report.with_help(help);
    }
    let sources = ariadne::sources(workspace.files.iter().map(|f| (f.path.clone(), f.text.clone())));
    let mut out = Vec::new();
    if report.finish().write(sources, &mut out).is_err() {
        return format!("{}[{}]: {}\n", diagnostic.severity.as_str(), diagnostic.code, diagnostic.message);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Renders all diagnostics, then a summary line.
pub fn render_all(diagnostics: &[Diagnostic], workspace: &Workspace, color: bool) -> String {
    let mut out: String = diagnostics.iter().map(|d| render(d, workspace, color)).collect();
    if !diagnostics.is_empty() {
        out.push_str(&format!("{}\n", super::Summary::of(diagnostics).sentence()));
    }
    out
}
