//! L0017 `check-cannot-fail`.

use super::super::effects::Classifier;
use super::super::{Context, Sink};
use crate::diagnostic::{Applicability, Edit, Fix};
use crate::model::Action;
use crate::source::{FileId, Span};

declare_rule! {
    /// ## What it does
    /// Finds checks (a lint, a test, a scan) whose script ends in `|| true`, `|| :`,
    /// `|| exit 0` or `; true`, so that the task passes whatever the check finds; and scripts
    /// of several lines, one of which checks, whose last line is a bare `true` or `:`: a shell
    /// script's status is its last command's, so that line passes whatever came before.
    ///
    /// ## Why is this bad?
    /// A check that cannot fail gates nothing: the stages after it run on a broken commit,
    /// and its findings are read only by someone who opens the log. This is information: a
    /// check being introduced is often made advisory on purpose for a while.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage lint {
    ///     job eslint {
    ///       timeout = 10m
    ///       run "npx eslint . || true"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline build {
    ///   stage lint {
    ///     job eslint {
    ///       timeout = 10m
    ///       run "npx eslint ."
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// When the check is advisory on purpose, suppress the finding with the reason.
    ///
    /// ## Fix
    /// An unsafe fix removes the ending (or the last line), so that the check fails the task
    /// again: the stages after it then wait for it to pass.
    code: "L0017",
    name: "check-cannot-fail",
    category: Correctness,
    severity: Info,
    fix: Unsafe,
    summary: "lint or test task whose failure is ignored",
    check: Some(check),
    scope: Pipelines,
}

/// The endings that turn a failure into a pass.
const IGNORED: &[&str] = &["|| true", "||true", "|| :", "|| exit 0", "; true", ";true"];

/// Whether a task's script ends in a way that passes whatever came before. The job facts ask
/// while they read each script, so that this rule reads only the jobs that have one.
pub(crate) fn may_ignore_failure(action: &Action) -> bool {
    matches!(action, Action::Shell(script) if ignored_ending(script).is_some())
}

fn check(ctx: &Context, sink: &mut Sink) {
    let classifier = Classifier::new(&ctx.config.effects);
    for (_, _, job) in super::jobs(ctx.pipelines) {
        if !ctx.facts.job(job).flags.ignores_failure {
            continue;
        }
        for task in &job.tasks {
            let Action::Shell(script) = &task.action else { continue };
            let Some((ending, checked, last_line)) = ignored_ending(script) else { continue };
            let cmds = super::super::shell::commands(checked);
            let cmd = match last_line {
                // Any check before a last `true`: the shell's status is that line's.
                true => cmds.iter().find(|c| classifier.verifies_command(c)),
                false => cmds.last().filter(|c| classifier.verifies_command(c)),
            };
            let Some(cmd) = cmd else { continue };
            let o = task.origin;
            let mut d = RULE
                .at(o.file, o.span, format!("`{ending}` makes `{}` pass whatever it finds", cmd.words.join(" ")))
                .with_label("this check cannot fail")
                .with_note("the stages after it run even when the check finds problems")
                .with_help(format!("remove `{ending}`, or suppress this with the reason the check is advisory"));
            if last_line {
                d = d.with_note(format!(
                    "a script's status is its last command's: a last line `{ending}` passes whatever came before"
                ));
            }
            if let Some(fix) = fix(ctx, o.file, o.span, ending) {
                d = d.with_fix(fix);
            }
            sink.add(d);
        }
    }
}

/// The ending that turns a failure into a pass, the script before it, and whether the ending
/// is a last line of its own (a bare `true` or `:`) rather than one of [`IGNORED`].
fn ignored_ending(script: &str) -> Option<(&'static str, &str, bool)> {
    let trimmed = script.trim_end();
    if let Some(ending) = IGNORED.iter().find(|e| trimmed.ends_with(*e)) {
        return Some((ending, &trimmed[..trimmed.len() - ending.len()], false));
    }
    let (before, last) = trimmed.rsplit_once('\n')?;
    let ending = ["true", ":"].into_iter().find(|e| last.trim() == *e)?;
    (!before.trim().is_empty()).then_some((ending, before, true))
}

/// Removes `ending` (and the blanks before it) where the task's string ends with it, as written.
fn fix(ctx: &Context, file: FileId, task: Span, ending: &str) -> Option<Fix> {
    let text = ctx.text(file, task);
    let at = text.rfind(ending)?;
    if !text[at + ending.len()..].trim_start().starts_with('"') {
        return None;
    }
    let start = text[..at].trim_end().len();
    Some(Fix {
        message: format!("remove `{ending}`"),
        applicability: Applicability::Unsafe,
        edits: vec![Edit {
            file,
            span: Span::new(task.start + start, task.start + at + ending.len()),
            replacement: String::new(),
        }],
    })
}
