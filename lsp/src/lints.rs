//! The linter's findings for a workspace, beside the checker's diagnostics, with the `[lint]`
//! settings of the workspace's `pipewright.toml`.

use pw_compiler::lint::{self, registry, LintConfig};
use pw_compiler::{Analysis, Diagnostic, Workspace};
use std::path::Path;

/// The linter's findings; none while the workspace has errors, as the linter reads a checked
/// program.
pub fn lint(workspace: &Workspace, analysis: &Analysis, config: &LintConfig) -> Vec<Diagnostic> {
    if analysis.has_errors() {
        return Vec::new();
    }
    lint::lint(workspace, analysis, config)
}

/// The `[lint]` settings of the first root with a `pipewright.toml`; the defaults and the reason
/// when it is invalid.
pub(crate) fn load_config(roots: &[impl AsRef<Path>]) -> (LintConfig, Option<String>) {
    for root in roots {
        let path = root.as_ref().join(lint::config::FILE_NAME);
        if !path.is_file() {
            continue;
        }
        return match LintConfig::load(&path) {
            Ok(config) => (config, None),
            Err(e) => (LintConfig::default(), Some(e.to_string())),
        };
    }
    (LintConfig::default(), None)
}

/// The name a suppression comment uses for the rule with `code`.
pub(crate) fn rule_name(code: &str) -> String {
    registry::lookup(code).map_or_else(|| code.to_string(), |rule| rule.name.to_string())
}
