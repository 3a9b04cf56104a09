//! Writes the GoCD benchmark workload and its GitHub Actions twin (docs/BENCHMARKS.md):
//! `OUT/gocd/service-NNNN.gocd.yaml`, 1,000 pipelines of 6 stages × 4 jobs × 3 `exec` tasks,
//! one git material each, a dependency on the previous pipeline every 5th, a manual last stage;
//! and `OUT/github/.github/workflows/service-NNNN.yml`, the same as 1,000 workflows of 24 jobs
//! × 3 steps, each stage's jobs needing the previous stage's.
//!
//! `cargo build --release --workspace --example gen_gocd && target/release/examples/gen_gocd OUT [PIPELINES]`

use std::fmt::Write as _;
use std::path::Path;

const STAGES: [&str; 6] = ["build", "test", "package", "verify", "staging", "release"];
const JOBS: usize = 4;
const TASKS: usize = 3;

fn gocd(i: usize) -> String {
    let name = format!("service-{i:04}");
    let mut y = String::new();
    let _ = write!(
        y,
        "format_version: 10\npipelines:\n  {name}:\n    group: services\n    lock_behavior: unlockWhenFinished\n    materials:\n      src:\n        git: https://git.example.com/acme/{name}.git\n        branch: main\n"
    );
    if i % 5 == 4 {
        let _ = write!(y, "      upstream:\n        pipeline: service-{:04}\n        stage: release\n", i - 1);
    }
    y.push_str("    stages:\n");
    for (s, stage) in STAGES.iter().enumerate() {
        let _ = writeln!(y, "      - {stage}:");
        if s == STAGES.len() - 1 {
            y.push_str("          approval:\n            type: manual\n            allow_only_on_success: true\n");
        }
        y.push_str("          jobs:\n");
        for j in 1..=JOBS {
            let _ = write!(y, "            {stage}-{j}:\n              timeout: 30\n              resources: [linux]\n              tasks:\n");
            for t in 1..=TASKS {
                let _ = write!(
                    y,
                    "                - exec:\n                    command: make\n                    arguments: [{stage}-{j}-{t}]\n"
                );
            }
        }
    }
    y
}

fn github(i: usize) -> String {
    let name = format!("service-{i:04}");
    let mut y = format!("name: {name}\non:\n  push:\n    branches: [main]\n");
    if i % 5 == 4 {
        let _ = write!(y, "  workflow_run:\n    workflows: [service-{:04}]\n    types: [completed]\n", i - 1);
    }
    y.push_str("concurrency: ");
    y.push_str(&name);
    y.push_str("\njobs:\n");
    for (s, stage) in STAGES.iter().enumerate() {
        for j in 1..=JOBS {
            let _ = write!(y, "  {stage}-{j}:\n    runs-on: [self-hosted, linux]\n    timeout-minutes: 30\n");
            if s > 0 {
                let needs: Vec<String> = (1..=JOBS).map(|k| format!("{}-{k}", STAGES[s - 1])).collect();
                let _ = writeln!(y, "    needs: [{}]", needs.join(", "));
            }
            if s == STAGES.len() - 1 {
                y.push_str("    environment: production\n");
            }
            y.push_str("    steps:\n");
            for t in 1..=TASKS {
                let _ = writeln!(y, "      - run: make {stage}-{j}-{t}");
            }
        }
    }
    y
}

fn main() {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "/tmp/gocd-bench".into());
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    let gocd_dir = Path::new(&out).join("gocd");
    let github_dir = Path::new(&out).join("github/.github/workflows");
    for dir in [&gocd_dir, &github_dir] {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    let (mut gocd_lines, mut github_lines) = (0, 0);
    for i in 0..count {
        let (g, h) = (gocd(i), github(i));
        gocd_lines += g.lines().count();
        github_lines += h.lines().count();
        let write = |path: std::path::PathBuf, text: &str| {
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        };
        write(gocd_dir.join(format!("service-{i:04}.gocd.yaml")), &g);
        write(github_dir.join(format!("service-{i:04}.yml")), &h);
    }
    println!("{count} pipelines: {gocd_lines} lines of GoCD YAML, {github_lines} lines of GitHub workflows in {out}");
}
