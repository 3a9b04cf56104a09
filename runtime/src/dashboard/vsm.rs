//! The value stream map: the pipelines of the plan joined by `after` and by fetched artifacts,
//! laid out in columns by longest path with a few barycentre passes against crossings, drawn as
//! SVG on the server. For an instance, the upstream instances that caused it and the downstream
//! ones it caused are marked with their state.

use super::facts;
use super::layout::{self, badge, instance_url, pipeline_url, state_name};
use crate::scheduler::Scheduler;
use crate::state::Instance;
use maud::{html, Markup};
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use pw_compiler::runtime_api::plan::{Plan, TaskAction};
use std::collections::HashMap;

const NODE_W: f64 = 170.0;
const NODE_H: f64 = 46.0;
const GAP_X: f64 = 70.0;
const GAP_Y: f64 = 22.0;
/// Ordering passes (down, up, down, ...) to reduce crossings.
const PASSES: usize = 4;

/// How one pipeline reaches another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    After,
    Fetch,
}

/// The graph of the plan's pipelines (node weights: their names).
pub(crate) fn graph(plan: &Plan) -> DiGraph<String, Link> {
    let mut g = DiGraph::new();
    let mut ix: HashMap<String, NodeIndex> = HashMap::new();
    for p in &plan.pipelines {
        ix.insert(p.name.to_ascii_lowercase(), g.add_node(p.name.clone()));
    }
    for p in &plan.pipelines {
        let to = ix[&p.name.to_ascii_lowercase()];
        for u in &p.after {
            if let Some(&from) = ix.get(&u.pipeline.to_ascii_lowercase()) {
                if g.find_edge(from, to).is_none() {
                    g.add_edge(from, to, Link::After);
                }
            }
        }
        let fetched = p.stages.iter().flat_map(|s| &s.jobs).flat_map(|j| &j.tasks).filter_map(|t| match &t.action {
            TaskAction::Fetch { pipeline, .. } => Some(pipeline),
            _ => None,
        });
        for name in fetched {
            if let Some(&from) = ix.get(&name.to_ascii_lowercase()) {
                if from != to && g.find_edge(from, to).is_none() {
                    g.add_edge(from, to, Link::Fetch);
                }
            }
        }
    }
    g
}

/// Each node's column (longest path from a source) and row within its column.
pub(crate) fn layout(g: &DiGraph<String, Link>) -> HashMap<NodeIndex, (usize, usize)> {
    let order = toposort(g, None).unwrap_or_else(|_| g.node_indices().collect());
    let mut column: HashMap<NodeIndex, usize> = HashMap::new();
    for &n in &order {
        let c = g.neighbors_directed(n, Direction::Incoming).filter_map(|u| column.get(&u)).map(|c| c + 1).max();
        column.insert(n, c.unwrap_or(0));
    }
    let width = column.values().max().map_or(0, |m| m + 1);
    let mut columns: Vec<Vec<NodeIndex>> = vec![Vec::new(); width];
    for n in g.node_indices() {
        columns[column[&n]].push(n);
    }
    for pass in 0..PASSES {
        let down = pass % 2 == 0;
        let range: Vec<usize> = if down { (1..width).collect() } else { (0..width.saturating_sub(1)).rev().collect() };
        for c in range {
            let (dir, other) = if down { (Direction::Incoming, c - 1) } else { (Direction::Outgoing, c + 1) };
            let pos: HashMap<NodeIndex, usize> = columns[other].iter().enumerate().map(|(i, n)| (*n, i)).collect();
            let current: HashMap<NodeIndex, usize> = columns[c].iter().enumerate().map(|(i, n)| (*n, i)).collect();
            let centre = |n: &NodeIndex| -> f64 {
                let ps: Vec<usize> = g.neighbors_directed(*n, dir).filter_map(|m| pos.get(&m).copied()).collect();
                if ps.is_empty() {
                    current[n] as f64
                } else {
                    ps.iter().sum::<usize>() as f64 / ps.len() as f64
                }
            };
            columns[c].sort_by(|a, b| centre(a).total_cmp(&centre(b)).then(current[a].cmp(&current[b])));
        }
    }
    columns.iter().enumerate().flat_map(|(c, nodes)| nodes.iter().enumerate().map(move |(r, n)| (*n, (c, r)))).collect()
}

/// The instances linked to `inst` through the upstream references, walking up (`up`) or down.
fn related<'a>(s: &'a Scheduler, inst: &'a Instance, up: bool) -> Vec<&'a Instance> {
    let mut found: Vec<&Instance> = vec![inst];
    let mut i = 0;
    while i < found.len() && found.len() < 1000 {
        let cur = found[i];
        let next: Vec<&Instance> = if up {
            cur.upstreams.iter().filter_map(|u| s.instance(&u.pipeline, u.counter)).collect()
        } else {
            facts::downstream(s, cur)
        };
        for n in next {
            if !found.iter().any(|f| f.id == n.id) {
                found.push(n);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

pub(crate) fn render(s: &Scheduler, inst: Option<&Instance>, seq: u64) -> Markup {
    let g = graph(s.plan());
    let pos = layout(&g);
    let (ups, downs) = match inst {
        Some(i) => (related(s, i, true), related(s, i, false)),
        None => (Vec::new(), Vec::new()),
    };
    // The instance of each pipeline marked on the map.
    let mut marked: HashMap<String, &Instance> = HashMap::new();
    for i in ups.iter().chain(&downs).copied().chain(inst) {
        marked.entry(i.pipeline.to_ascii_lowercase()).or_insert(i);
    }
    let title = match inst {
        Some(i) => format!("Value stream of {}/{}", i.pipeline, i.counter),
        None => "Value stream map".to_string(),
    };
    let body = html! {
        h1 { (title) }
        @if let Some(i) = inst {
            p {
                "upstream: "
                @if ups.is_empty() { span.muted { "none" } }
                @for u in &ups { a href=(instance_url(&u.pipeline, u.counter)) { (u.pipeline) "/" (u.counter) } " " (badge(u.state.as_str(), u.state.as_str())) " " }
                br;
                "downstream: "
                @if downs.is_empty() { span.muted { "none yet" } }
                @for d in &downs { a.downstream href=(instance_url(&d.pipeline, d.counter)) { (d.pipeline) "/" (d.counter) } " " (badge(d.state.as_str(), d.state.as_str())) " " }
                br;
                a href=(instance_url(&i.pipeline, i.counter)) { "back to " (i.pipeline) "/" (i.counter) }
            }
        }
        @if g.node_count() == 0 { p.empty { "No pipelines." } }
        @else { div.scroll { (svg(&g, &pos, &marked, inst)) } }
        p.muted { "solid: runs after · dashed: fetches an artifact from" }
    };
    layout::page_with(&title, "*", seq, body)
}

fn svg(
    g: &DiGraph<String, Link>,
    pos: &HashMap<NodeIndex, (usize, usize)>,
    marked: &HashMap<String, &Instance>,
    chosen: Option<&Instance>,
) -> Markup {
    let xy = |n: NodeIndex| {
        let (c, r) = pos[&n];
        (12.0 + c as f64 * (NODE_W + GAP_X), 12.0 + r as f64 * (NODE_H + GAP_Y))
    };
    let cols = pos.values().map(|p| p.0).max().unwrap_or(0) + 1;
    let rows = pos.values().map(|p| p.1).max().unwrap_or(0) + 1;
    let w = 24.0 + cols as f64 * NODE_W + (cols - 1) as f64 * GAP_X;
    let h = 24.0 + rows as f64 * NODE_H + (rows - 1) as f64 * GAP_Y;
    html! {
        svg.vsm xmlns="http://www.w3.org/2000/svg" width=(w) height=(h) viewBox={ "0 0 " (w) " " (h) } role="img" {
            @for e in g.edge_indices() {
                @if let Some((a, b)) = g.edge_endpoints(e) {
                    @let ((x1, y1), (x2, y2)) = (xy(a), xy(b));
                    @let (sx, sy, tx, ty) = (x1 + NODE_W, y1 + NODE_H / 2.0, x2, y2 + NODE_H / 2.0);
                    @let mid = (sx + tx) / 2.0;
                    path class={ "edge" @if g[e] == Link::Fetch { " fetch" } }
                        d=(format!("M{sx:.1},{sy:.1} C{mid:.1},{sy:.1} {mid:.1},{ty:.1} {tx:.1},{ty:.1}")) {}
                }
            }
            @for n in g.node_indices() {
                @let (x, y) = xy(n);
                @let name = &g[n];
                @let inst = marked.get(&name.to_ascii_lowercase());
                @let state = inst.map(|i| i.state.as_str()).unwrap_or("none");
                @let href = inst.map_or_else(|| pipeline_url(name), |i| instance_url(&i.pipeline, i.counter));
                @let chosen_here = chosen.is_some_and(|c| c.pipeline.eq_ignore_ascii_case(name));
                a href=(href) {
                    g id={ "p-" (layout::seg(name)) } class={ "node st-" (state) @if chosen_here { " chosen" } } data-pipeline=(name) {
                        rect x=(x) y=(y) width=(NODE_W) height=(NODE_H) rx="6" {}
                        text x=(x + 10.0) y=(y + 19.0) { (truncate(name, 22)) }
                        @if let Some(i) = inst {
                            text.sub x=(x + 10.0) y=(y + 36.0) { (i.counter) " · " (state_name(i.state).replace('_', " ")) }
                        }
                    }
                }
            }
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pw_compiler::runtime_api::plan::{Job, Pipeline, Source, Stage, Task, Upstream, PLAN_VERSION};

    fn p(name: &str, after: &[&str]) -> Pipeline {
        let src = Source { file: "t.pw".into(), line: 1, column: 1 };
        let job = Job::new("j", vec![Task::new(TaskAction::Shell { script: "true".into() }, src.clone())], src.clone());
        let mut p = Pipeline::new(name, vec![Stage::new("s", vec![job], src.clone())], src);
        p.after = after.iter().map(|a| Upstream { pipeline: a.to_string(), stage: "s".into() }).collect();
        p
    }

    #[test]
    fn columns_follow_the_longest_path_and_ordering_removes_a_crossing() {
        // a -> c, b -> d, a -> e -> d: d is in column 2 (through e), not 1.
        let plan = Plan {
            plan_version: PLAN_VERSION,
            materials: Vec::new(),
            pipelines: vec![p("a", &[]), p("b", &[]), p("c", &["b"]), p("e", &["a"]), p("d", &["e"])],
        };
        let g = graph(&plan);
        let pos = layout(&g);
        let at = |name: &str| pos[&g.node_indices().find(|n| g[*n] == name).unwrap()];
        assert_eq!((at("a").0, at("b").0, at("e").0, at("c").0, at("d").0), (0, 0, 1, 1, 2));
        // e hangs off a (row 0) and c off b (row 1): in column 1, e comes first.
        assert!(at("e").1 < at("c").1, "e {:?} c {:?}", at("e"), at("c"));
    }
}
