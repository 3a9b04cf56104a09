//! L0001 `sequential-jobs`.

use super::super::edit;
use super::super::effects;
use super::super::shell;
use super::super::{Context, Sink};
use crate::diagnostic::{Applicability, Fix};
use crate::model::{Job, Stage};

declare_rule! {
    /// ## What it does
    /// Finds jobs of one stage that depend on each other: one reads a path that a sibling
    /// writes (an artifact's path, or a file its scripts create), or waits for it in a loop;
    /// and jobs that prepare the workspace for their siblings (named `bootstrap`, `init`,
    /// `setup`, `deps` or `install`, or only installing dependencies: `npm ci`, `bundle
    /// install`, `apt-get update`, `./bootstrap.sh`). A job whose name also says it tests
    /// (`itest_install`) tests an install and is left alone.
    ///
    /// ## Why is this bad?
    /// The jobs of a stage run at the same time, each on its own agent with its own workspace.
    /// The reader either fails, because the file is on another machine, or races the writer
    /// when both happen to land on one agent: a build that passes or fails by luck. Work that
    /// must happen in order belongs in one job, as tasks in that order, or in a later stage
    /// that fetches what it needs.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage make {
    ///     job compile {
    ///       timeout = 20m
    ///       run "go build -o bin/app ./cmd/app"
    ///     }
    ///     job smoke {
    ///       timeout = 5m
    ///       run "./bin/app --self-test"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline build {
    ///   stage make {
    ///     job compile {
    ///       timeout = 25m
    ///       run "go build -o bin/app ./cmd/app"
    ///       run "./bin/app --self-test"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Fix
    /// An unsafe fix moves the reader's tasks into the writer's job, after its own, and removes
    /// the reader's job, when both are plain jobs with compatible fields. A preparing job has
    /// no fix: which jobs need what it installs is for a person to say.
    code: "L0001",
    name: "sequential-jobs",
    category: Correctness,
    severity: Warning,
    fix: Unsafe,
    summary: "jobs of one stage where one uses what another makes",
    check: Some(check),
    scope: Pipelines,
}

fn check(ctx: &Context, sink: &mut Sink) {
    for pipeline in ctx.pipelines {
        for stage in &pipeline.stages {
            if stage.jobs.len() < 2 {
                continue;
            }
            preparing_jobs(ctx, stage, sink);
            let made: Vec<&[super::Produced]> = stage.jobs.iter().map(|j| ctx.facts.produced(j)).collect();
            for (ci, consumer) in stage.jobs.iter().enumerate() {
                let facts = ctx.facts.job(consumer);
                let (mentions, waits) = (&facts.mentions, &facts.waits);
                'producers: for (pi, producer) in stage.jobs.iter().enumerate() {
                    if pi == ci || same_fan_out(consumer, producer) || ctx.facts.repeats_work_of(consumer, producer) {
                        continue;
                    }
                    for p in made[pi] {
                        if super::makes_itself(made[ci], &p.path) {
                            continue;
                        }
                        let waited = waits.iter().any(|w| shell::refers_to(w, &p.path));
                        if !waited && !mentions.iter().any(|m| shell::refers_to(m, &p.path)) {
                            continue;
                        }
                        let verb = if waited { "waits for" } else { "uses" };
                        let o = consumer.origin;
                        let mut d = RULE
                            .at(
                                o.file,
                                o.name,
                                format!(
                                    "job `{}` {verb} `{}`, which job `{}` of the same stage makes",
                                    consumer.name, p.path, producer.name
                                ),
                            )
                            .with_label(format!("runs at the same time as `{}`, on another agent", producer.name))
                            .with_secondary(producer.origin.file, p.span, format!("`{}` is made here", p.path))
                            .with_note("the jobs of a stage run in parallel, each in its own workspace: this fails, or races when both land on one agent")
                            .with_help(format!(
                                "make them tasks of one job, `{}`'s first; or move `{}` to a new stage after `{}` and fetch `{}` as an artifact",
                                producer.name, consumer.name, stage.name, p.path
                            ));
                        if let Some(edits) = edit::merge_jobs(ctx, producer, &[consumer], &[consumer.origin.span]) {
                            d = d.with_fix(Fix {
                                message: format!(
                                    "move the tasks of `{}` into `{}`, after its own",
                                    consumer.name, producer.name
                                ),
                                applicability: Applicability::Unsafe,
                                edits,
                            });
                        }
                        sink.add(d);
                        break 'producers;
                    }
                }
            }
        }
    }
}

/// Words of job names that say a job prepares the workspace for others.
const PREPARE_WORDS: &[&str] = &["bootstrap", "init", "setup", "deps", "dependencies", "install", "prepare"];

/// Why a job looks like it prepares the workspace for its siblings: its name, or its every
/// command installing dependencies (`npm ci`, `bundle install`, `./bootstrap.sh`). A job whose
/// name says it tests (`itest_install`) tests an install rather than preparing one.
fn prepares(ctx: &Context, job: &Job) -> Option<String> {
    let base = job.instance_of.as_ref().map_or(job.name.as_str(), |i| i.base.as_str()).to_ascii_lowercase();
    if effects::Classifier::new(&ctx.config.effects).name_verifies(&base) {
        return None;
    }
    if base.split(['-', '_']).any(|w| PREPARE_WORDS.contains(&w)) {
        return Some(format!("its name, `{}`", job.name));
    }
    ctx.facts.job(job).installs.as_ref().map(|c| format!("`{c}`"))
}

/// Jobs that prepare the workspace (install, bootstrap, set up) beside the jobs they prepare.
fn preparing_jobs(ctx: &Context, stage: &Stage, sink: &mut Sink) {
    let kinds: Vec<Option<String>> = stage.jobs.iter().map(|j| prepares(ctx, j)).collect();
    let others: Vec<&str> =
        stage.jobs.iter().zip(&kinds).filter(|(_, k)| k.is_none()).map(|(j, _)| j.name.as_str()).collect();
    if others.is_empty() {
        return;
    }
    for (job, why) in stage.jobs.iter().zip(&kinds) {
        let Some(why) = why else { continue };
        let o = job.origin;
        sink.add(
            RULE.at(
                o.file,
                o.name,
                format!(
                    "job `{}` prepares the workspace ({why}), but runs at the same time as {}, each on its own agent",
                    job.name,
                    crate::words::quote_list(&others)
                ),
            )
            .with_label("what it installs stays in its own workspace")
            .with_note("the jobs of a stage start together, each in a fresh workspace: the others never see what this one installs or sets up")
            .with_help(format!(
                "make its tasks the first tasks of the jobs that need them (a template can share them), or move `{}` to a stage before `{}` and publish what they need as an artifact",
                job.name, stage.name
            )),
        );
    }
}

/// Instances of one `for` fan-out run the same scripts; reading what a twin makes is the job's own work.
fn same_fan_out(a: &Job, b: &Job) -> bool {
    match (&a.instance_of, &b.instance_of) {
        (Some(x), Some(y)) => x.base.eq_ignore_ascii_case(&y.base),
        _ => false,
    }
}
