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
}

fn check(ctx: &Context, sink: &mut Sink) {
    for (p, s, job) in super::jobs(ctx.program) {
        if job.tasks.len() < ctx.config.serial_min_tasks {
            continue;
        }
        if let Some((start, words, hole)) = longest_run(job, ctx.config.serial_min_tasks) {
            report(ctx, p, s, job, start, &words, hole, sink);
        }
    }
}

/// The longest run of consecutive tasks that differ in one word: its start, its tasks' words
/// and the index of the word that differs.
fn longest_run(job: &Job, min: usize) -> Option<(usize, Vec<Vec<String>>, usize)> {
    // The words of each task that runs one simple command of two words or more, when passed.
    let single = |t: &crate::model::Task| {
        let mut cmds = super::task_commands(&t.action).filter(|c| c.len() == 1 && t.when == When::Passed)?;
        cmds.pop().map(|c| c.words).filter(|w| w.len() >= 2)
    };
    let tasks: Vec<Option<Vec<String>>> = job.tasks.iter().map(single).collect();
    let mut best: Option<(usize, Vec<Vec<String>>, usize)> = None;
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
            let run: Vec<Vec<String>> = tasks[i..end].iter().flatten().map(|w| w.to_vec()).collect();
            let distinct = run.iter().map(|w| &w[h]).collect::<std::collections::HashSet<_>>().len() == run.len();
            // Right after the program, plain words are subcommands (`cargo build`, `make test`): steps, not inputs.
            let subcommands = h == 1 && run.iter().all(|w| w[1].chars().all(|c| c.is_ascii_lowercase()));
            if h > 0
                && !subcommands
                && run.len() >= min
                && distinct
                && best.as_ref().is_none_or(|b| b.1.len() < run.len())
            {
                best = Some((i, run, h));
            }
        }
        i = end.max(i + 1);
    }
    best
}

fn differs_in_one(a: &[String], b: &[String]) -> Option<usize> {
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
    let mut shown = run[0].clone();
    shown[hole] = "…".into();
    let values: Vec<String> = run.iter().map(|w| format!("\"{}\"", w[hole])).collect();
    let mut template = run[0].clone();
    template[hole] = "#{value}".into();
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
