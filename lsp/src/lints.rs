//! The linter's findings for a workspace, beside the checker's diagnostics.

use pw_compiler::{Analysis, Diagnostic, Workspace};

/// The linter's findings; none while the workspace has errors, as the linter reads a checked
/// program.
pub fn lint(_workspace: &Workspace, analysis: &Analysis) -> Vec<Diagnostic> {
    if analysis.has_errors() {
        return Vec::new();
    }
    Vec::new()
}

/// The name a suppression comment uses for the rule with `code`.
pub fn rule_name(code: &str) -> String {
    code.to_string()
}
