//! L0003 `long-stage-chain`.

use super::super::shell;
use super::super::{Context, Sink};
use crate::model::{Action, Approval, Pipeline};
use crate::parser::format_duration;
use std::collections::BTreeSet;

declare_rule! {
    /// ## What it does
    /// Finds pipelines whose chain of stages is longer than the limit (6 by default, setting
    /// `[lint.long-stage-chain] max-stages`), says what the transitions cost, and where the
    /// chain can be cut: stages that nothing later depends on, and that depend only on an
    /// earlier stage, can move to a pipeline of their own that starts `after` that stage and
    /// runs them in parallel.
    ///
    /// ## Why is this bad?
    /// Stages run one after another, and each boundary costs a transition: the time between
    /// one stage passing and the next one's jobs starting (10 s or more on GoCD, where agents
    /// poll for work). Every stage also costs a job setup. A long chain adds that to every run,
    /// and the feedback from the last stage comes last. What a stage depends on is what it
    /// fetches: stages that only need an early stage's output need not wait for the others.
    ///
    /// ## Example
    /// ```pw
    /// material app { git = "https://git.example.com/acme/app.git" }
    ///
    /// pipeline build {
    ///   materials = [app]
    ///   stage compile { job linux { timeout = 20m run "make" artifact bin = "out/app" } }
    ///   stage lint    { job lint  { timeout = 5m fetch compile.linux.bin run "make lint" } }
    ///   stage docs    { job docs  { timeout = 5m fetch compile.linux.bin run "make docs" } }
    ///   stage audit   { job audit { timeout = 5m fetch compile.linux.bin run "make audit" } }
    ///   stage test    { job unit  { timeout = 5m fetch compile.linux.bin run "make test" } }
    ///   stage package { job deb   { timeout = 5m fetch compile.linux.bin run "make deb" artifact deb = "out/app.deb" } }
    ///   stage publish { job push  { timeout = 5m fetch package.deb.deb run "make publish" } }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// material app { git = "https://git.example.com/acme/app.git" }
    ///
    /// pipeline build {
    ///   materials = [app]
    ///   stage compile { job linux { timeout = 20m run "make" artifact bin = "out/app" } }
    ///   stage package {
    ///     job unit { timeout = 5m fetch compile.linux.bin run "make test" }
    ///     job deb  { timeout = 5m fetch compile.linux.bin run "make deb" artifact deb = "out/app.deb" }
    ///   }
    ///   stage publish { job push { timeout = 5m fetch package.deb.deb run "make publish" } }
    /// }
    ///
    /// pipeline checks {
    ///   after = [build.compile]
    ///   stage checks {
    ///     job lint  { timeout = 5m fetch build.compile.linux.bin run "make lint" }
    ///     job docs  { timeout = 5m fetch build.compile.linux.bin run "make docs" }
    ///     job audit { timeout = 5m fetch build.compile.linux.bin run "make audit" }
    ///   }
    /// }
    /// ```
    ///
    /// The checks nothing later needs run in a pipeline of their own, and the tests and the
    /// package, which both need only the binary, share a stage (`independent-stages-in-sequence`).
    ///
    /// A stage is a cut candidate only when no later stage fetches from it, no pipeline starts
    /// `after` it, it is not the last stage, and moving it would not skip a manual approval.
    /// When every stage is a deliberate gate, suppress the finding with the reason.
    code: "L0003",
    name: "long-stage-chain",
    category: Cost,
    severity: Warning,
    fix: None,
    summary: "pipeline with more stages in sequence than the limit",
    check: Some(check),
}

fn check(ctx: &Context, sink: &mut Sink) {
    let max = ctx.config.max_stages;
    let model = ctx.costs.model;
    for p in ctx.program.pipelines.iter().filter(|p| p.stages.len() > max) {
        let n = p.stages.len();
        let transitions = (n - 1) as u64;
        let cost = transitions * model.transition_secs;
        let run = ctx.costs.run(p);
        let mut message = format!(
            "pipeline `{}` runs {n} stages in sequence (the limit is {max}): their {} add about {} to every run",
            p.name,
            crate::words::plural(transitions, "transition"),
            format_duration(cost)
        );
        if let Some(run) = run {
            message.push_str(&format!(" of about {}", format_duration(run)));
        }
        let o = p.origin;
        let mut d = RULE.at(o.file, o.name, message).with_label(format!("{n} stages, one after another"));
        match cut(ctx, p) {
            Some((anchor, group)) => {
                let names: Vec<&str> = group.iter().map(|&i| p.stages[i].name.as_str()).collect();
                let after = n - group.len();
                let (depends, place) = match anchor {
                    Some(a) => (
                        format!("depend only on `{}`", p.stages[a].name),
                        format!("a separate pipeline after `{}.{}`", p.name, p.stages[a].name),
                    ),
                    None => (
                        "depend on no other stage".to_string(),
                        "a separate pipeline on the same materials".to_string(),
                    ),
                };
                let verb = if names.len() == 1 { "stage" } else { "stages" };
                let subject = if names.len() == 1 { depends.replace("depend ", "depends ") } else { depends };
                let saved = group.len() as u64 * model.transition_secs;
                d = d.with_help(format!(
                    "{verb} {} {subject}: {place} would run {} in parallel with the rest and shorten the chain from {n} to {after}, saving about {} of transitions a run",
                    crate::words::quote_list(&names),
                    if names.len() == 1 { "it" } else { "them" },
                    format_duration(saved)
                ));
                for &i in &group {
                    let s = &p.stages[i];
                    d = d.with_secondary(s.origin.file, s.origin.name, "nothing later depends on this stage");
                }
            }
            None => {
                d = d.with_note(
                    "each stage fetches from the one before it, so the chain cannot be cut by moving stages out",
                );
                d = d.with_help("merge stages whose jobs could run in parallel, or suppress this with the reason every gate is needed");
            }
        }
        sink.add_about(o.span, d);
    }
}

/// The stages each stage depends on: what its jobs fetch, and the paths they use that an
/// earlier stage's jobs make.
pub(crate) fn dependencies(ctx: &Context, p: &Pipeline) -> Vec<BTreeSet<usize>> {
    let made: Vec<Vec<&str>> = p
        .stages
        .iter()
        .map(|s| s.jobs.iter().flat_map(|j| ctx.facts.job(j).produced.iter().map(|x| x.path.as_str())).collect())
        .collect();
    p.stages
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let mut deps = BTreeSet::new();
            for job in &s.jobs {
                for t in &job.tasks {
                    if let Action::Fetch(f) = &t.action {
                        if f.pipeline.eq_ignore_ascii_case(&p.name) {
                            if let Some(i) = p.stages.iter().position(|x| x.name.eq_ignore_ascii_case(&f.stage)) {
                                deps.insert(i);
                            }
                        }
                    }
                }
                let mentions = &ctx.facts.job(job).mentions;
                for (i, paths) in made[..si].iter().enumerate() {
                    if paths.iter().any(|path| mentions.iter().any(|m| shell::refers_to(m, path))) {
                        deps.insert(i);
                    }
                }
            }
            deps.retain(|&i| i < si);
            deps
        })
        .collect()
}

/// The largest group of stages that can move to a pipeline of their own, and the stage it
/// would start after.
fn cut(ctx: &Context, p: &Pipeline) -> Option<(Option<usize>, Vec<usize>)> {
    let deps = dependencies(ctx, p);
    let n = p.stages.len();
    let mut groups: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
    let mut last_gate: Option<usize> = None;
    for j in 0..n {
        if p.stages[j].approval == Approval::Manual {
            last_gate = Some(j);
        }
        let needed_later = deps[j + 1..].iter().any(|d| d.contains(&j));
        if j == 0
            || j == n - 1
            || p.stages[j].approval == Approval::Manual
            || needed_later
            || ctx.facts.triggers(&p.name, &p.stages[j].name)
        {
            continue;
        }
        let anchor = deps[j].iter().copied().max().max(last_gate);
        match groups.iter_mut().find(|(a, _)| *a == anchor) {
            Some((_, g)) => g.push(j),
            None => groups.push((anchor, vec![j])),
        }
    }
    groups.into_iter().max_by_key(|(_, g)| g.len())
}
