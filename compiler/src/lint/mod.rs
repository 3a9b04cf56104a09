//! The linter: finds pipelines that run but are modelled at a cost (sequential work split across
//! jobs, stage chains longer than they need be, secrets in plain text...), explains the cost with
//! the figures of its [cost model](cost), and offers fixes where one is mechanical.
//!
//! [`lint`] takes a checked [`Analysis`]; [`command`] is the whole `pw lint` command (loading,
//! configuration, fixes, output) for the CLI.

pub mod command;
pub mod config;
pub mod cost;
pub mod docs;
pub mod edit;
pub mod facts;
pub mod fix;
pub mod glob;
pub mod history;
pub mod registry;
pub mod rules;
pub mod shell;
pub mod suppress;

use crate::diagnostic::{self, Diagnostic};
use crate::model::Program;
use crate::source::{FileId, Span, Workspace};
use crate::Analysis;
pub use config::LintConfig;
pub use cost::Costs;
pub use history::History;
use registry::Rule;
use std::collections::HashSet;

/// What every rule sees.
pub struct Context<'a> {
    pub workspace: &'a Workspace,
    pub analysis: &'a Analysis,
    pub program: &'a Program,
    pub config: &'a LintConfig,
    pub costs: Costs<'a>,
    /// What every job's scripts make and use, read once.
    pub facts: facts::Facts,
}

impl Context<'_> {
    /// The source text of a span.
    pub fn text(&self, file: FileId, span: Span) -> &str {
        self.workspace.file(file).text.get(span.range()).unwrap_or("")
    }

    /// The syntax tree of a file.
    pub fn ast(&self, file: FileId) -> Option<&crate::ast::File> {
        self.analysis.files.get(file.0 as usize).map(|f| &f.ast)
    }
}

/// A finding before configuration and suppressions are applied.
#[derive(Clone, Debug)]
pub struct Finding {
    pub diagnostic: Diagnostic,
    /// The entity the finding is about, when it starts elsewhere than the primary span: a
    /// suppression comment above it also applies.
    pub entity: Option<Span>,
}

/// Collects the findings of the rules.
#[derive(Default)]
pub struct Sink {
    pub findings: Vec<Finding>,
}

impl Sink {
    pub fn add(&mut self, diagnostic: Diagnostic) {
        self.findings.push(Finding { diagnostic, entity: None });
    }

    /// Adds a finding about the entity written at `entity` (same file as the diagnostic).
    pub fn add_about(&mut self, entity: Span, diagnostic: Diagnostic) {
        self.findings.push(Finding { diagnostic, entity: Some(entity) });
    }
}

impl Rule {
    /// A diagnostic of this rule at its default severity.
    pub fn at(&self, file: FileId, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.code, self.severity, file, span, message)
    }
}

/// Lints a checked workspace with durations from estimates only.
pub fn lint(workspace: &Workspace, analysis: &Analysis, config: &LintConfig) -> Vec<Diagnostic> {
    lint_with_history(workspace, analysis, config, &History::default())
}

/// Lints a checked workspace; `history` holds the durations the runtime recorded.
pub fn lint_with_history(
    workspace: &Workspace,
    analysis: &Analysis,
    config: &LintConfig,
    history: &History,
) -> Vec<Diagnostic> {
    let ctx = Context {
        workspace,
        analysis,
        program: &analysis.program,
        config,
        costs: Costs::new(&config.cost, history),
        facts: facts::Facts::new(&analysis.program),
    };
    let mut sink = Sink::default();
    for rule in registry::RULES {
        if let Some(check) = rule.check {
            if config.enabled(rule) {
                check(&ctx, &mut sink);
            }
        }
    }
    let mut seen = HashSet::new();
    let findings: Vec<Finding> = sink
        .findings
        .into_iter()
        .filter(|f| seen.insert((f.diagnostic.code, f.diagnostic.file, f.diagnostic.span)))
        .filter(|f| !config.ignored_in(&workspace.file(f.diagnostic.file).path, f.diagnostic.code))
        .collect();
    let mut out = suppress::apply(workspace, analysis, config, findings);
    for d in &mut out {
        if let Some(rule) = registry::lookup(d.code) {
            d.severity = config.severity(rule);
        }
    }
    diagnostic::sort(&mut out);
    out
}
