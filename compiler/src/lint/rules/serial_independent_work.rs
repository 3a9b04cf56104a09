//! L0006 `serial-independent-work`.

use super::super::{Context, Sink};
use crate::model::{Job, Pipeline, Stage, When};
use crate::parser::format_duration;

declare_rule! {
    /// ## What it does
    /// Finds long jobs that run the same tool several times in a row on different inputs
    /// (`cargo test -p a`, `cargo test -p b`, `cargo test -p c`): independent runs that could
    /// be parallel jobs. Reported when the runs take at least 2 minutes together (setting
    /// `[lint.serial-independent-work] min-duration`) and there are at least 3 of them
    /// (`min-tasks`); durations come from `estimate` or `--history`.
    ///
    /// ## Why is this bad?
    /// Tasks of a job run one after another on one agent. Independent runs in one job take the
    /// sum of their times where parallel jobs would take the longest, and when one fails, the
    /// re-run repeats them all, since only whole jobs can be re-run.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage test {
    ///     job test {
    ///       timeout = 1h
    ///       run "cargo test -p api" { estimate = 3m }
    ///       run "cargo test -p core" { estimate = 4m }
    ///       run "cargo test -p cli" { estimate = 2m }
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline build {
    ///   stage test {
    ///     job test for package in ["api", "core", "cli"] {
    ///       timeout = 20m
    ///       run "cargo test -p #{package}"
    ///     }
    ///   }
    /// }
    /// ```
    code: "L0006",
    name: "serial-independent-work",
    category: Cost,
    severity: Warning,
    fix: None,
    summary: "long job running the same tool on different inputs in sequence",
    check: Some(check),
    scope: Pipelines,
}

fn check(ctx: &Context, sink: &mut Sink) {
    for (p, s, job) in super::jobs(ctx.pipelines) {
        if job.tasks.len() < ctx.config.serial_min_tasks {
            continue;
        }
        if let Some((start, end, hole)) = longest_run(ctx, job, ctx.config.serial_min_tasks) {
            report(ctx, p, s, job, start, &words(job, start..end), hole, sink);
        }
    }
}

/// The longest run of consecutive tasks that differ in one word: its start, its tasks' words
/// and the index of the word that differs.
fn longest_run(ctx: &Context, job: &Job, min: usize) -> Option<(usize, usize, usize)> {
    // The words of each task that runs one simple command of two words or more, when passed.
    let tasks: Vec<Option<&[u64]>> = ctx
        .facts
        .single_commands(job)
        .zip(&job.tasks)
        .map(|(words, t)| words.filter(|_| t.when == When::Passed))
        .collect();
    let mut best: Option<(usize, usize, usize)> = None;
    let mut i = 0;
    while i < tasks.len() {
        let Some(first) = &tasks[i] else {
            i += 1;
            continue;
        };
        let mut hole = None;
        let mut end = i + 1;
        while let Some(Some(next)) = tasks.get(end) {
            match differs_in_one(first, next) {
                Some(h) if hole.is_none() || hole == Some(h) => {
                    hole = Some(h);
                    end += 1;
                }
                _ => break,
            }
        }
        if let Some(h) = hole {
            let run = &tasks[i..end];
            let distinct =
                run.iter().flatten().map(|w| w[h]).collect::<std::collections::HashSet<_>>().len() == run.len();
            if h > 0
                && run.len() >= min
                && distinct
                && best.is_none_or(|(s, e, _)| e - s < run.len())
                // Right after the program, plain words are subcommands (`cargo build`, `make test`): steps, not inputs.
                && !(h == 1 && words(job, i..end).iter().all(|w| w[1].chars().all(|c| c.is_ascii_lowercase())))
            {
                best = Some((i, end, h));
            }
        }
        i = end.max(i + 1);
    }
    best
}

/// The words of the one simple command each task of `range` runs, read again: only a run worth
/// reporting needs them.
fn words(job: &Job, range: std::ops::Range<usize>) -> Vec<Vec<String>> {
    let read = |t: &crate::model::Task| {
        let cmds = super::task_commands(&t.action).unwrap_or_default();
        cmds.into_iter().next().map(|c| c.words.into_iter().map(String::from).collect()).unwrap_or_default()
    };
    job.tasks[range].iter().map(read).collect()
}

fn differs_in_one(a: &[u64], b: &[u64]) -> Option<usize> {
    if a.len() != b.len() {
        return None;
    }
    let diffs: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    (diffs.len() == 1).then(|| diffs[0])
}

#[allow(clippy::too_many_arguments)]
fn report(
    ctx: &Context,
    p: &Pipeline,
    s: &Stage,
    job: &Job,
    start: usize,
    run: &[Vec<String>],
    hole: usize,
    sink: &mut Sink,
) {
    let model = ctx.costs.model;
    let n = run.len();
    let tasks: Vec<Option<u64>> =
        (start..start + n).map(|i| ctx.costs.task(p, s, job, i, &job.tasks[i]).map(|d| d.secs)).collect();
    let job_secs = ctx.costs.job(p, s, job).map(|d| d.secs);
    let (total, longest) = match tasks.iter().copied().collect::<Option<Vec<u64>>>() {
        Some(t) => (t.iter().sum::<u64>(), t.iter().copied().max().unwrap_or(0)),
        None => match job_secs {
            Some(j) => (j, j / n as u64),
            None => return,
        },
    };
    if total < ctx.config.serial_min_secs {
        return;
    }
    let rest = job_secs.map_or(0, |j| j.saturating_sub(total));
    let parallel = rest + longest + model.setup_secs;
    let mut shown: Vec<&str> = run[0].iter().map(String::as_str).collect();
    shown[hole] = "…";
    let values: Vec<String> = run.iter().map(|w| format!("\"{}\"", w[hole])).collect();
    let mut template = shown.clone();
    template[hole] = "#{value}";
    let first = &job.tasks[start].origin;
    let last = &job.tasks[start + n - 1].origin;
    let o = job.origin;
    sink.add_about(
        o.span,
        RULE.at(
            o.file,
            o.name,
            format!(
                "job `{}` runs `{}` {n} times in sequence, about {} in all: as {n} parallel jobs it would take about {}",
                job.name,
                shown.join(" "),
                format_duration(total),
                format_duration(parallel)
            ),
        )
        .with_label(format!("{n} independent runs, one after another"))
        .with_secondary(first.file, first.span.to(last.span), "these differ only in one word")
        .with_note(format!(
            "each parallel job takes its longest run (about {}) plus a setup of about {}",
            format_duration(longest),
            format_duration(model.setup_secs)
        ))
        .with_note(ctx.cost_note())
        .with_help(format!(
            "fan it out: `job {} for value in [{}] {{ run \"{}\" }}`, and re-run only the part that failed",
            job.instance_of.as_ref().map_or(job.name.as_str(), |i| i.base.as_str()),
            values.join(", "),
            template.join(" ")
        )),
    );
}
