//! GitHub Actions workflow commands (`::warning file=...,line=...::message`), which annotate
//! the changed files of a pull request. Values are escaped as the runner requires.

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::Workspace;

pub fn render(diagnostics: &[Diagnostic], workspace: &Workspace) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let file = workspace.file(d.file);
        let (start, end) = (file.line_col(d.span.start), file.line_col(d.span.end));
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let title = super::code_and_name(d.code);
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        out.push_str(&format!(
            "::{command} file={},line={},endLine={},col={},endColumn={},title={}::{}\n",
            property(&super::sarif::repo_relative(&file.path)),
            start.line,
            end.line,
            start.column,
            end.column,
            property(&title),
            data(&message)
        ));
    }
    out
}

/// Escapes a command's message: `%`, CR and LF.
pub fn data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a command's property value: as a message, plus `:` and `,`.
pub fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_the_runner_requires() {
        assert_eq!(data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
