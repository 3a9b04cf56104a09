//! The benchmark workspace as GitHub Actions workflows, for comparing `pw check` with actionlint
//! on the same work: one workflow a pipeline, one job a Pipewright job (named `stage-job`), each
//! stage's jobs `needs` the previous stage's, tasks as `run` steps, artifacts uploaded and fetched
//! with the artifact actions, the last stage behind an environment (GitHub's manual approval),
//! and upstream pipelines as `workflow_run` triggers.

use crate::common::{job_name, pipeline_name, stage_name, task_commands, upstreams, Shape};
use std::fmt::Write;

/// The workflows: (path below the repository, text), in a stable order.
pub(crate) fn generate(shape: &Shape) -> Vec<(String, String)> {
    (0..shape.files).map(|i| (format!(".github/workflows/{}.yml", pipeline_name(i)), workflow(i, shape))).collect()
}

fn workflow(i: usize, shape: &Shape) -> String {
    let name = pipeline_name(i);
    let mut out = String::with_capacity(12 * 1024);
    let _ = writeln!(out, "# {name}: build, test and release of service {i}.");
    let _ = writeln!(out, "name: {name}");
    let _ = writeln!(out, "on:\n  push:\n    branches: [main]");
    let ups = upstreams(i, shape);
    if !ups.is_empty() {
        let list: Vec<String> = ups.iter().map(|&(u, _)| pipeline_name(u)).collect();
        let _ = writeln!(out, "  workflow_run:\n    workflows: [{}]\n    types: [completed]", list.join(", "));
    }
    let _ = writeln!(out, "env:\n  SERVICE: {name}\n  REGISTRY_TOKEN: ${{{{ secrets.REGISTRY_TOKEN }}}}");
    let _ = writeln!(out, "jobs:");
    for s in 0..shape.stages {
        for j in 0..shape.jobs {
            job(&mut out, i, s, j, shape);
        }
    }
    out
}

fn job(out: &mut String, i: usize, s: usize, j: usize, shape: &Shape) {
    let id = |s: usize, j: usize| format!("{}-{}", stage_name(s), job_name(s, j));
    let _ = writeln!(out, "  {}:", id(s, j));
    let _ = writeln!(out, "    runs-on: ubuntu-24.04");
    let _ = writeln!(out, "    timeout-minutes: {}", 10 + 5 * ((i + s + j) % 6));
    if s > 0 {
        let needs: Vec<String> = (0..shape.jobs).map(|k| id(s - 1, k)).collect();
        let _ = writeln!(out, "    needs: [{}]", needs.join(", "));
    }
    if s + 1 == shape.stages && shape.stages > 1 {
        let _ = writeln!(out, "    environment: production");
    }
    let _ = writeln!(out, "    steps:");
    let _ = writeln!(out, "      - uses: actions/checkout@v5");
    let mut fetches = 0;
    if s > 0 {
        fetches = 1;
        let _ = writeln!(out, "      - uses: actions/download-artifact@v7");
        let _ = writeln!(out, "        with:\n          name: {}-out\n          path: in", id(s - 1, 0));
    } else if j == 0 {
        for &(u, us) in &upstreams(i, shape) {
            fetches += 1;
            let _ = writeln!(out, "      - uses: actions/download-artifact@v7");
            let _ = writeln!(
                out,
                "        with:\n          name: {}-{}-out\n          path: upstream/{u}\n          run-id: ${{{{ github.event.workflow_run.id }}}}\n          github-token: ${{{{ secrets.GITHUB_TOKEN }}}}",
                stage_name(us),
                job_name(us, 0)
            );
        }
    }
    for (k, (command, on_failure)) in
        task_commands(i, s, j, shape.tasks.saturating_sub(fetches)).into_iter().enumerate()
    {
        let _ = writeln!(out, "      - name: step {}", k + 1);
        if on_failure {
            let _ = writeln!(out, "        if: ${{{{ failure() }}}}");
        }
        let _ = writeln!(out, "        run: {command}");
    }
    if j == 0 {
        let _ = writeln!(out, "      - uses: actions/upload-artifact@v6");
        let _ = writeln!(
            out,
            "        with:\n          name: {}-out\n          path: target/{}/{}.tar.gz",
            id(s, j),
            stage_name(s),
            pipeline_name(i)
        );
    }
}
