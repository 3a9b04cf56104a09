//! One line a diagnostic, `file:line:col: severity[code]: message`, for editors' error
//! parsers and `grep`; then the summary.

use crate::diagnostic::Diagnostic;
use crate::source::Workspace;

pub fn render(diagnostics: &[Diagnostic], workspace: &Workspace) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let file = workspace.file(d.file);
        let at = file.line_col(d.span.start);
        let fixable = if d.fix.is_some() { " [fix available]" } else { "" };
        out.push_str(&format!(
            "{}:{}:{}: {}[{}]: {}{fixable}\n",
            file.path,
            at.line,
            at.column,
            d.severity.as_str(),
            d.code,
            d.message.replace('\n', " ")
        ));
    }
    if !diagnostics.is_empty() {
        out.push_str(&format!("{}\n", super::Summary::of(diagnostics).sentence()));
    }
    out
}
