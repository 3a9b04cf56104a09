//! The formatter: one canonical layout for `.pw` files, printed from the syntax tree and the
//! comments, so that formatting never changes what a file means.
//!
//! The layout: two spaces of indentation; the `=` of consecutive fields aligned; one blank line
//! between top-level entities and around stages and jobs; a single blank line a person left
//! between fields is kept, more are collapsed; comments stay where they were written (on their
//! own line or at the end of one); a list, call or signature longer than [`MAX_WIDTH`] columns is
//! wrapped one item per line. Literals are copied from the source text, never re-escaped.

mod comments;
mod files;
mod printer;

pub use files::{format_workspace, unified_diff};

use crate::diagnostic::Diagnostic;
use crate::source::FileId;
use crate::ParsedFile;

/// Lines longer than this get their lists, calls and signatures wrapped.
pub(crate) const MAX_WIDTH: usize = 100;

/// Formats one file. Refuses a file with syntax errors: its diagnostics are returned instead.
pub fn format(text: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = crate::parse_file(FileId(0), text);
    format_parsed(text, &parsed)
}

/// Formats a file that has already been parsed from `text`.
pub fn format_parsed(text: &str, parsed: &ParsedFile) -> Result<String, Vec<Diagnostic>> {
    let errors: Vec<Diagnostic> = parsed.diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(printer::print(text, &parsed.ast, &parsed.comments))
}
