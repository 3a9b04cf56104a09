//! L0012 `unfetched-artifact`.

use super::super::shell;
use super::super::{Context, Sink};
use crate::model::{Pipeline, Stage};

declare_rule! {
    /// ## What it does
    /// Finds artifacts that no job of the workspace fetches, unless they declare who reads them
    /// instead: `{ kind = report }` for test results and reports people read on the server,
    /// `{ kind = deliverable }` for what people download. An artifact whose file a later job
    /// uses without fetching it has a reader: `workspace-shared-by-luck` reports that job, and
    /// its fix is to fetch the file, not to remove the artifact.
    ///
    /// A path that names a report (`test-results`, `report`, `coverage`, `junit`) is read as
    /// one. In a GoCD file, whose pipelines share the server with other config repositories
    /// that may fetch from them, an artifact is reported only when its own pipeline fetches
    /// other artifacts of the same job, or when it is evidently waste (`venv/`,
    /// `node_modules/`, `.git`).
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
    scope: Pipelines,
}

fn check(ctx: &Context, sink: &mut Sink) {
    for (pipeline, stage, job) in super::jobs(ctx.pipelines) {
        let names = std::iter::once(job.name.as_str()).chain(job.instance_of.as_ref().map(|i| i.base.as_str()));
        let names: Vec<&str> = names.collect();
        for artifact in &job.artifacts {
            let o = artifact.origin;
            let by_fetch = names.iter().any(|n| ctx.facts.is_fetched(&pipeline.name, &stage.name, n, &artifact.name));
            if by_fetch || artifact.kind.is_some() || reads_as_report(&artifact.path) {
                continue;
            }
            // A GoCD config repository is one of many on its server: pipelines of other
            // repositories may fetch this artifact. Only where this pipeline's own jobs fetch
            // from the job, or the path is evidently waste, is an unread artifact a mistake.
            let elsewhere = crate::gocd::is_gocd_path(&ctx.workspace.file(o.file).path)
                && !names.iter().any(|n| ctx.facts.is_fetched_from(&pipeline.name, &stage.name, n))
                && !waste(&artifact.path);
            if elsewhere || read_later(ctx, pipeline, stage, &artifact.path) {
                continue;
            }
            sink.add_about(
                o.span,
                RULE.at(o.file, o.name, format!("artifact `{}` of job `{}` is never fetched", artifact.name, job.name))
                    .with_label("published after every run, fetched by no job")
                    .with_help("remove it, or, if people download it, suppress this with the reason"),
            );
        }
    }
}

/// Test results, reports and coverage, by the words of their path: people read them on the
/// server, as with `{ kind = report }`.
fn reads_as_report(path: &str) -> bool {
    let path = path.to_ascii_lowercase();
    ["test-result", "test_result", "testresult", "report", "coverage", "junit", "surefire"]
        .iter()
        .any(|w| path.contains(w))
}

/// Paths that nobody fetches or downloads on purpose: an environment, installed dependencies,
/// a repository.
fn waste(path: &str) -> bool {
    let path = path.trim_start_matches("./").trim_end_matches('/');
    path.split('/').any(|part| matches!(part, "venv" | ".venv" | "node_modules" | ".git" | "__pycache__" | ".gradle"))
}

/// Whether a job of a later stage uses the artifact's file without fetching it: it has a
/// reader, and `workspace-shared-by-luck` tells it to fetch the file.
fn read_later(ctx: &Context, pipeline: &Pipeline, stage: &Stage, path: &str) -> bool {
    let Some(path) = shell::normalize(path) else { return false };
    let later = pipeline.stages.iter().skip_while(|s| !std::ptr::eq(*s, stage)).skip(1);
    later.flat_map(|s| s.jobs.iter()).any(|j| ctx.facts.job(j).mentions.iter().any(|m| shell::refers_to(m, path)))
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
