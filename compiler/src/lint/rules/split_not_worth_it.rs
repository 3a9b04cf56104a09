//! L0004 `split-not-worth-it`.

use super::super::edit;
use super::super::effects;
use super::super::{Context, Sink};
use crate::diagnostic::{Applicability, Fix};
use crate::model::{Action, Approval, Job, Pipeline, Stage};
use crate::parser::format_duration;

declare_rule! {
    /// ## What it does
    /// Finds work split into stages or jobs so short that the split costs more than it gains:
    /// - consecutive stages of one job each, with no approval between them, whose work together
    ///   takes less than the not-worth-splitting duration (60 s by default): each boundary
    ///   costs a transition and a job setup;
    /// - jobs of one stage whose work together takes less than that duration and whose setups
    ///   cost more agent time than running them one after another would add to the stage.
    ///
    /// Durations come from `estimate` fields or from `--history`; work of unknown duration is
    /// never reported, except a stage whose every task is trivial (`echo`, `true`, `env`, `id`,
    /// `pwd`, a `cp` or `zip` of the workspace). A stage with effects (it deploys, publishes,
    /// pushes...) is never merged with its neighbours, and jobs fanned out with `for` or
    /// `discover` are split on purpose.
    ///
    /// ## Why is this bad?
    /// A split buys re-run granularity and a line on the dashboard; a job that finishes in
    /// seconds gains little from either, since re-running it with its neighbours costs seconds
    /// too. Each split costs a job setup (an agent, a fresh workspace, a checkout) and each
    /// stage boundary a transition, on every run.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage fmt {
    ///     job fmt { timeout = 5m estimate = 10s run "cargo fmt --check" }
    ///   }
    ///   stage lint {
    ///     job clippy { timeout = 5m estimate = 20s run "cargo clippy" }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline build {
    ///   stage fmt {
    ///     job fmt {
    ///       timeout = 10m
    ///       estimate = 30s
    ///       run "cargo fmt --check"
    ///       run "cargo clippy"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Fix
    /// An unsafe fix moves the later jobs' tasks into the first job (summing `timeout` and
    /// `estimate`) and removes the emptied stages or jobs, when they are plain jobs with
    /// compatible fields and nothing fetches from them.
    code: "L0004",
    name: "split-not-worth-it",
    category: Cost,
    severity: Warning,
    fix: Unsafe,
    summary: "stages or jobs whose work is shorter than what splitting it costs",
    check: Some(check),
    scope: Pipelines,
}

fn check(ctx: &Context, sink: &mut Sink) {
    for p in ctx.pipelines {
        stages(ctx, p, sink);
        for s in &p.stages {
            jobs(ctx, p, s, sink);
        }
    }
}

/// The work of a one-job stage that is not fanned out: its known duration, or nothing at all
/// when its every task is trivial (it prints or copies the workspace) and no duration is known.
#[derive(Clone, Copy)]
enum Work {
    Known(u64),
    Trivial,
}

impl Work {
    fn secs(self) -> u64 {
        match self {
            Work::Known(s) => s,
            Work::Trivial => 0,
        }
    }
}

fn single(ctx: &Context, p: &Pipeline, s: &Stage) -> Option<Work> {
    let job = match &s.jobs[..] {
        [job] if job.discover.is_none() && job.instance_of.is_none() => job,
        _ => return None,
    };
    match ctx.costs.job(p, s, job) {
        Some(d) => Some(Work::Known(d.secs)),
        None => ctx.facts.job(job).flags.trivial.then_some(Work::Trivial),
    }
}

/// Runs of consecutive one-job stages with little work. A stage with effects is never part of
/// one: merged, it would run before the work before it passed, or lose its own re-run.
fn stages(ctx: &Context, p: &Pipeline, sink: &mut Sink) {
    let limit = ctx.costs.model.not_worth_splitting_secs;
    let mut i = 0;
    while i < p.stages.len() {
        let Some(first) = single(ctx, p, &p.stages[i]) else {
            i += 1;
            continue;
        };
        let mut works = vec![first];
        let mut total = first.secs();
        let mut end = i + 1;
        while end < p.stages.len() && p.stages[end].approval == Approval::Success {
            match single(ctx, p, &p.stages[end]) {
                Some(w) if total + w.secs() < limit && !fetches_from(&p.stages[end].jobs[0], p, &p.stages[i..end]) => {
                    total += w.secs();
                    works.push(w);
                    end += 1;
                }
                _ => break,
            }
        }
        if end - i >= 2 {
            for (run, _) in effects::without_effects(ctx, &p.stages[i..end]) {
                let ws = &works[run.clone()];
                let trivial = ws.iter().any(|w| matches!(w, Work::Trivial));
                let stages = &p.stages[i + run.start..i + run.end];
                report_stages(ctx, p, stages, ws.iter().map(|w| w.secs()).sum(), trivial, sink);
            }
        }
        i = end.max(i + 1);
    }
}

fn fetches_from(job: &Job, p: &Pipeline, stages: &[Stage]) -> bool {
    job.tasks.iter().any(|t| match &t.action {
        Action::Fetch(f) => {
            f.pipeline.eq_ignore_ascii_case(&p.name) && stages.iter().any(|s| s.name.eq_ignore_ascii_case(&f.stage))
        }
        _ => false,
    })
}

fn report_stages(ctx: &Context, p: &Pipeline, run: &[Stage], work: u64, trivial: bool, sink: &mut Sink) {
    let model = ctx.costs.model;
    let k = run.len() as u64;
    let overhead = (k - 1) * (model.transition_secs + model.setup_secs);
    let names: Vec<&str> = run.iter().map(|s| s.name.as_str()).collect();
    let split = work + k * model.setup_secs + (k - 1) * model.transition_secs;
    let merged = work + model.setup_secs;
    let second = &run[1];
    let o = second.origin;
    let work_text = if trivial {
        "only print, report the environment or copy the workspace".to_string()
    } else {
        format!("do about {} of work in all", format_duration(work))
    };
    let label = match ctx.costs.stage(p, second) {
        Some(secs) => format!("a stage boundary for about {} of work", format_duration(secs)),
        None => "a stage boundary for a trivial task".to_string(),
    };
    let mut d = RULE
        .at(
            o.file,
            o.name,
            format!(
                "stages {} {work_text}, yet their {} and {} cost about {} a run",
                crate::words::quote_list(&names),
                crate::words::plural(k - 1, "transition"),
                crate::words::plural(k - 1, "extra job setup"),
                format_duration(overhead)
            ),
        )
        .with_label(label)
        .with_note(ctx.cost_note())
        .with_secondary(run[0].origin.file, run[0].origin.name, "the run of short stages starts here")
        .with_help(format!(
            "make them tasks of one job: the run would take about {} instead of {}",
            format_duration(merged),
            format_duration(split)
        ));
    let keep = &run[0].jobs[0];
    let others: Vec<&Job> = run[1..].iter().map(|s| &s.jobs[0]).collect();
    let removed: Vec<_> = run[1..].iter().map(|s| s.origin.span).collect();
    let no_downstream = run[1..].iter().all(|s| !ctx.facts.triggers(&p.name, &s.name));
    if run[1..].iter().all(|s| s.template.is_none() && s.origin.file == keep.origin.file) && no_downstream {
        if let Some(edits) = edit::merge_jobs(ctx, keep, &others, &removed) {
            d = d.with_fix(Fix {
                message: format!(
                    "move the tasks of {} into `{}` and remove {} {}",
                    crate::words::quote_list(others.iter().map(|j| j.name.as_str())),
                    keep.name,
                    if names.len() > 2 { "stages" } else { "stage" },
                    crate::words::quote_list(&names[1..])
                ),
                applicability: Applicability::Unsafe,
                edits,
            });
        }
    }
    sink.add_about(o.span, d);
}

/// Jobs of one stage whose setups cost more than running them in one job would add.
fn jobs(ctx: &Context, p: &Pipeline, s: &Stage, sink: &mut Sink) {
    let model = ctx.costs.model;
    // A job fanned out over agents (`for`, `discover`) is split on purpose: merging saves nothing.
    if s.jobs.len() < 2 || s.jobs.iter().any(|j| j.discover.is_some() || j.instance_of.is_some()) {
        return;
    }
    let Some(durations) = s.jobs.iter().map(|j| ctx.costs.job(p, s, j).map(|d| d.secs)).collect::<Option<Vec<u64>>>()
    else {
        return;
    };
    let work: u64 = durations.iter().sum();
    let longest = durations.iter().copied().max().unwrap_or(0);
    let n = s.jobs.len() as u64;
    let saved_agent_time = (n - 1) * model.setup_secs;
    let added_wall_time = work - longest;
    if work >= model.not_worth_splitting_secs || added_wall_time >= saved_agent_time {
        return;
    }
    let names: Vec<&str> = s.jobs.iter().map(|j| j.name.as_str()).collect();
    let o = s.jobs[1].origin;
    let mut d = RULE
        .at(
            o.file,
            o.name,
            format!(
                "jobs {} of stage `{}` do about {} of work in all, less than the {} of agent setup their split costs",
                crate::words::quote_list(&names),
                s.name,
                format_duration(work),
                format_duration(n * model.setup_secs)
            ),
        )
        .with_label("a job of its own for a few seconds of work")
        .with_note(ctx.cost_note())
        .with_help(format!(
            "make them tasks of one job: {} agent instead of {n}, {} less agent time, the stage about {} longer",
            1,
            format_duration(saved_agent_time),
            format_duration(added_wall_time)
        ));
    let others: Vec<&Job> = s.jobs[1..].iter().collect();
    let removed: Vec<_> = others.iter().map(|j| j.origin.span).collect();
    if let Some(edits) = edit::merge_jobs(ctx, &s.jobs[0], &others, &removed) {
        d = d.with_fix(Fix {
            message: format!("move the tasks of {} into `{}`", crate::words::quote_list(&names[1..]), names[0]),
            applicability: Applicability::Unsafe,
            edits,
        });
    }
    sink.add_about(o.span, d);
}
