//! The pipeline graph as a picture: pipelines, their stages in order, the `after` edges between
//! pipelines and the fetch edges between stages, in Graphviz dot or Mermaid.

use crate::model::{Action, Approval, Program};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

/// Graphviz dot: one cluster a pipeline.
pub fn dot(program: &Program) -> String {
    draw(program, &Dot)
}

/// Mermaid flowchart: one subgraph a pipeline.
pub fn mermaid(program: &Program) -> String {
    draw(program, &Mermaid)
}

/// What joins two stages.
#[derive(Clone, Copy)]
enum Link {
    /// The next stage of the same pipeline.
    Next,
    /// An upstream stage to the first stage of a pipeline that runs `after` it.
    After,
    /// A stage whose artifacts a later stage fetches.
    Fetch,
}

/// One output language: how it spells a pipeline, a stage and a link.
trait Dialect {
    fn header(&self) -> &'static str;
    fn footer(&self) -> &'static str;
    /// A node id for the stage, unique in the picture.
    fn id(&self, pipeline: (usize, &str), stage: (usize, &str)) -> String;
    fn open(&self, out: &mut String, index: usize, pipeline: &str);
    fn close(&self, out: &mut String);
    fn stage(&self, out: &mut String, id: &str, name: &str, jobs: usize, manual: bool);
    fn link(&self, out: &mut String, from: &str, to: &str, link: Link);
}

struct Dot;

impl Dialect for Dot {
    fn header(&self) -> &'static str {
        "digraph pipewright {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n"
    }
    fn footer(&self) -> &'static str {
        "}\n"
    }
    fn id(&self, (_, pipeline): (usize, &str), (_, stage): (usize, &str)) -> String {
        // Names never contain `/`, so the quoted pair is unique.
        format!("\"{pipeline}/{stage}\"")
    }
    fn open(&self, out: &mut String, _: usize, pipeline: &str) {
        let _ = writeln!(out, "  subgraph \"cluster_{pipeline}\" {{\n    label=\"{pipeline}\";");
    }
    fn close(&self, out: &mut String) {
        out.push_str("  }\n");
    }
    fn stage(&self, out: &mut String, id: &str, name: &str, jobs: usize, manual: bool) {
        let manual = if manual { "\\n(manual)" } else { "" };
        let _ = writeln!(out, "    {id} [label=\"{name}\\n{}{manual}\"];", job_count(jobs));
    }
    fn link(&self, out: &mut String, from: &str, to: &str, link: Link) {
        let _ = match link {
            Link::Next => writeln!(out, "    {from} -> {to};"),
            Link::After => writeln!(out, "  {from} -> {to} [style=bold, label=\"after\"];"),
            Link::Fetch => writeln!(out, "  {from} -> {to} [style=dashed, label=\"fetch\"];"),
        };
    }
}

struct Mermaid;

impl Dialect for Mermaid {
    fn header(&self) -> &'static str {
        "flowchart LR\n"
    }
    fn footer(&self) -> &'static str {
        ""
    }
    fn id(&self, (p, _): (usize, &str), (s, _): (usize, &str)) -> String {
        // Mermaid ids cannot be quoted, and names may hold `-`: number the nodes instead.
        format!("p{p}s{s}")
    }
    fn open(&self, out: &mut String, index: usize, pipeline: &str) {
        let _ = writeln!(out, "  subgraph p{index}[\"pipeline {pipeline}\"]");
    }
    fn close(&self, out: &mut String) {
        out.push_str("  end\n");
    }
    fn stage(&self, out: &mut String, id: &str, name: &str, jobs: usize, manual: bool) {
        let manual = if manual { " (manual)" } else { "" };
        let _ = writeln!(out, "    {id}[\"{name}<br/>{}{manual}\"]", job_count(jobs));
    }
    fn link(&self, out: &mut String, from: &str, to: &str, link: Link) {
        let _ = match link {
            Link::Next => writeln!(out, "    {from} --> {to}"),
            Link::After => writeln!(out, "  {from} ==>|after| {to}"),
            Link::Fetch => writeln!(out, "  {from} -.->|fetch| {to}"),
        };
    }
}

fn draw(program: &Program, dialect: &dyn Dialect) -> String {
    let mut out = String::from(dialect.header());
    let mut ids: HashMap<(&str, &str), String> = HashMap::new();
    for (pi, p) in program.pipelines.iter().enumerate() {
        dialect.open(&mut out, pi, &p.name);
        for (si, s) in p.stages.iter().enumerate() {
            let id = dialect.id((pi, &p.name), (si, &s.name));
            dialect.stage(&mut out, &id, &s.name, s.jobs.len(), s.approval == Approval::Manual);
            ids.insert((&p.name, &s.name), id);
        }
        for w in p.stages.windows(2) {
            if let (Some(a), Some(b)) = (ids.get(&(&*p.name, &*w[0].name)), ids.get(&(&*p.name, &*w[1].name))) {
                dialect.link(&mut out, a, b, Link::Next);
            }
        }
        dialect.close(&mut out);
    }
    for (link, (from, to)) in cross_links(program) {
        if let (Some(a), Some(b)) = (ids.get(&from), ids.get(&to)) {
            dialect.link(&mut out, a, b, link);
        }
    }
    out.push_str(dialect.footer());
    out
}

/// A stage, as `(pipeline, stage)`.
type StageRef<'p> = (&'p str, &'p str);

/// The links between pipelines: `after` edges in declaration order, then fetches, each once.
fn cross_links(program: &Program) -> Vec<(Link, (StageRef<'_>, StageRef<'_>))> {
    let mut after = Vec::new();
    let mut fetch = BTreeSet::new();
    for p in &program.pipelines {
        if let Some(first) = p.stages.first() {
            for up in &p.after {
                after.push((Link::After, ((&*up.pipeline, &*up.stage), (&*p.name, &*first.name))));
            }
        }
        for s in &p.stages {
            for t in s.jobs.iter().flat_map(|j| &j.tasks) {
                if let Action::Fetch(f) = &t.action {
                    let from = if f.pipeline.is_empty() { &p.name } else { &f.pipeline };
                    fetch.insert(((&**from, &*f.stage), (&*p.name, &*s.name)));
                }
            }
        }
    }
    after.extend(fetch.into_iter().map(|edge| (Link::Fetch, edge)));
    after
}

fn job_count(n: usize) -> String {
    if n == 1 {
        "1 job".to_string()
    } else {
        format!("{n} jobs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(src: &str) -> Program {
        let mut workspace = crate::Workspace::new();
        workspace.add("test.pw", src);
        let analysis = crate::analyze(&workspace);
        assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
        analysis.program
    }

    const SIMILAR: &str = r#"
material src { git = "https://example.com/a.git" }
pipeline a-b {
  materials = [src]
  stage c { job j { run "true" } }
}
pipeline a_b {
  materials = [src]
  stage c { job j { run "true" } }
}
"#;

    #[test]
    fn names_that_differ_only_in_dash_or_underscore_stay_apart() {
        let p = program(SIMILAR);
        let dot = dot(&p);
        assert!(dot.contains("\"a-b/c\" [label=") && dot.contains("\"a_b/c\" [label="), "{dot}");
        let mermaid = mermaid(&p);
        assert!(mermaid.contains("p0s0[\"c<br/>1 job\"]") && mermaid.contains("p1s0[\"c<br/>1 job\"]"), "{mermaid}");
    }

    const TWO: &str = r#"
material src { git = "https://example.com/app.git" }
pipeline build {
  materials = [src]
  stage compile {
    job linux { run "make"  artifact bin = "out/app" }
    job mac { run "make" }
  }
  stage test { job unit { run "make test" } }
}
pipeline deploy {
  after = [build.test]
  stage ship {
    approval = manual
    job push { fetch build.compile.linux.bin into "bin"  run "./ship" }
  }
}
"#;

    #[test]
    fn both_dialects_draw_the_same_graph() {
        let p = program(TWO);
        insta::assert_snapshot!("dot", dot(&p));
        insta::assert_snapshot!("mermaid", mermaid(&p));
    }
}
