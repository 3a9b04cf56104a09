//! The work of `pw lint` without its printing: load the workspace and the configuration, check,
//! lint, apply fixes, and decide the exit status.

use crate::ExitStatus;
use pw_compiler::diagnostic::{Applicability, Diagnostic, Severity};
use pw_compiler::driver::{self, LoadError};
use pw_compiler::lint::check_and_lint;
use pw_compiler::lint::config::{ConfigError, LintConfig};
use pw_compiler::lint::fix;
use pw_compiler::lint::history::History;
use pw_compiler::lint::per_file::Configs;
use pw_compiler::source::Workspace;
use pw_compiler::Analysis;
use std::path::{Path, PathBuf};

/// What `pw lint` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    pub paths: Vec<PathBuf>,
    /// Findings at or above this severity make the exit status 1 (`--deny warnings`: warning).
    pub fail_at: Severity,
    pub fix: bool,
    pub unsafe_fixes: bool,
    pub history: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

/// Why the command could not run.
#[derive(Debug)]
pub enum Failure {
    Load(LoadError),
    Config(ConfigError),
    History(String),
    Write(PathBuf, std::io::Error),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Load(e) => write!(f, "{e}"),
            Failure::Config(e) => write!(f, "invalid configuration: {e}"),
            Failure::History(e) => write!(f, "{e}"),
            Failure::Write(p, e) => write!(f, "cannot write the fixed `{}`: {e}", p.display()),
        }
    }
}

/// The result of a run.
#[derive(Debug)]
pub struct Report {
    /// The workspace as linted last (with fixes applied).
    pub workspace: Workspace,
    /// Its analysis.
    pub analysis: Analysis,
    /// The checker's diagnostics, then the linter's, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// Fixes applied: file, code, what the fix did.
    pub fixed: Vec<(String, &'static str, String)>,
    /// Fixes not applied because the result would fail `pw check`: the finding and the error.
    pub refused: Vec<(Diagnostic, String)>,
    /// The configuration files used: `--config`, or the nearest above each file.
    pub config_files: Vec<PathBuf>,
    /// A failure when a finding is at or above the failing level.
    pub exit: ExitStatus,
}

impl Report {
    /// How many findings have a fix of each kind.
    pub fn fixable(&self) -> (usize, usize) {
        let count =
            |a| self.diagnostics.iter().filter(|d| d.fix.as_ref().is_some_and(|f| f.applicability == a)).count();
        (count(Applicability::Safe), count(Applicability::Unsafe))
    }
}

/// The configuration of each file: `--config` for all, else the nearest `pipewright.toml` above it.
pub fn configuration(opts: &Options, workspace: &Workspace) -> Result<Configs, ConfigError> {
    if let Some(file) = &opts.config {
        return LintConfig::load(file).map(Configs::single);
    }
    let (configs, errors) = Configs::nearest(disk_paths(workspace), LintConfig::default());
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(configs),
    }
}

fn disk_paths(workspace: &Workspace) -> impl Iterator<Item = &Path> {
    workspace.files.iter().map(|f| Path::new(&f.path))
}

/// Runs `pw lint`.
pub fn run(opts: &Options) -> Result<Report, Failure> {
    let history = match &opts.history {
        Some(dir) => History::load(dir).map_err(Failure::History)?,
        None => History::default(),
    };
    let mut workspace = driver::load(&opts.paths).map_err(Failure::Load)?;
    let configs = configuration(opts, &workspace).map_err(Failure::Config)?;
    let mut fixed = Vec::new();
    let mut refused = Vec::new();
    if opts.fix {
        let before = workspace.clone();
        let lint = |ws: &Workspace| check_and_lint(ws, &configs, &history);
        let outcome = fix::apply(&workspace, opts.unsafe_fixes, &lint);
        for id in outcome.changed(&before).collect::<Vec<_>>() {
            let file = outcome.workspace.file(id);
            std::fs::write(&file.path, &file.text).map_err(|e| Failure::Write(PathBuf::from(&file.path), e))?;
        }
        fixed = outcome.applied;
        refused = outcome.refused;
        workspace = outcome.workspace;
    }
    let (analysis, diagnostics) = check_and_lint(&workspace, &configs, &history);
    let exit = ExitStatus::failure_if(diagnostics.iter().any(|d| d.severity >= opts.fail_at));
    let config_files = match &opts.config {
        Some(file) => vec![file.clone()],
        None => configs.files(),
    };
    Ok(Report { workspace, analysis, diagnostics, fixed, refused, config_files, exit })
}
