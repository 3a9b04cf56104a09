//! L0012 `unfetched-artifact`.

use super::super::{Context, Sink};
use crate::model::Action;
use std::collections::HashSet;

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
    let key = |p: &str, s: &str, j: &str, a: &str| {
        (p.to_ascii_lowercase(), s.to_ascii_lowercase(), j.to_ascii_lowercase(), a.to_ascii_lowercase())
    };
    let fetched: HashSet<_> = super::jobs(ctx.program)
        .flat_map(|(_, _, j)| j.tasks.iter())
        .filter_map(|t| match &t.action {
            Action::Fetch(f) => Some(key(&f.pipeline, &f.stage, &f.job, &f.artifact)),
            _ => None,
        })
        .collect();
    for (pipeline, stage, job) in super::jobs(ctx.program) {
        for artifact in &job.artifacts {
            let by = |name: &str| fetched.contains(&key(&pipeline.name, &stage.name, name, &artifact.name));
            let fetched = by(&job.name) || job.instance_of.as_ref().is_some_and(|i| by(&i.base));
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
