//! Diagnostics to text, one module a format. Every command's `--format` chooses one of these.

pub mod concise;
pub mod github;
pub mod gitlab;
pub mod human;
pub mod json;
pub mod rdjson;
pub mod sarif;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::Workspace;

/// The output formats of diagnostics, as `--format` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Source excerpts with labels, for a person at a terminal.
    Human,
    /// One JSON document: `{"diagnostics": [...], "summary": {...}}`.
    Json,
    /// One line a diagnostic: `file:line:col: severity[code]: message`.
    Concise,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitHub Actions workflow commands that annotate a pull request.
    Github,
    /// GitLab's Code Quality report.
    Gitlab,
    /// reviewdog's diagnostic format.
    Rdjson,
}

impl Format {
    pub const NAMES: &'static [&'static str] = &["human", "json", "concise", "sarif", "github", "gitlab", "rdjson"];

    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "human" => Some(Format::Human),
            "json" => Some(Format::Json),
            "concise" => Some(Format::Concise),
            "sarif" => Some(Format::Sarif),
            "github" => Some(Format::Github),
            "gitlab" => Some(Format::Gitlab),
            "rdjson" => Some(Format::Rdjson),
            _ => None,
        }
    }
}

/// Renders diagnostics in a format; `color` applies to the human format only.
pub fn render(format: Format, diagnostics: &[Diagnostic], workspace: &Workspace, color: bool) -> String {
    match format {
        Format::Human => human::render_all(diagnostics, workspace, color),
        Format::Json => json::render(diagnostics, workspace),
        Format::Concise => concise::render(diagnostics, workspace),
        Format::Sarif => sarif::render(diagnostics, workspace),
        Format::Github => github::render(diagnostics, workspace),
        Format::Gitlab => gitlab::render(diagnostics, workspace),
        Format::Rdjson => rdjson::render(diagnostics, workspace),
    }
}

/// A code with its short name, as report formats title a finding: `L0008 missing-timeout` for a
/// lint rule, `E0201 unknown field` for a checker code, the code alone for one neither knows.
pub(crate) fn code_and_name(code: &str) -> String {
    match crate::lint::registry::lookup(code) {
        Some(rule) => format!("{code} {}", rule.name),
        None => match crate::codes::title(code) {
            Some(title) => format!("{code} {title}"),
            None => code.to_string(),
        },
    }
}

/// How many diagnostics of each severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Summary {
    pub fn of(diagnostics: &[Diagnostic]) -> Self {
        let count = |s| diagnostics.iter().filter(|d| d.severity == s).count();
        Summary { errors: count(Severity::Error), warnings: count(Severity::Warning), infos: count(Severity::Info) }
    }

    /// `2 errors, 1 warning`, or `no problems`.
    pub(crate) fn sentence(&self) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let mut parts = Vec::new();
        if self.errors > 0 {
            parts.push(plural(self.errors, "error"));
        }
        if self.warnings > 0 {
            parts.push(plural(self.warnings, "warning"));
        }
        if self.infos > 0 {
            parts.push(plural(self.infos, "note"));
        }
        if parts.is_empty() {
            "no problems".to_string()
        } else {
            parts.join(", ")
        }
    }
}
