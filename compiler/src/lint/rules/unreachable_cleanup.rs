//! L0015 `unreachable-cleanup`.

use super::super::{phrase, Context, Sink};
use crate::model::{Stage, When};

declare_rule! {
    /// ## What it does
    /// Finds stages that only clean up after the stages before them (their tasks run with
    /// `when = always` or `when = failed`, or the stage is named for a cleanup or a teardown)
    /// and come after another stage.
    ///
    /// ## Why is this bad?
    /// Stages are gates: a stage runs only when the stage before it passed. A cleanup in a
    /// stage of its own never runs after a failure, which is when it is needed most (the test
    /// containers, the temporary environment, the lock stay behind). `when = always` and
    /// `when = failed` choose between the tasks of one job, after that job's earlier tasks;
    /// they cannot make a stage run after a failed one.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage test {
    ///     job integration {
    ///       timeout = 20m
    ///       run "docker compose up -d"
    ///       run "cargo test --test integration"
    ///     }
    ///   }
    ///   stage cleanup {
    ///     job down {
    ///       timeout = 5m
    ///       run "docker compose down -v" { when = always }
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline build {
    ///   stage test {
    ///     job integration {
    ///       timeout = 20m
    ///       run "docker compose up -d"
    ///       run "cargo test --test integration"
    ///       run "docker compose down -v" { when = always }
    ///     }
    ///   }
    /// }
    /// ```
    code: "L0015",
    name: "unreachable-cleanup",
    category: Reliability,
    severity: Warning,
    fix: None,
    summary: "cleanup in a stage of its own, which never runs after a failed stage",
    check: Some(check),
    scope: Pipelines,
}

const CLEANUP_WORDS: &[&str] = &["cleanup", "clean", "teardown", "destroy", "down"];

/// Whether every task of the stage runs `always` or `failed`, or the stage is named for a
/// cleanup and one of its tasks does.
fn cleanup_only(stage: &Stage) -> bool {
    let tasks = || stage.jobs.iter().flat_map(|j| j.tasks.iter());
    let unconditional = tasks().filter(|t| t.when != When::Passed).count();
    if unconditional == 0 {
        return false;
    }
    let named = stage.name.to_ascii_lowercase().split(['-', '_']).any(|w| CLEANUP_WORDS.contains(&w));
    named || unconditional == tasks().count()
}

fn check(ctx: &Context, sink: &mut Sink) {
    for p in ctx.pipelines {
        for pair in p.stages.windows(2) {
            let (before, stage) = (&pair[0], &pair[1]);
            if !cleanup_only(stage) {
                continue;
            }
            let Some(task) = stage.jobs.iter().flat_map(|j| j.tasks.iter()).find(|t| t.when != When::Passed) else {
                continue;
            };
            let when = if task.when == When::Always { "always" } else { "failed" };
            let syntax = ctx.syntax(task.origin.file);
            let jobs: Vec<&str> = before.jobs.iter().map(|j| j.name.as_str()).collect();
            let o = stage.origin;
            sink.add_about(
                o.span,
                RULE.at(
                    o.file,
                    o.name,
                    format!("stage `{}` cleans up, but runs only when stage `{}` passed", stage.name, before.name),
                )
                .with_label("never runs after a failure")
                .with_secondary(
                    task.origin.file,
                    task.origin.span,
                    format!("`{}` chooses among the tasks of this job only", phrase::when(syntax, when)),
                )
                .with_secondary(
                    before.origin.file,
                    before.origin.name,
                    "when this stage fails, the next one does not start",
                )
                .with_note("stages are gates: a stage starts only when the stage before it passed")
                .with_help(format!(
                    "make the cleanup the last task of the job it cleans up after ({}), with `{}`",
                    crate::words::quote_list(&jobs),
                    phrase::when(syntax, "always")
                )),
            );
        }
    }
}
