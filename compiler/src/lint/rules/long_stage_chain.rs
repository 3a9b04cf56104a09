//! L0003 `long-stage-chain`.

use super::super::effects::{first_opaque, StageKind};
use super::super::shell;
use super::super::{Context, Sink};
use crate::model::{Action, Approval, Pipeline};
use crate::parser::format_duration;
use std::collections::BTreeSet;

declare_rule! {
    /// ## What it does
    /// Finds pipelines whose chain of stages is longer than the limit (6 by default, setting
    /// `[lint.long-stage-chain] max-stages`), says what the transitions cost, and where the
    /// chain can be cut: stages that nothing later depends on, that depend only on an earlier
    /// stage, and that neither change the world nor gate a stage that does, can move to a
    /// pipeline of their own that starts `after` that stage and runs them in parallel.
    ///
    /// ## Why is this bad?
    /// Stages run one after another, and each boundary costs a transition: the time between
    /// one stage passing and the next one's jobs starting (10 s or more on GoCD, where agents
    /// poll for work). Every stage also costs a job setup. A long chain adds that to every run,
    /// and the feedback from the last stage comes last. The wait for a manual approval is a
    /// person's, and is not counted as a transition.
    ///
    /// ## Example
    /// ```pw
    /// material app { git = "https://git.example.com/acme/app.git" }
    ///
    /// pipeline build {
    ///   materials = [app]
    ///   stage compile { job linux { timeout = 20m run "cargo build --release" artifact bin = "target/release/app" } }
    ///   stage lint    { job lint  { timeout = 10m run "cargo clippy -- -D warnings" } }
    ///   stage test    { job unit  { timeout = 10m run "cargo test" } }
    ///   stage size    { job size  { timeout = 5m fetch compile.linux.bin run "du -h app" } }
    ///   stage sbom    { job sbom  { timeout = 5m fetch compile.linux.bin run "syft app -o spdx-json" } }
    ///   stage package { job deb   { timeout = 5m fetch compile.linux.bin into "target/release" run "cargo deb --no-build" artifact deb = "target/debian/app.deb" } }
    ///   stage publish { job push  { timeout = 5m fetch package.deb.deb into "target/debian" run "scp target/debian/app.deb repo@apt.example.com:/incoming/" } }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// material app { git = "https://git.example.com/acme/app.git" }
    ///
    /// pipeline build {
    ///   materials = [app]
    ///   stage compile { job linux { timeout = 20m run "cargo build --release" artifact bin = "target/release/app" } }
    ///   stage check {
    ///     job lint { timeout = 10m run "cargo clippy -- -D warnings" }
    ///     job unit { timeout = 10m run "cargo test" }
    ///     job deb  { timeout = 5m fetch compile.linux.bin into "target/release" run "cargo deb --no-build" artifact deb = "target/debian/app.deb" }
    ///   }
    ///   stage publish { job push { timeout = 5m fetch check.deb.deb into "target/debian" run "scp target/debian/app.deb repo@apt.example.com:/incoming/" } }
    /// }
    ///
    /// pipeline reports {
    ///   after = [build.compile]
    ///   stage reports {
    ///     job size { timeout = 5m fetch build.compile.linux.bin run "du -h app" }
    ///     job sbom { timeout = 5m fetch build.compile.linux.bin run "syft app -o spdx-json" }
    ///   }
    /// }
    /// ```
    ///
    /// The reports nothing later needs run in a pipeline of their own. The lint and the tests
    /// stay in the chain: they gate the publish, which changes the world outside the workspace
    /// (see `pw explain L0005` for how effects are read); with the package, which needs only
    /// the binary, they share a stage (`independent-stages-in-sequence`).
    ///
    /// A stage is a cut candidate only when no later stage fetches from it or uses a file it
    /// makes, no pipeline starts `after` it, it is not the first or the last stage, moving it
    /// would not skip a manual approval, it has no effects (deploy, release, publish, push,
    /// upload, apply, migrate, cleanup...), and it does not verify (test, lint, scan...) before
    /// a stage that has. When a later stage runs a script the linter cannot read (`make x`,
    /// `./tasks y`), the advice says it assumes that script needs nothing from the stages it
    /// would move. When every stage is a deliberate gate, suppress the finding with the reason.
    code: "L0003",
    name: "long-stage-chain",
    category: Cost,
    severity: Warning,
    fix: None,
    summary: "pipeline with more stages in sequence than the limit",
    check: Some(check),
    scope: Pipelines,
}

fn check(ctx: &Context, sink: &mut Sink) {
    let max = ctx.config.max_stages;
    let model = ctx.costs.model;
    // A manual approval ends a chain: the stages after it wait for a person, not a transition.
    for p in ctx.pipelines.iter().filter(|p| longest_automatic_run(p) > max) {
        let n = p.stages.len();
        let manual: Vec<&str> =
            p.stages[1..].iter().filter(|s| s.approval == Approval::Manual).map(|s| s.name.as_str()).collect();
        let transitions = (n - 1 - manual.len()) as u64;
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
        let mut d = RULE
            .at(o.file, o.name, message)
            .with_label(format!("{n} stages, one after another"))
            .with_note(ctx.cost_note());
        if !manual.is_empty() {
            d = d.with_note(format!(
                "the wait for the manual approval of {} is a person's, not a transition, and is not counted",
                crate::words::quote_list(&manual)
            ));
        }
        let kinds: Vec<StageKind> = p.stages.iter().map(|s| ctx.stage_kind(s).clone()).collect();
        match cut(ctx, p, &kinds) {
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
                let one = names.len() == 1;
                let verb = if one { "stage" } else { "stages" };
                let subject = if one { depends.replace("depend ", "depends ") } else { depends };
                let saved = group.len() as u64 * model.transition_secs;
                let them = if one { "it" } else { "them" };
                let later = group.iter().copied().min().map_or(n, |i| i + 1);
                let condition = match first_opaque(&kinds[later..]) {
                    Some(script) => format!(
                        ", and no later stage fetches from {them}; {script} is a script the linter cannot read: if it needs nothing from {},",
                        crate::words::quote_list(&names)
                    ),
                    None => ":".to_string(),
                };
                d = d.with_help(format!(
                    "{verb} {} {subject}{condition} {place} would run {them} in parallel with the rest and shorten the chain from {n} to {after}, saving about {} of transitions a run",
                    crate::words::quote_list(&names),
                    format_duration(saved)
                ));
                for &i in &group {
                    let s = &p.stages[i];
                    d = d.with_secondary(s.origin.file, s.origin.name, "no later stage fetches from this stage");
                }
            }
            None => {
                d = d.with_note(
                    "no stage can move out: each one is needed by a later stage, changes something outside its workspace, verifies before a stage that does, or waits for an approval",
                );
                d = d.with_help("merge stages whose jobs could run in parallel, or suppress this with the reason every gate is needed");
            }
        }
        sink.add_about(o.span, d);
    }
}

/// The most stages that run one after another with no manual approval between them.
fn longest_automatic_run(p: &Pipeline) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for s in &p.stages {
        run = if s.approval == Approval::Manual { 1 } else { run + 1 };
        longest = longest.max(run);
    }
    longest
}

/// The stages each stage depends on: what its jobs fetch, the paths they use that an earlier
/// stage's jobs make, and the docker images they push or run that an earlier stage builds.
pub(crate) fn dependencies(ctx: &Context, p: &Pipeline) -> Vec<BTreeSet<usize>> {
    let made: Vec<Vec<&str>> = p
        .stages
        .iter()
        .map(|s| s.jobs.iter().flat_map(|j| ctx.facts.produced(j).iter().map(|x| x.path.as_str())).collect())
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
                    if !deps.contains(&i) && paths.iter().any(|path| mentions.iter().any(|m| shell::refers_to(m, path)))
                    {
                        deps.insert(i);
                    }
                }
            }
            for job in &s.jobs {
                for (image, _, _) in &super::workspace_shared_by_luck::job_images(ctx, job).used {
                    let built = |t: &crate::model::Stage| {
                        t.jobs.iter().any(|j| {
                            super::workspace_shared_by_luck::job_images(ctx, j).built.iter().any(|(b, _)| b == image)
                        })
                    };
                    deps.extend(p.stages[..si].iter().position(built));
                }
            }
            deps.retain(|&i| i < si);
            deps
        })
        .collect()
}

/// The largest group of stages that can move to a pipeline of their own, and the stage it
/// would start after. A stage with effects never moves (it would run before the stages before
/// it passed), nor does a stage that verifies before a stage with effects (the gate would go).
fn cut(ctx: &Context, p: &Pipeline, kinds: &[StageKind]) -> Option<(Option<usize>, Vec<usize>)> {
    let deps = dependencies(ctx, p);
    let n = p.stages.len();
    let mut groups: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
    let mut last_gate: Option<usize> = None;
    for j in 0..n {
        if p.stages[j].approval == Approval::Manual {
            last_gate = Some(j);
        }
        let needed_later = deps[j + 1..].iter().any(|d| d.contains(&j));
        let gates_an_effect = kinds[j].verifies.is_some() && kinds[j + 1..].iter().any(|k| k.effect.is_some());
        if j == 0
            || j == n - 1
            || p.stages[j].approval == Approval::Manual
            || needed_later
            || kinds[j].effect.is_some()
            || gates_an_effect
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
