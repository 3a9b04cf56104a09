//! L0012 `unfetched-artifact`.

use super::super::shell;
use super::super::{Context, Sink};
use crate::model::{Action, Pipeline, Stage};
use std::collections::HashSet;

declare_rule! {
    /// ## What it does
    /// Finds artifacts that no job of the workspace fetches, unless they declare who reads them
    /// instead: `{ kind = report }` for test results and reports people read on the server,
    /// `{ kind = deliverable }` for what people download. An artifact whose file a later job
    /// uses without fetching it has a reader: `workspace-shared-by-luck` reports that job, and
    /// its fix is to fetch the file, not to remove the artifact.
    ///
    /// ## Why is this bad?
    /// Publishing an artifact uploads it to the server after every run and keeps it there. When
    /// nothing fetches it and nobody reads it, that is time and storage for nothing. This is
    /// information: give the artifacts people read a `kind`.
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
            if fetched || artifact.kind.is_some() || read_later(ctx, pipeline, stage, &artifact.path) {
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

/// Whether a job of a later stage uses the artifact's file without fetching it: it has a
/// reader, and `workspace-shared-by-luck` tells it to fetch the file.
fn read_later(ctx: &Context, pipeline: &Pipeline, stage: &Stage, path: &str) -> bool {
    let Some(path) = shell::normalize(path) else { return false };
    let later = pipeline.stages.iter().skip_while(|s| !std::ptr::eq(*s, stage)).skip(1);
    later.flat_map(|s| s.jobs.iter()).any(|j| ctx.facts.job(j).mentions.iter().any(|m| shell::refers_to(m, &path)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_unknown_kind_is_an_error_that_lists_the_kinds() {
        let mut ws = crate::source::Workspace::new();
        ws.add(
            "a.pw",
            "pipeline p { stage s { job j { run \"make\" artifact log = \"out/log\" { kind = logs } } } }".to_string(),
        );
        let analysis = crate::analyze(&ws);
        let error = analysis.diagnostics.iter().find(|d| d.is_error()).map(|d| format!("{} {:?}", d.message, d.label));
        let error = error.unwrap_or_default();
        assert!(error.contains("`report`") && error.contains("`deliverable`"), "{error}");
    }
}
