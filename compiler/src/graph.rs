//! The pipeline graph as a picture: pipelines, their stages in order, the `after` edges between
//! pipelines and the fetch edges between stages, in Graphviz dot or Mermaid.

use crate::model::{Action, Program};
use std::collections::BTreeSet;
use std::fmt::Write;

/// An edge from one stage to another: `(pipeline, stage)` pairs.
type Edge = ((String, String), (String, String));

struct Edges {
    /// Upstream stage to the downstream pipeline's first stage.
    after: Vec<Edge>,
    /// Producing stage to fetching stage.
    fetch: BTreeSet<Edge>,
}

fn edges(program: &Program) -> Edges {
    let mut after = Vec::new();
    let mut fetch = BTreeSet::new();
    for p in &program.pipelines {
        if let Some(first) = p.stages.first() {
            for up in &p.after {
                let upstream = program.pipeline(&up.pipeline);
                let stage = upstream.and_then(|u| u.stage(&up.stage));
                if let (Some(u), Some(s)) = (upstream, stage) {
                    after.push(((u.name.clone(), s.name.clone()), (p.name.clone(), first.name.clone())));
                }
            }
        }
        for s in &p.stages {
            for t in s.jobs.iter().flat_map(|j| &j.tasks) {
                if let Action::Fetch(f) = &t.action {
                    let from = if f.pipeline.is_empty() { p.name.clone() } else { f.pipeline.clone() };
                    fetch.insert(((from, f.stage.clone()), (p.name.clone(), s.name.clone())));
                }
            }
        }
    }
    Edges { after, fetch }
}

fn id(pipeline: &str, stage: &str) -> String {
    format!("{pipeline}__{stage}").replace('-', "_")
}

/// Graphviz dot: one cluster a pipeline.
pub fn dot(program: &Program) -> String {
    let mut out = String::from("digraph pipewright {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    for p in &program.pipelines {
        let _ = writeln!(out, "  subgraph \"cluster_{}\" {{\n    label=\"{}\";", p.name, p.name);
        for s in &p.stages {
            let manual = if s.approval == crate::model::Approval::Manual { "\\n(manual)" } else { "" };
            let _ = writeln!(
                out,
                "    {} [label=\"{}\\n{} job{}{}\"];",
                id(&p.name, &s.name),
                s.name,
                s.jobs.len(),
                plural(s.jobs.len()),
                manual
            );
        }
        for w in p.stages.windows(2) {
            let _ = writeln!(out, "    {} -> {};", id(&p.name, &w[0].name), id(&p.name, &w[1].name));
        }
        out.push_str("  }\n");
    }
    let edges = edges(program);
    for ((up, us), (down, ds)) in &edges.after {
        let _ = writeln!(out, "  {} -> {} [style=bold, label=\"after\"];", id(up, us), id(down, ds));
    }
    for ((up, us), (down, ds)) in &edges.fetch {
        let _ = writeln!(out, "  {} -> {} [style=dashed, label=\"fetch\"];", id(up, us), id(down, ds));
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart: one subgraph a pipeline.
pub fn mermaid(program: &Program) -> String {
    let mut out = String::from("flowchart LR\n");
    for p in &program.pipelines {
        let _ = writeln!(out, "  subgraph {}[\"pipeline {}\"]", id(&p.name, ""), p.name);
        for s in &p.stages {
            let manual = if s.approval == crate::model::Approval::Manual { " (manual)" } else { "" };
            let _ = writeln!(
                out,
                "    {}[\"{}<br/>{} job{}{}\"]",
                id(&p.name, &s.name),
                s.name,
                s.jobs.len(),
                plural(s.jobs.len()),
                manual
            );
        }
        for w in p.stages.windows(2) {
            let _ = writeln!(out, "    {} --> {}", id(&p.name, &w[0].name), id(&p.name, &w[1].name));
        }
        out.push_str("  end\n");
    }
    let edges = edges(program);
    for ((up, us), (down, ds)) in &edges.after {
        let _ = writeln!(out, "  {} ==>|after| {}", id(up, us), id(down, ds));
    }
    for ((up, us), (down, ds)) in &edges.fetch {
        let _ = writeln!(out, "  {} -.->|fetch| {}", id(up, us), id(down, ds));
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
