//! The lint rules, one a module. Each declares its [`Rule`](super::registry::Rule) with
//! [`declare_rule!`], whose doc comment is the rule's documentation, and a `check` function.

/// Declares a module's `RULE`; the doc comment becomes the rule's documentation.
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        code: $code:literal,
        name: $name:literal,
        category: $cat:ident,
        severity: $sev:ident,
        fix: $fix:ident,
        summary: $summary:literal,
        check: $check:expr,
        scope: $scope:ident $(,)?
    ) => {
        $(#[doc = $doc])*
        pub(crate) static RULE: $crate::lint::registry::Rule = $crate::lint::registry::Rule {
            code: $code,
            name: $name,
            category: $crate::lint::registry::Category::$cat,
            severity: $crate::diagnostic::Severity::$sev,
            fix: $crate::lint::registry::FixKind::$fix,
            summary: $summary,
            doc: concat!($($doc, "\n"),*),
            check: $check,
            scope: $crate::lint::registry::Scope::$scope,
        };
    };
}

pub mod check_cannot_fail;
pub mod hand_written_fan_out;
pub mod independent_stages;
pub mod invalid_suppression;
pub mod long_stage_chain;
pub mod missing_timeout;
pub mod plaintext_secret;
pub mod sequential_jobs;
pub mod serial_independent_work;
pub mod shell_syntax_in_argv;
pub mod split_not_worth_it;
pub mod unfetched_artifact;
pub mod unreachable_cleanup;
pub mod unsafe_download;
pub mod unused_definition;
pub mod unused_suppression;
pub mod workspace_shared_by_luck;

use super::shell;
use crate::model::{Action, Job, Pipeline, Stage};
use crate::source::Span;
use std::borrow::Cow;
use std::sync::Arc;

/// Every job of `pipelines` with its pipeline and stage.
pub(crate) fn jobs(pipelines: &[Arc<Pipeline>]) -> impl Iterator<Item = (&Pipeline, &Stage, &Job)> {
    pipelines.iter().flat_map(|p| p.stages.iter().flat_map(move |s| s.jobs.iter().map(move |j| (&**p, s, j))))
}

/// The text of a task as a shell would see it: the script, or the argv joined.
pub(crate) fn task_script(action: &Action) -> Option<Cow<'_, str>> {
    match action {
        Action::Shell(s) => Some(Cow::Borrowed(s)),
        Action::Exec(argv) => Some(Cow::Owned(
            argv.iter()
                .map(|a| if a.contains(char::is_whitespace) { format!("'{a}'") } else { a.clone() })
                .collect::<Vec<_>>()
                .join(" "),
        )),
        Action::Fetch(_) => None,
    }
}

/// The simple commands of a task: the script read as a shell would, or the argv as one command
/// (no shell sees it).
pub(crate) fn task_commands(action: &Action) -> Option<Vec<shell::Command<'_>>> {
    match action {
        Action::Shell(s) => Some(shell::commands(s)),
        Action::Exec(argv) if argv.is_empty() => Some(Vec::new()),
        Action::Exec(argv) => Some(vec![shell::Command::of_argv(argv)]),
        Action::Fetch(_) => None,
    }
}

/// A path a job makes, and where: an artifact declaration or the task that writes it.
#[derive(Clone, Debug)]
pub struct Produced {
    pub path: String,
    pub span: Span,
    /// The artifact that publishes it, if it is one.
    pub artifact: Option<String>,
}

/// Whether a job makes `path` itself (so reading it needs nobody else).
pub(crate) fn makes_itself(own: &[Produced], path: &str) -> bool {
    own.iter().any(|p| shell::refers_to(path, &p.path) || shell::refers_to(&p.path, path))
}
