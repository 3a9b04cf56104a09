//! L0001 `sequential-jobs`.

use super::super::edit;
use super::super::shell;
use super::super::{Context, Sink};
use crate::diagnostic::{Applicability, Fix};

declare_rule! {
    /// ## What it does
    /// Finds jobs of one stage that depend on each other: one reads a path that a sibling
    /// writes (an artifact's path, or a file its scripts create), or waits for it in a loop.
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
    /// the reader's job, when both are plain jobs with compatible fields.
    code: "L0001",
    name: "sequential-jobs",
    category: Correctness,
    severity: Warning,
    fix: Unsafe,
    summary: "jobs of one stage where one uses what another makes",
    check: Some(check),
}

fn check(ctx: &Context, sink: &mut Sink) {
    for pipeline in &ctx.program.pipelines {
        for stage in &pipeline.stages {
            if stage.jobs.len() < 2 {
                continue;
            }
            let made: Vec<&[super::Produced]> = stage.jobs.iter().map(|j| &ctx.facts.job(j).produced[..]).collect();
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

/// Instances of one `for` fan-out run the same scripts; reading what a twin makes is the job's own work.
fn same_fan_out(a: &crate::model::Job, b: &crate::model::Job) -> bool {
    match (&a.instance_of, &b.instance_of) {
        (Some(x), Some(y)) => x.base.eq_ignore_ascii_case(&y.base),
        _ => false,
    }
}
