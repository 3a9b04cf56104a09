//! The third pass: resolves the references the model keeps as written (materials, `after`,
//! fetches) and checks what they connect: cycles among pipelines, fetches that could not work.

use super::declare::Declared;
use crate::ast::BlockKind;
use crate::codes::Code::{E0301, E0401, E0402, E0403, E0404, E0405, E0406, E0407, E0408};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::model::{Action, Fetch, Pipeline, Program, Upstream};
use crate::source::{FileId, Span};
use crate::symbols::Symbols;
use crate::words::quote_list;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

pub(super) struct Resolver<'d, 'a> {
    pub declared: &'d Declared<'a>,
    pub paths: &'d super::Paths<'d>,
    pub diagnostics: Vec<Diagnostic>,
    /// Position in the program's pipelines by lower-case name.
    pub index: FxHashMap<String, usize>,
}

/// What resolving one pipeline's own references found: the declared spelling of each name.
struct Canonical {
    materials: Vec<Option<String>>,
    after: Vec<Option<(String, String)>>,
}

impl Resolver<'_, '_> {
    pub(super) fn resolve(&mut self, program: &mut Program) {
        self.index = program.pipelines.iter().enumerate().map(|(i, p)| (p.name.to_ascii_lowercase(), i)).collect();
        let mut symbols = std::mem::take(&mut program.symbols);
        let canonical: Vec<Canonical> = program
            .pipelines
            .iter()
            .map(|p| Canonical {
                materials: self.materials(p, program, &mut symbols),
                after: self.upstreams(p, &program.pipelines, &mut symbols),
            })
            .collect();
        for (p, names) in program.pipelines.iter_mut().zip(canonical) {
            canonicalise(p, names);
        }
        self.cycles(&program.pipelines);
        let ancestors = ancestors(&program.pipelines);
        let mut resolved = Vec::new();
        for (pi, p) in program.pipelines.iter().enumerate() {
            for (si, s) in p.stages.iter().enumerate() {
                for (ji, j) in s.jobs.iter().enumerate() {
                    for (ti, t) in j.tasks.iter().enumerate() {
                        if let Action::Fetch(f) = &t.action {
                            let at =
                                Site { pipeline: pi, stage: si, job: ji, file: t.origin.file, task: t.origin.span };
                            if let Some(fetch) = self.fetch(f, at, &program.pipelines, &ancestors, &mut symbols) {
                                resolved.push((pi, si, ji, ti, fetch));
                            }
                        }
                    }
                }
            }
        }
        for (pi, si, ji, ti, fetch) in resolved {
            let action = &program.pipelines[pi].stages[si].jobs[ji].tasks[ti].action;
            if !matches!(action, Action::Fetch(f) if **f == fetch) {
                let pipeline = Arc::make_mut(&mut program.pipelines[pi]);
                pipeline.stages[si].jobs[ji].tasks[ti].action = Action::Fetch(Box::new(fetch));
            }
        }
        program.symbols = symbols;
    }

    fn pipeline_index(&self, name: &str) -> Option<usize> {
        self.index.get(&name.to_ascii_lowercase()).copied()
    }

    fn materials(&mut self, p: &Pipeline, program: &Program, symbols: &mut Symbols) -> Vec<Option<String>> {
        let mut seen: Vec<(&str, Span, String)> = Vec::new();
        let mut canonical = Vec::new();
        for r in &p.materials {
            let position = self.declared.position(BlockKind::Material, &r.name);
            canonical.push(position.map(|i| program.materials[i].name.clone()));
            let Some(decl) = position.map(|i| &self.declared.materials[i]) else {
                let names: Vec<&str> = program.materials.iter().map(|m| m.name.as_str()).collect();
                self.diagnostics.push(unresolved(
                    "material",
                    &r.name,
                    r.file,
                    r.span,
                    &names,
                    "define it with `material NAME { git = \"...\" }`",
                ));
                continue;
            };
            symbols.refer(r.file, r.span, decl.symbol);
            if let Some((_, first, _)) = seen.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(&r.name)) {
                self.diagnostics.push(
                    Diagnostic::error(E0406, r.file, r.span, format!("material `{}` is listed twice", r.name))
                        .with_label("listed again here")
                        .with_secondary(r.file, *first, "first listed here")
                        .with_help("remove the repeat"),
                );
                continue;
            }
            let path = position.map_or(".".to_string(), |i| program.materials[i].path.clone());
            if let Some((other, other_span, _)) = seen.iter().find(|(_, _, q)| *q == path) {
                self.diagnostics.push(
                    Diagnostic::error(E0407, r.file, r.span, format!("materials `{other}` and `{}` are both checked out at `{path}`", r.name))
                        .with_label("checked out over the other")
                        .with_secondary(r.file, *other_span, "also checked out there")
                        .with_note("each material of a pipeline is checked out into the same workspace, so each needs its own folder")
                        .with_help(format!("give each material a distinct `path`, such as `path = \"{}\"`", r.name)),
                );
            }
            seen.push((&r.name, r.span, path));
        }
        canonical
    }

    fn upstreams(
        &mut self,
        p: &Pipeline,
        all: &[Arc<Pipeline>],
        symbols: &mut Symbols,
    ) -> Vec<Option<(String, String)>> {
        let mut seen: Vec<(&str, Span)> = Vec::new();
        let mut canonical = Vec::new();
        for up in &p.after {
            canonical.push(self.pipeline_index(&up.pipeline).and_then(|i| {
                let stage = all[i].stage(&up.stage)?;
                Some((all[i].name.clone(), stage.name.clone()))
            }));
            let segments = self.paths.get(&(up.file, up.span.start));
            let (p_span, s_span) = match segments.copied() {
                Some([a, b]) => (a.span, b.span),
                _ => (up.span, up.span),
            };
            let Some(target) = self.pipeline_index(&up.pipeline).map(|i| &all[i]) else {
                let names: Vec<&str> = all.iter().map(|q| q.name.as_str()).collect();
                self.diagnostics.push(unresolved(
                    "pipeline",
                    &up.pipeline,
                    up.file,
                    p_span,
                    &names,
                    "`after` names an upstream pipeline and one of its stages",
                ));
                continue;
            };
            self.refer(symbols, up.file, p_span, target.origin.file, target.origin.name);
            match target.stage(&up.stage) {
                Some(stage) => self.refer(symbols, up.file, s_span, stage.origin.file, stage.origin.name),
                None => {
                    let names: Vec<&str> = target.stages.iter().map(|s| s.name.as_str()).collect();
                    self.diagnostics.push(unresolved(
                        &format!("stage named `{}` in pipeline `{}`", up.stage, target.name),
                        "",
                        up.file,
                        s_span,
                        &names,
                        "name one of its stages",
                    ));
                }
            }
            if let Some((_, first)) = seen.iter().find(|(n, _)| n.eq_ignore_ascii_case(&up.pipeline)) {
                self.diagnostics.push(
                    Diagnostic::error(
                        E0406,
                        up.file,
                        up.span,
                        format!("upstream pipeline `{}` is named twice", target.name),
                    )
                    .with_label("named again here")
                    .with_secondary(up.file, *first, "first named here")
                    .with_note("a pipeline is triggered by one stage of each upstream")
                    .with_help("keep one `after` entry for this pipeline"),
                );
            }
            seen.push((&up.pipeline, up.span));
        }
        canonical
    }

    fn refer(&self, symbols: &mut Symbols, file: FileId, span: Span, def_file: FileId, def_name: Span) {
        if let Some(id) = self.declared.symbol_at(def_file, def_name) {
            symbols.refer(file, span, id);
        }
    }

    /// Reports each cycle of `after` edges once, with the whole cycle.
    fn cycles(&mut self, pipelines: &[Arc<Pipeline>]) {
        let (graph, _) = after_graph(pipelines);
        for component in tarjan_scc(&graph) {
            let first = component[0];
            let is_cycle = component.len() > 1 || graph.contains_edge(first, first);
            if !is_cycle {
                continue;
            }
            let members: FxHashSet<usize> = component.iter().map(|n| graph[*n]).collect();
            let start = *members.iter().min().unwrap_or(&graph[first]);
            let order = cycle_order(pipelines, &members, start);
            let downstream = std::iter::once(order[0]).chain(order[1..].iter().rev().copied());
            let names: Vec<String> = downstream.map(|i| format!("`{}`", pipelines[i].name)).collect();
            let edge = |from: usize, to: usize| {
                pipelines[from].after.iter().find(|u| u.pipeline.eq_ignore_ascii_case(&pipelines[to].name))
            };
            let Some(first_edge) = edge(order[0], order[(1) % order.len()]) else { continue };
            let mut d = Diagnostic::error(
                E0405,
                first_edge.file,
                first_edge.span,
                format!("pipelines trigger each other in a cycle: {} → {}", names.join(" → "), names[0]),
            )
            .with_label(format!("`{}` runs after `{}`", pipelines[order[0]].name, first_edge.pipeline));
            for w in 1..order.len() {
                if let Some(e) = edge(order[w], order[(w + 1) % order.len()]) {
                    d = d.with_secondary(
                        e.file,
                        e.span,
                        format!("`{}` runs after `{}`", pipelines[order[w]].name, e.pipeline),
                    );
                }
            }
            self.diagnostics.push(
                d.with_note(
                    "each pipeline would wait for another in the cycle, so none of them could ever be triggered",
                )
                .with_help("remove one of these `after` entries"),
            );
        }
    }

    fn fetch(
        &mut self,
        f: &Fetch,
        at: Site,
        pipelines: &[Arc<Pipeline>],
        ancestors: &[FxHashSet<usize>],
        symbols: &mut Symbols,
    ) -> Option<Fetch> {
        let segments = *self.paths.get(&(at.file, at.task.start))?;
        let spans: Vec<Span> = segments.iter().map(|i| i.span).collect();
        let whole = spans[0].to(*spans.last()?);
        let explicit = segments.len() == 4;
        let [s_span, j_span, a_span] = [spans[spans.len() - 3], spans[spans.len() - 2], spans[spans.len() - 1]];
        let here = &pipelines[at.pipeline];
        let target_index = if explicit {
            let Some(i) = self.pipeline_index(&f.pipeline) else {
                let names: Vec<&str> = pipelines.iter().map(|q| q.name.as_str()).collect();
                self.diagnostics.push(unresolved(
                    "pipeline",
                    &f.pipeline,
                    at.file,
                    spans[0],
                    &names,
                    "fetch from an upstream pipeline named in `after`",
                ));
                return None;
            };
            i
        } else {
            at.pipeline
        };
        let target = &pipelines[target_index];
        if explicit {
            self.refer(symbols, at.file, spans[0], target.origin.file, target.origin.name);
        }
        let Some((stage_index, stage)) =
            target.stages.iter().enumerate().find(|(_, s)| s.name.eq_ignore_ascii_case(&f.stage))
        else {
            let names: Vec<&str> = target.stages.iter().map(|s| s.name.as_str()).collect();
            self.diagnostics.push(unresolved(
                &format!("stage named `{}` in pipeline `{}`", f.stage, target.name),
                "",
                at.file,
                s_span,
                &names,
                "name a stage that runs before this one",
            ));
            return None;
        };
        self.refer(symbols, at.file, s_span, stage.origin.file, stage.origin.name);
        let Some(job) = stage.job(&f.job) else {
            let base: Vec<&str> = stage
                .jobs
                .iter()
                .filter_map(|j| j.instance_of.as_ref())
                .filter(|i| i.base.eq_ignore_ascii_case(&f.job))
                .map(|_| f.job.as_str())
                .collect();
            if !base.is_empty() {
                self.diagnostics.push(fanned_out(f, stage, at.file, j_span));
                return None;
            }
            let names: Vec<&str> = stage.jobs.iter().map(|j| j.name.as_str()).collect();
            self.diagnostics.push(unresolved(
                &format!("job named `{}` in stage `{}`", f.job, stage.name),
                "",
                at.file,
                j_span,
                &names,
                "name the job that publishes the artifact",
            ));
            return None;
        };
        self.refer(symbols, at.file, j_span, job.origin.file, job.origin.name);
        if job.discover.is_some() {
            self.diagnostics.push(fanned_out(f, stage, at.file, j_span));
            return None;
        }
        let Some(artifact) = job.artifacts.iter().find(|a| a.name.eq_ignore_ascii_case(&f.artifact)) else {
            let names: Vec<&str> = job.artifacts.iter().map(|a| a.name.as_str()).collect();
            let mut d = Diagnostic::error(
                E0403,
                at.file,
                a_span,
                format!("job `{}` publishes no artifact `{}`", job.name, f.artifact),
            )
            .with_label("not published by that job")
            .with_secondary(
                job.origin.file,
                job.origin.name,
                format!("job `{}` is defined here", job.name),
            );
            d = match did_you_mean(&f.artifact, names.iter().copied()) {
                Some(s) => d.with_suggestion(s),
                None if names.is_empty() => {
                    d.with_help(format!("declare it in job `{}`: `artifact {} = \"path\"`", job.name, f.artifact))
                }
                None => d.with_note(format!("it publishes {}", quote_list(&names))),
            };
            self.diagnostics.push(d);
            return None;
        };
        self.refer(symbols, at.file, a_span, artifact.origin.file, artifact.origin.name);
        let resolved = Fetch {
            pipeline: target.name.clone(),
            stage: stage.name.clone(),
            job: job.name.clone(),
            artifact: artifact.name.clone(),
            into: f.into.clone(),
        };
        if target_index == at.pipeline {
            self.local_order(here, stage_index, at, whole, (job, artifact))?;
        } else {
            let graph = Graph { pipelines, ancestors: &ancestors[at.pipeline] };
            self.upstream_order(here, target_index, stage_index, at, whole, graph)?;
        }
        Some(resolved)
    }

    /// A fetch within a pipeline must come from an earlier stage, and not from the job itself.
    fn local_order(
        &mut self,
        here: &Pipeline,
        from: usize,
        at: Site,
        whole: Span,
        (job, artifact): (&crate::model::Job, &crate::model::ArtifactDecl),
    ) -> Option<()> {
        let stage = &here.stages[at.stage];
        if from == at.stage && stage.jobs[at.job].name.eq_ignore_ascii_case(&job.name) {
            self.diagnostics.push(
                Diagnostic::error(
                    E0401,
                    at.file,
                    whole,
                    format!("job `{}` fetches its own artifact `{}`", job.name, artifact.name),
                )
                .with_label("fetched from the job that runs this fetch")
                .with_secondary(
                    artifact.origin.file,
                    artifact.origin.name,
                    format!("published by this same job, from `{}`", artifact.path),
                )
                .with_note("a job publishes its artifacts when its tasks are done; while it runs, the file is already in its workspace")
                .with_help(format!("use the path `{}` directly, and remove this `fetch`", artifact.path)),
            );
            return None;
        }
        if from == at.stage {
            self.diagnostics.push(
                Diagnostic::error(E0401, at.file, whole, format!("this fetches from job `{}` of the same stage `{}`", job.name, stage.name))
                    .with_label("fetched from a job that runs at the same time")
                    .with_secondary(job.origin.file, job.origin.name, "this job runs in parallel, on another agent")
                    .with_note("the jobs of a stage run in parallel on different agents with different workspaces: the artifact does not exist yet when this job starts, so this is sequential work split across jobs")
                    .with_help(format!("make the two jobs tasks of one job, in order, or move this job to a new stage after `{}`", stage.name)),
            );
            return None;
        }
        if from > at.stage {
            let later = &here.stages[from];
            self.diagnostics.push(
                Diagnostic::error(
                    E0402,
                    at.file,
                    whole,
                    format!("stage `{}` runs after stage `{}`", later.name, stage.name),
                )
                .with_label("fetched from a later stage")
                .with_secondary(later.origin.file, later.origin.name, "this stage runs later")
                .with_note("stages run in order, so the artifact is made after this job has run")
                .with_help(format!(
                    "move this job to a stage after `{}`, or the producing job to a stage before `{}`",
                    later.name, stage.name
                )),
            );
            return None;
        }
        Some(())
    }

    /// A fetch from another pipeline must come from an upstream, from a stage that has passed:
    /// at most the stage that triggers the next pipeline along the `after` chain.
    fn upstream_order(
        &mut self,
        here: &Pipeline,
        target_index: usize,
        from: usize,
        at: Site,
        whole: Span,
        graph: Graph,
    ) -> Option<()> {
        let target = &graph.pipelines[target_index];
        if !graph.ancestors.contains(&target_index) {
            self.diagnostics.push(
                Diagnostic::error(E0404, at.file, whole, format!("pipeline `{}` is not upstream of `{}`", target.name, here.name))
                    .with_label("fetched from a pipeline this one does not run after")
                    .with_note("an artifact comes from the upstream instance that triggered this one, and a pipeline that does not run after it has none")
                    .with_help(format!("add `after = [{}.{}]` to pipeline `{}`", target.name, target.stages[from].name, here.name)),
            );
            return None;
        }
        // Each pipeline on the way that runs right after the target: the target instance it was
        // triggered by has passed its trigger stage, and no more is certain. The runtime may
        // follow any of these ways, so the earliest trigger is the limit.
        let (via, up, trigger) = graph.trigger_edges(at.pipeline, target)?;
        if from <= trigger {
            return Some(());
        }
        let (later, trigger_name) = (&target.stages[from].name, &target.stages[trigger].name);
        let via_pipeline = &graph.pipelines[via];
        let mut d = if via == at.pipeline {
            Diagnostic::error(
                E0402,
                at.file,
                whole,
                format!(
                    "stage `{later}` of `{}` runs after `{trigger_name}`, the stage that triggers this pipeline",
                    target.name
                ),
            )
            .with_secondary(up.file, up.span, "this pipeline starts when this stage passes")
        } else {
            let chain = graph.chain(at.pipeline, via);
            Diagnostic::error(
                E0402,
                at.file,
                whole,
                format!(
                    "stage `{later}` of `{}` runs after `{trigger_name}`, the stage that triggers `{}`, upstream of this pipeline",
                    target.name, via_pipeline.name
                ),
            )
            .with_secondary(up.file, up.span, format!("`{}` starts when this stage passes", via_pipeline.name))
            .with_note(format!(
                "{chain}, which runs after `{}.{trigger_name}`: the instance of `{}` fetched from has passed `{trigger_name}`, and its later stages may still be running",
                target.name, target.name
            ))
        };
        d = d.with_label("may not have run when this job starts").with_help(format!(
            "fetch from a stage up to `{trigger_name}`, or make `{}` run after `{}.{later}`",
            via_pipeline.name, target.name
        ));
        self.diagnostics.push(d);
        None
    }
}

/// The pipelines, and the upstreams of the fetching one.
#[derive(Clone, Copy)]
struct Graph<'p> {
    pipelines: &'p [Arc<Pipeline>],
    ancestors: &'p FxHashSet<usize>,
}

impl<'p> Graph<'p> {
    fn index(&self, name: &str) -> Option<usize> {
        self.pipelines.iter().position(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Among `here` and its upstreams, the pipeline that runs after `target` with the earliest
    /// trigger stage: that pipeline, its `after` entry, and the stage's index.
    fn trigger_edges(&self, here: usize, target: &Pipeline) -> Option<(usize, &'p Upstream, usize)> {
        let mut ways: Vec<usize> = self.ancestors.iter().copied().chain(std::iter::once(here)).collect();
        ways.sort_unstable();
        ways.into_iter()
            .filter_map(|via| {
                let up = self.pipelines[via].after.iter().find(|u| u.pipeline.eq_ignore_ascii_case(&target.name))?;
                let trigger = target.stages.iter().position(|s| s.name.eq_ignore_ascii_case(&up.stage))?;
                Some((via, up, trigger))
            })
            .min_by_key(|(via, _, trigger)| (*trigger, *via != here))
    }

    /// `` `deploy` runs after `mid`, which runs after `build.test` ``: the way from `here` up
    /// to `via`, and on to the trigger, in words.
    fn chain(&self, here: usize, via: usize) -> String {
        let mut previous: FxHashMap<usize, usize> = FxHashMap::default();
        let mut queue = std::collections::VecDeque::from([here]);
        while let Some(p) = queue.pop_front() {
            if p == via {
                break;
            }
            for up in &self.pipelines[p].after {
                if let Some(u) = self.index(&up.pipeline) {
                    if u != here && !previous.contains_key(&u) {
                        previous.insert(u, p);
                        queue.push_back(u);
                    }
                }
            }
        }
        let mut way = vec![via];
        while let Some(&next) = previous.get(way.last().unwrap_or(&here)) {
            way.push(next);
        }
        way.reverse();
        let names: Vec<String> = way.iter().map(|&i| format!("`{}`", self.pipelines[i].name)).collect();
        let mut text = format!("{} runs after {}", names[0], names.get(1).map_or("", String::as_str));
        for name in names.iter().skip(2) {
            text.push_str(&format!(", which runs after {name}"));
        }
        text
    }
}

#[derive(Clone, Copy)]
struct Site {
    pipeline: usize,
    stage: usize,
    job: usize,
    file: FileId,
    task: Span,
}

/// Writes the names a pipeline's materials and upstreams resolved to, as declared. A pipeline
/// whose names are already so is left as it is, shared with the check it was kept from.
fn canonicalise(p: &mut Arc<Pipeline>, names: Canonical) {
    let materials = p.materials.iter().zip(&names.materials).any(|(m, n)| n.as_ref().is_some_and(|n| *n != m.name));
    let after = p
        .after
        .iter()
        .zip(&names.after)
        .any(|(up, n)| n.as_ref().is_some_and(|(pipeline, stage)| *pipeline != up.pipeline || *stage != up.stage));
    if !materials && !after {
        return;
    }
    let p = Arc::make_mut(p);
    for (m, name) in p.materials.iter_mut().zip(names.materials) {
        if let Some(name) = name {
            m.name = name;
        }
    }
    for (up, name) in p.after.iter_mut().zip(names.after) {
        if let Some((pipeline, stage)) = name {
            (up.pipeline, up.stage) = (pipeline, stage);
        }
    }
}

fn fanned_out(f: &Fetch, stage: &crate::model::Stage, file: FileId, span: Span) -> Diagnostic {
    let instances: Vec<&str> = stage
        .jobs
        .iter()
        .filter(|j| j.instance_of.as_ref().is_some_and(|i| i.base.eq_ignore_ascii_case(&f.job)))
        .map(|j| j.name.as_str())
        .collect();
    let mut d = Diagnostic::error(E0408, file, span, format!("job `{}` is fanned out into several jobs", f.job))
        .with_label("which of its jobs?");
    d = match instances.first() {
        Some(first) => d
            .with_note(format!("it runs as {}", quote_list(&instances)))
            .with_help(format!("fetch from one of them, as in `{}.{first}.{}`", stage.name, f.artifact)),
        None => d
            .with_note("its jobs are made by `discover(...)` when the stage starts, so their names are not known")
            .with_help("publish the artifact from a job that is not fanned out"),
    };
    d
}

/// `no pipeline named `x``; with an empty `name`, `what` says it all.
fn unresolved(what: &str, name: &str, file: FileId, span: Span, candidates: &[&str], hint: &str) -> Diagnostic {
    let message = if name.is_empty() { format!("no {what}") } else { format!("no {what} named `{name}`") };
    let written = file_text_name(what, name);
    let mut d = Diagnostic::error(E0301, file, span, message).with_label("not found");
    d = match did_you_mean(written, candidates.iter().copied()) {
        Some(s) => d.with_suggestion(s),
        None if candidates.is_empty() => d.with_help(hint.to_string()),
        None => d.with_note(format!("the candidates are {}", quote_list(candidates))).with_help(hint.to_string()),
    };
    d
}

fn after_graph(pipelines: &[Arc<Pipeline>]) -> (DiGraph<usize, ()>, Vec<NodeIndex>) {
    let mut graph = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..pipelines.len()).map(|i| graph.add_node(i)).collect();
    let index: FxHashMap<String, usize> =
        pipelines.iter().enumerate().map(|(i, p)| (p.name.to_ascii_lowercase(), i)).collect();
    for (i, p) in pipelines.iter().enumerate() {
        for up in &p.after {
            if let Some(&u) = index.get(&up.pipeline.to_ascii_lowercase()) {
                graph.add_edge(nodes[u], nodes[i], ());
            }
        }
    }
    (graph, nodes)
}

/// The members of a cycle in order, following `after` edges from `start` back to it.
fn cycle_order(pipelines: &[Arc<Pipeline>], members: &FxHashSet<usize>, start: usize) -> Vec<usize> {
    let mut order = vec![start];
    let mut current = start;
    while order.len() < members.len() {
        let next = pipelines[current]
            .after
            .iter()
            .filter_map(|u| pipelines.iter().position(|q| q.name.eq_ignore_ascii_case(&u.pipeline)))
            .find(|n| members.contains(n) && !order.contains(n));
        match next {
            Some(n) => {
                order.push(n);
                current = n;
            }
            None => break,
        }
    }
    order
}

/// For each pipeline, every pipeline it runs after, directly or not.
fn ancestors(pipelines: &[Arc<Pipeline>]) -> Vec<FxHashSet<usize>> {
    let (graph, nodes) = after_graph(pipelines);
    nodes
        .iter()
        .map(|&n| {
            let mut seen = FxHashSet::default();
            let mut stack = vec![n];
            while let Some(x) = stack.pop() {
                for up in graph.neighbors_directed(x, petgraph::Direction::Incoming) {
                    if seen.insert(graph[up]) {
                        stack.push(up);
                    }
                }
            }
            seen
        })
        .collect()
}

/// The name as written: `name`, or the first back-quoted word of `what`.
fn file_text_name<'a>(what: &'a str, name: &'a str) -> &'a str {
    if !name.is_empty() {
        return name;
    }
    what.split('`').nth(1).unwrap_or_default()
}
