//! L0012 `unfetched-artifact`.

use super::super::{Context, Sink};
use crate::model::Action;

declare_rule! {
    /// ## What it does
    /// Finds artifacts that no job of the workspace fetches.
    ///
    /// ## Why is this bad?
    /// Publishing an artifact uploads it to the server after every run and keeps it there. When
    /// nothing fetches it, that is time and storage for nothing, unless it is a deliverable
    /// that people download: hence the info severity. Suppress it with the reason for those.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage compile {
    ///     job linux {
    ///       timeout = 20m
    ///       run "cargo build --release 2> build.log"
    ///       artifact log = "build.log"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline build {
    ///   stage compile {
    ///     job linux {
    ///       timeout = 20m
    ///       run "cargo build --release"
    ///     }
    ///   }
    /// }
    /// ```
    code: "L0012",
    name: "unfetched-artifact",
    category: Maintainability,
    severity: Info,
    fix: None,
    summary: "artifact that nothing fetches",
    check: Some(check),
}

fn check(ctx: &Context, sink: &mut Sink) {
    let fetches: Vec<_> = super::jobs(ctx.program)
        .flat_map(|(_, _, j)| j.tasks.iter())
        .filter_map(|t| match &t.action {
            Action::Fetch(f) => Some(f),
            _ => None,
        })
        .collect();
    for (pipeline, stage, job) in super::jobs(ctx.program) {
        for artifact in &job.artifacts {
            let fetched = fetches.iter().any(|f| {
                f.pipeline.eq_ignore_ascii_case(&pipeline.name)
                    && f.stage.eq_ignore_ascii_case(&stage.name)
                    && f.artifact.eq_ignore_ascii_case(&artifact.name)
                    && (f.job.eq_ignore_ascii_case(&job.name)
                        || job.instance_of.as_ref().is_some_and(|i| f.job.eq_ignore_ascii_case(&i.base)))
            });
            if fetched {
                continue;
            }
            let o = artifact.origin;
            sink.add_about(
                o.span,
                RULE.at(o.file, o.name, format!("artifact `{}` of job `{}` is never fetched", artifact.name, job.name))
                    .with_label("published after every run, fetched by no job")
                    .with_help("remove it, or, if people download it, suppress this with the reason"),
            );
        }
    }
}
