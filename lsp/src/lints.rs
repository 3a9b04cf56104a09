//! The linter's findings for a workspace, beside the checker's diagnostics, with the `[lint]`
//! settings of the `pipewright.toml` nearest above each file.

use pw_compiler::lint::config::ConfigError;
use pw_compiler::lint::{self, registry, Configs, LintConfig};
use pw_compiler::{Analysis, Diagnostic, Workspace};
use std::path::PathBuf;
use tower_lsp_server::ls_types::Uri;

/// The linter's findings, each file's with its own configuration; while some files have errors,
/// those of the others ([`lint::lint_checked`]). `uris` names the workspace's files in order.
pub fn lint(workspace: &Workspace, analysis: &Analysis, configs: &Configs, uris: &[Uri]) -> Vec<Diagnostic> {
    let paths: Vec<PathBuf> = uris.iter().map(file_path).collect();
    let paths: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
    lint::lint_checked(workspace, analysis, configs, &paths, &lint::History::default())
}

/// The `[lint]` settings of each file, from the nearest `pipewright.toml` above it; the defaults
/// for a file below an invalid one, and what is wrong with it.
pub(crate) fn load_configs<'a>(uris: impl Iterator<Item = &'a Uri>) -> (Configs, Vec<ConfigError>) {
    Configs::nearest(uris.map(file_path), LintConfig::default())
}

/// The file a document is on disk; an empty path (the current folder's settings) for a document
/// that is not a file.
pub(crate) fn file_path(uri: &Uri) -> PathBuf {
    uri.to_file_path().map(|p| p.into_owned()).unwrap_or_default()
}

/// The name a suppression comment uses for the rule with `code`.
pub(crate) fn rule_name(code: &str) -> String {
    registry::lookup(code).map_or_else(|| code.to_string(), |rule| rule.name.to_string())
}
