//! L0002 `workspace-shared-by-luck`.

use super::super::edit;
use super::super::shell;
use super::super::{Context, Sink};
use crate::diagnostic::{Applicability, Edit, Fix};
use crate::model::{Action, Job};

declare_rule! {
    /// ## What it does
    /// Finds jobs that use a path a job of an earlier stage makes without fetching it as an
    /// artifact.
    ///
    /// ## Why is this bad?
    /// Every job starts in a fresh workspace with a checkout of its materials, possibly on
    /// another agent. A file an earlier job made is there only when both jobs happen to run on
    /// the same agent and the workspace was not cleaned: it works on a quiet day and fails when
    /// the farm is busy. Publish it as an `artifact` and `fetch` it.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage compile {
    ///     job linux {
    ///       timeout = 20m
    ///       run "cargo build --release"
    ///       artifact app = "target/release/app"
    ///     }
    ///   }
    ///   stage test {
    ///     job smoke {
    ///       timeout = 5m
    ///       run "./target/release/app --self-test"
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
    ///       artifact app = "target/release/app"
    ///     }
    ///   }
    ///   stage test {
    ///     job smoke {
    ///       timeout = 5m
    ///       fetch compile.linux.app into "target/release"
    ///       run "./target/release/app --self-test"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Fix
    /// An unsafe fix adds the fetch as the job's first task (into the folder of the path), and,
    /// when the earlier job does not publish the path yet, an `artifact` for it.
    code: "L0002",
    name: "workspace-shared-by-luck",
    category: Correctness,
    severity: Warning,
    fix: Unsafe,
    summary: "job using files an earlier stage made without fetching them",
    check: Some(check),
}

fn check(ctx: &Context, sink: &mut Sink) {
    for pipeline in &ctx.program.pipelines {
        for (si, stage) in pipeline.stages.iter().enumerate() {
            for consumer in &stage.jobs {
                let facts = ctx.facts.job(consumer);
                let (own, mentions) = (&facts.produced, &facts.mentions);
                'found: for earlier in pipeline.stages[..si].iter().rev() {
                    for producer in &earlier.jobs {
                        for p in &ctx.facts.job(producer).produced {
                            if !mentions.iter().any(|m| shell::refers_to(m, &p.path))
                                || super::makes_itself(own, &p.path)
                                || fetched(ctx, consumer, &p.path)
                                || ctx.facts.repeats_work_of(consumer, producer)
                            {
                                continue;
                            }
                            let o = consumer.origin;
                            let mut d = RULE
                                .at(
                                    o.file,
                                    o.name,
                                    format!(
                                        "job `{}` uses `{}`, which job `{}` of stage `{}` makes, but does not fetch it",
                                        consumer.name, p.path, producer.name, earlier.name
                                    ),
                                )
                                .with_label("its workspace has that file only if it runs on the same agent")
                                .with_secondary(producer.origin.file, p.span, format!("`{}` is made here", p.path))
                                .with_note("each job starts in a fresh workspace, possibly on another agent");
                            let artifact = p.artifact.clone().unwrap_or_else(|| artifact_name(&p.path));
                            d = d.with_help(match &p.artifact {
                                Some(a) => format!("fetch it first: `fetch {}.{}.{a}`", earlier.name, producer.name),
                                None => format!(
                                    "publish it from `{}` with `artifact {artifact} = \"{}\"` and fetch it in `{}`",
                                    producer.name, p.path, consumer.name
                                ),
                            });
                            if let Some(fix) =
                                fix(ctx, &earlier.name, producer, consumer, &p.path, &artifact, p.artifact.is_none())
                            {
                                d = d.with_fix(fix);
                            }
                            sink.add(d);
                            break 'found;
                        }
                    }
                }
            }
        }
    }
}

/// Whether the job fetches something that puts `path` in its workspace: into a folder that
/// holds it, or an artifact whose path or file name is the path's.
fn fetched(ctx: &Context, job: &Job, path: &str) -> bool {
    let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_ascii_lowercase();
    job.tasks.iter().any(|t| match &t.action {
        Action::Fetch(f) => {
            let into = f.into.trim().trim_start_matches("./").trim_end_matches('/');
            let into_holds = !into.is_empty() && into != "." && shell::refers_to(path, into);
            let source = ctx
                .program
                .pipeline(&f.pipeline)
                .and_then(|p| p.stage(&f.stage))
                .and_then(|s| s.job(&f.job))
                .and_then(|j| j.artifacts.iter().find(|a| a.name.eq_ignore_ascii_case(&f.artifact)));
            let same_file = source.is_some_and(|a| {
                shell::normalize(&a.path).is_some_and(|p| shell::refers_to(path, &p)) || base(&a.path) == base(path)
            });
            into_holds || same_file || f.artifact.eq_ignore_ascii_case(&base(path))
        }
        _ => false,
    })
}

/// An artifact name for a path: its file name, name-safe.
fn artifact_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let stem = base.split('.').next().filter(|s| !s.is_empty()).unwrap_or(base);
    edit::name_for(stem)
}

fn fix(
    ctx: &Context,
    stage: &str,
    producer: &Job,
    consumer: &Job,
    path: &str,
    artifact: &str,
    publish: bool,
) -> Option<Fix> {
    let consumer_block = edit::plain_job(ctx, consumer)?;
    let file = consumer.origin.file;
    let source = ctx.workspace.file(file);
    let dir = path.rsplit_once('/').map(|(d, _)| d);
    let fetch = match dir {
        Some(d) => format!("fetch {stage}.{}.{artifact} into \"{d}\"", producer.name),
        None => format!("fetch {stage}.{}.{artifact}", producer.name),
    };
    let mut edits: Vec<Edit> = vec![edit::insert_before_tasks(source, file, consumer_block, &fetch)?];
    if publish {
        let producer_block = edit::plain_job(ctx, producer)?;
        let psource = ctx.workspace.file(producer.origin.file);
        edits.push(edit::append_members(
            psource,
            producer.origin.file,
            producer_block,
            &[format!("artifact {artifact} = \"{path}\"")],
        )?);
    }
    Some(Fix {
        message: format!("fetch `{path}` from `{}`", producer.name),
        applicability: Applicability::Unsafe,
        edits,
    })
}
