//! Writing a checked workspace as another CI system's configuration: today GoCD's YAML
//! ([`gocd`]). What the other system cannot express is reported as [`Diagnostic`]s with codes
//! of their own ([`codes`]); the rest is still written.

pub mod codes;
pub mod gocd;
pub mod yaml;

use crate::diagnostic::Diagnostic;

/// One file to write, relative to the output folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedFile {
    pub path: String,
    pub text: String,
}

/// What an export made: the files, and what could not be exported as written.
#[derive(Clone, Debug, Default)]
pub struct Export {
    pub files: Vec<ExportedFile>,
    /// Sorted by file and position; an error means a pipeline was left out.
    pub diagnostics: Vec<Diagnostic>,
}

impl Export {
    /// Whether something could not be exported.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}
