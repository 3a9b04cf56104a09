//! L0005 `independent-stages-in-sequence`.

use super::super::edit;
use super::super::effects::{first_opaque, without_effects, StageKind};
use super::super::{Context, Sink};
use super::long_stage_chain::dependencies;
use crate::ast::{BlockKind, Member};
use crate::diagnostic::{Applicability, Edit, Fix};
use crate::model::{Approval, Pipeline, Stage};
use crate::parser::format_duration;

declare_rule! {
    /// ## What it does
    /// Finds consecutive stages with no data dependency between them (none fetches from or
    /// uses files of another) and no approval gate, which could be jobs of one stage.
    ///
    /// A stage boundary is also a gate: the next stage runs only if this one passed. So a
    /// stage with effects outside its workspace (it deploys, releases, publishes, pushes,
    /// uploads, applies, migrates or cleans up, by its names or its commands: `git push`,
    /// `docker push`, `kubectl`, `terraform apply`, `scp` to a host...) is never grouped with
    /// the stages around it: merged, it would run before the tests before it passed. When a
    /// stage runs a script the linter cannot read (`./tasks x`, `make target`), the finding
    /// asks whether it needs what the stages before it make, and offers no fix. Stages that all
    /// verify (`lint`, then `test`) are reported only when their durations are known (from
    /// `estimate` or `--history`): fast checks first is often deliberate, and only durations
    /// weigh the saving against the later failure.
    ///
    /// ## Why is this bad?
    /// Stages run one after another; jobs of a stage run in parallel. Independent work in
    /// separate stages waits for no reason, and pays a transition and a job setup at each
    /// boundary. This is information, not a warning: an order can be deliberate, such as fast
    /// checks first so that a broken commit fails in seconds.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage lint {
    ///     job clippy { timeout = 10m estimate = 2m run "cargo clippy" }
    ///   }
    ///   stage test {
    ///     job unit { timeout = 20m estimate = 8m run "cargo test" }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline build {
    ///   stage check {
    ///     job clippy { timeout = 10m estimate = 2m run "cargo clippy" }
    ///     job unit { timeout = 20m estimate = 8m run "cargo test" }
    ///   }
    /// }
    /// ```
    ///
    /// ## Fix
    /// An unsafe fix moves the later stages' jobs into the first stage and removes the emptied
    /// stages, when they set no field of their own, nothing refers to them and every script is
    /// readable. No fix merges a stage with effects.
    code: "L0005",
    name: "independent-stages-in-sequence",
    category: Cost,
    severity: Info,
    fix: Unsafe,
    summary: "consecutive stages that do not depend on each other",
    check: Some(check),
    scope: Pipelines,
}

fn check(ctx: &Context, sink: &mut Sink) {
    for p in ctx.pipelines {
        let deps = dependencies(ctx, p);
        let mut i = 0;
        while i < p.stages.len() {
            let mut end = i + 1;
            while end < p.stages.len()
                && p.stages[end].approval == Approval::Success
                && !deps[end].iter().any(|&d| d >= i)
                && !ctx.facts.triggers(&p.name, &p.stages[end - 1].name)
                && !ctx.facts.triggers(&p.name, &p.stages[end].name)
                && !uses_what_was_left(ctx, &p.stages[i..end], &p.stages[end])
            {
                end += 1;
            }
            if end - i >= 2 {
                for (run, kinds) in without_effects(ctx, &p.stages[i..end]) {
                    let group = &p.stages[i + run.start..i + run.end];
                    if weighable(ctx, p, group, &kinds) {
                        report(ctx, p, group, &kinds, sink);
                    }
                }
            }
            i = end;
        }
    }
}

/// Whether the saving can be weighed against the order: checks after checks (`lint`, then
/// `test`) are often ordered on purpose, fast ones first so that a broken commit fails in
/// seconds, and only their durations say whether running them together is worth it.
fn weighable(ctx: &Context, p: &Pipeline, group: &[Stage], kinds: &[StageKind]) -> bool {
    let all_check = kinds.iter().all(|k| k.verifies.is_some());
    !all_check || group.iter().all(|s| ctx.costs.stage(p, s).is_some())
}

/// Whether `later` fetches nothing while a stage before it builds or installs: it then most
/// likely works on what they left in the agent's workspace (`workspace-shared-by-luck` asks
/// for a fetch), and running it beside them would break it.
fn uses_what_was_left(ctx: &Context, before: &[Stage], later: &Stage) -> bool {
    let fetches = later.jobs.iter().flat_map(|j| &j.tasks).any(|t| matches!(t.action, crate::model::Action::Fetch(_)));
    !fetches && before.iter().any(|s| crate::lint::effects::prepares(ctx.facts, s))
}

fn report(ctx: &Context, p: &Pipeline, group: &[Stage], kinds: &[StageKind], sink: &mut Sink) {
    let model = ctx.costs.model;
    let k = group.len() as u64;
    let names: Vec<&str> = group.iter().map(|s| s.name.as_str()).collect();
    let mut saving = (k - 1) * (model.transition_secs + model.setup_secs);
    let durations: Option<Vec<u64>> = group.iter().map(|s| ctx.costs.stage(p, s)).collect();
    let detail = match &durations {
        Some(d) => {
            saving += d.iter().sum::<u64>() - d.iter().copied().max().unwrap_or(0);
            format!("about {} a run, waiting included", format_duration(saving))
        }
        None => format!("about {} of transitions and setups a run", format_duration(saving)),
    };
    // A script of a later stage may read what the stages before it made; one of the first
    // stage may make what the later ones read.
    let (opaque, question) = match (first_opaque(&kinds[1..]), first_opaque(&kinds[..1])) {
        (Some(script), _) => (Some(script), "if it needs nothing the stages before it make"),
        (None, Some(script)) => (Some(script), "if the stages after it need nothing it makes"),
        (None, None) => (None, ""),
    };
    let message = match opaque {
        None => format!(
            "stages {} use nothing each other makes and no approval separates them: as jobs of one stage they would run in parallel and save {detail}",
            crate::words::quote_list(&names)
        ),
        Some(script) => format!(
            "stages {} fetch nothing from each other and no approval separates them; {script} is a script the linter cannot read: {question}, as jobs of one stage they would run in parallel and save {detail}",
            crate::words::quote_list(&names)
        ),
    };
    let o = group[1].origin;
    let label = match opaque {
        None => format!("waits for `{}` but needs nothing from it", group[0].name),
        Some(_) => format!("waits for `{}`: does it need what it makes?", group[0].name),
    };
    let mut d = RULE
        .at(o.file, o.name, message)
        .with_label(label)
        .with_secondary(group[0].origin.file, group[0].origin.name, "no fetch links it to the stages after it")
        .with_note(ctx.cost_note());
    if let Some(gate) = kinds[..kinds.len() - 1].iter().position(|k| k.verifies.is_some()) {
        d = d.with_note(format!(
            "`{}` verifies ({}): merged, the stages merged with it run even when it fails; the stages after the merged one still wait for it",
            group[gate].name,
            kinds[gate].verifies.as_deref().unwrap_or("")
        ));
    }
    d = d.with_help(format!(
        "move their jobs into stage `{}`, unless the order is deliberate (fast checks first)",
        group[0].name
    ));
    if opaque.is_none() {
        if let Some(fix) = fix(ctx, group) {
            d = d.with_fix(fix);
        }
    }
    sink.add_about(o.span, d);
}

/// Moves the later stages' job blocks into the first stage.
fn fix(ctx: &Context, group: &[Stage]) -> Option<Fix> {
    let file = group[0].origin.file;
    let tree = ctx.ast(file)?;
    let source = ctx.workspace.file(file);
    if group.iter().any(|s| s.template.is_some() || s.origin.file != file) {
        return None;
    }
    let first = edit::find_block(tree, group[0].origin.span)?;
    let mut moved = Vec::new();
    let mut edits = Vec::new();
    for s in &group[1..] {
        let block = edit::find_block(tree, s.origin.span)?;
        for m in block.body.members() {
            match m {
                Member::Block(b) if b.kind == BlockKind::Job => {
                    moved.push(source.text.get(m.span().range())?.to_string())
                }
                _ => return None,
            }
        }
        edits.push(Edit { file, span: edit::entity_removal(source, s.origin.span), replacement: String::new() });
    }
    edits.push(edit::append_members(source, file, first, &moved)?);
    Some(Fix {
        message: format!(
            "move the jobs of {} into `{}`",
            crate::words::quote_list(group[1..].iter().map(|s| s.name.as_str())),
            group[0].name
        ),
        applicability: Applicability::Unsafe,
        edits,
    })
}
