//! The one diagnostic type of the project: every error, warning and lint finding is one of these.

use crate::codes::Code;
use crate::lint::registry::Rule;
use crate::source::{FileId, Span};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A secondary place in the source that explains the diagnostic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    pub file: FileId,
    pub span: Span,
    pub message: String,
}

/// Whether a fix may be applied without a person looking at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Applicability {
    /// Keeps the meaning of the workspace apart from the problem it fixes.
    Safe,
    /// Changes behaviour a person should review.
    Unsafe,
}

/// Replace the text of `span` in `file` with `replacement`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edit {
    pub file: FileId,
    pub span: Span,
    pub replacement: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub message: String,
    pub applicability: Applicability,
    pub edits: Vec<Edit>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable code, such as `E0301` (checker, a [`Code`]) or `L0008` (linter, a [`Rule`]'s).
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub file: FileId,
    /// The offending text.
    pub span: Span,
    /// What the primary span is, shown beside it.
    pub label: Option<String>,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
    pub fix: Option<Fix>,
}

/// A declared code of the checker or of a front end: how diagnostics write it. Every kind of code
/// is an enum whose variants are its declared codes, so no undeclared code can be reported.
pub trait DiagnosticCode: Copy {
    /// The code as diagnostics write it: `E0401`, `G0003`.
    fn as_str(self) -> &'static str;
}

impl DiagnosticCode for Code {
    fn as_str(self) -> &'static str {
        Code::as_str(self)
    }
}

impl Diagnostic {
    /// A diagnostic of a declared code.
    pub fn new(
        code: impl DiagnosticCode,
        severity: Severity,
        file: FileId,
        span: Span,
        message: impl Into<String>,
    ) -> Self {
        Self::coded(code.as_str(), severity, file, span, message)
    }

    /// A finding of a lint rule, at the rule's default severity.
    pub fn of_rule(rule: &Rule, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Self::coded(rule.code, rule.severity, file, span, message)
    }

    /// The one place a code is written into a diagnostic: a declared checker [`Code`] or a lint
    /// rule's code.
    fn coded(code: &'static str, severity: Severity, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            file,
            span,
            label: None,
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
            fix: None,
        }
    }

    pub fn error(code: impl DiagnosticCode, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, file, span, message)
    }

    pub fn warning(code: impl DiagnosticCode, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, file, span, message)
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The same diagnostic with every file it names renamed by `to` (a file of one workspace
    /// named as in another that holds it too).
    pub fn map_files(mut self, to: impl Fn(FileId) -> FileId) -> Self {
        self.file = to(self.file);
        for label in &mut self.labels {
            label.file = to(label.file);
        }
        for edit in self.fix.iter_mut().flat_map(|f| f.edits.iter_mut()) {
            edit.file = to(edit.file);
        }
        self
    }

    pub fn with_secondary(mut self, file: FileId, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label { file, span, message: message.into() });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }

    /// `did you mean `x`?` for the misspelt text under the primary span, with the replacement as
    /// a fix to review (a close name is a guess, so it is not applied automatically).
    pub fn with_suggestion(self, suggestion: &str) -> Self {
        let edit = Edit { file: self.file, span: self.span, replacement: suggestion.to_string() };
        let fix = Fix {
            message: format!("replace with `{suggestion}`"),
            applicability: Applicability::Unsafe,
            edits: vec![edit],
        };
        self.with_help(format!("did you mean `{suggestion}`?")).with_fix(fix)
    }

    /// A fix that replaces the primary span with `text` and changes nothing else.
    pub fn with_safe_replacement(self, message: impl Into<String>, text: impl Into<String>) -> Self {
        let edit = Edit { file: self.file, span: self.span, replacement: text.into() };
        self.with_fix(Fix { message: message.into(), applicability: Applicability::Safe, edits: vec![edit] })
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Orders diagnostics by file, position and code, so output is stable.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics
        .sort_by(|a, b| (a.file, a.span.start, a.span.end, a.code).cmp(&(b.file, b.span.start, b.span.end, b.code)));
}

/// `did you mean` suggestion: the closest of `candidates` to `name`, when close enough.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("timout", ["timeout", "resources"]), Some("timeout"));
        assert_eq!(did_you_mean("xyz", ["timeout", "resources"]), None);
    }
}
