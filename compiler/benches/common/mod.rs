//! The benchmark workspace: a deterministic generator of valid Pipewright pipelines.
//!
//! This module is shared by the `compile` bench (`benches/compile.rs`) and the `gen_workspace`
//! example (`examples/gen_workspace.rs`, which writes the workspace to disk for timing the `pw`
//! process). Both include it by path rather than through the library, so that the generator is not
//! part of `pw_compiler`'s public API and adds nothing to the `pw` binary.
//!
//! The workspace has one pipeline a file. Each pipeline has the same shape (stages × jobs × tasks);
//! the first files also declare the materials; every few pipelines run `after` earlier ones and
//! fetch their artifacts; every later stage fetches from the one before it. The text has one
//! member a line, as `pw fmt` lays it out, without its blank line between jobs.

use std::fmt::Write;

/// How big a workspace to make.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub files: usize,
    pub stages: usize,
    pub jobs: usize,
    pub tasks: usize,
}

impl Shape {
    /// The workspace of the compiler's benchmark: 1,000 pipelines × 6 stages × 4 jobs × 3 tasks.
    pub(crate) const BENCH: Shape = Shape { files: 1000, stages: 6, jobs: 4, tasks: 3 };
}

/// How many materials the workspace declares; pipeline `i` uses material `i % MATERIALS`.
const MATERIALS: usize = 5;
/// Files per folder, so that loading walks a tree as it would in a real repository.
const FILES_PER_FOLDER: usize = 50;

const STAGES: [&str; 6] = ["compile", "test", "package", "integration", "staging", "release"];
const JOBS: [[&str; 4]; 6] = [
    ["linux-x86", "linux-arm", "macos", "windows"],
    ["unit", "property", "lint", "docs"],
    ["tarball", "deb", "rpm", "image"],
    ["api", "storage", "queue", "browser"],
    ["eu-west", "us-east", "ap-south", "sa-east"],
    ["notes", "registry", "mirror", "archive"],
];
const COMMANDS: [&str; 8] = [
    "cargo build --locked --release --package",
    "cargo nextest run --locked --profile ci --package",
    "./ci/package.sh --format tar.gz --component",
    "./ci/docker-build.sh --registry registry.example.com/acme --service",
    "./ci/integration.sh --database postgres:16 --service",
    "./ci/rollout-status.sh --context staging --timeout 10m --service",
    "./ci/publish.sh --channel stable --verify-signature --component",
    "./ci/check-schema.sh --strict --service",
];

pub(crate) fn stage_name(s: usize) -> String {
    STAGES.get(s).map_or_else(|| format!("stage-{}", s + 1), |n| n.to_string())
}

pub(crate) fn job_name(s: usize, j: usize) -> String {
    match JOBS.get(s).and_then(|jobs| jobs.get(j)) {
        Some(name) => name.to_string(),
        None => format!("job-{}", j + 1),
    }
}

pub(crate) fn pipeline_name(i: usize) -> String {
    format!("svc-{i:04}")
}

/// The upstream pipelines of pipeline `i`, with the stage of each that triggers it. Edges always
/// go to lower indices, so the graph has no cycle; about a third of the pipelines have one
/// upstream and an eighth have two.
pub(crate) fn upstreams(i: usize, shape: &Shape) -> Vec<(usize, usize)> {
    let last = shape.stages - 1;
    let mut ups = Vec::new();
    if i >= 9 && i % 3 == 1 {
        ups.push((i - 9, last));
    }
    if i >= 17 && i % 8 == 1 && shape.stages > 2 {
        ups.push((i - 17, 2));
    }
    ups
}

/// The files of the workspace: (path, text), in a stable order.
pub(crate) fn generate(shape: &Shape) -> Vec<(String, String)> {
    assert!(shape.stages >= 1 && shape.jobs >= 1 && shape.tasks >= 1, "every level needs at least one entity");
    (0..shape.files)
        .map(|i| {
            let path = format!("team-{:02}/{}.pw", i / FILES_PER_FOLDER, pipeline_name(i));
            (path, file(i, shape))
        })
        .collect()
}

/// The generated files in a compiler workspace.
pub(crate) fn workspace(files: &[(String, String)]) -> pw_compiler::Workspace {
    let mut ws = pw_compiler::Workspace::new();
    for (path, text) in files {
        ws.add(path.clone(), text.clone());
    }
    ws
}

/// Total lines and bytes of the generated files.
pub(crate) fn size(files: &[(String, String)]) -> (usize, usize) {
    files.iter().fold((0, 0), |(lines, bytes), (_, text)| (lines + text.lines().count(), bytes + text.len()))
}

fn file(i: usize, shape: &Shape) -> String {
    let name = pipeline_name(i);
    let mut out = String::with_capacity(8 * 1024);
    let _ = writeln!(out, "# {name}: build, test and release of service {i}.");
    if i < MATERIALS {
        let _ = writeln!(out, "\nmaterial repo-{i} {{");
        let _ = writeln!(out, "  git    = \"https://git.example.com/acme/repo-{i}.git\"");
        let _ = writeln!(out, "  branch = \"main\"");
        let _ = writeln!(out, "  poll   = {}m", 1 + i);
        let _ = writeln!(out, "}}");
    }
    let ups = upstreams(i, shape);
    let _ = writeln!(out, "\npipeline {name} {{");
    let _ = writeln!(out, "  materials = [repo-{}]", i % MATERIALS);
    if !ups.is_empty() {
        let list: Vec<String> = ups.iter().map(|&(u, s)| format!("{}.{}", pipeline_name(u), stage_name(s))).collect();
        let _ = writeln!(out, "  after     = [{}]", list.join(", "));
    }
    let _ = writeln!(out, "  env {{");
    let _ = writeln!(out, "    SERVICE        = \"{name}\"");
    let _ = writeln!(out, "    REGISTRY_TOKEN = secret(\"registry-token\")");
    let _ = writeln!(out, "  }}");
    for s in 0..shape.stages {
        let _ = writeln!(out, "\n  stage {} {{", stage_name(s));
        if s + 1 == shape.stages && shape.stages > 1 {
            let _ = writeln!(out, "    approval = manual");
        }
        for j in 0..shape.jobs {
            job(&mut out, i, s, j, shape, &ups);
        }
        let _ = writeln!(out, "  }}");
    }
    let _ = writeln!(out, "}}");
    out
}

fn job(out: &mut String, i: usize, s: usize, j: usize, shape: &Shape, ups: &[(usize, usize)]) {
    let name = pipeline_name(i);
    let _ = writeln!(out, "    job {} {{", job_name(s, j));
    let _ = writeln!(out, "      timeout = {}m", 10 + 5 * ((i + s + j) % 6));
    let mut tasks = Vec::with_capacity(shape.tasks);
    // The first job of every stage publishes `out`; every later stage fetches the previous one's,
    // and the first job of a downstream pipeline fetches from each of its upstreams.
    if s > 0 {
        tasks.push(format!("fetch {}.{}.out into \"in\"", stage_name(s - 1), job_name(s - 1, 0)));
    } else if j == 0 {
        for &(u, us) in ups {
            tasks.push(format!(
                "fetch {}.{}.{}.out into \"upstream/{}\"",
                pipeline_name(u),
                stage_name(us),
                job_name(us, 0),
                u
            ));
        }
    }
    for (command, on_failure) in task_commands(i, s, j, shape.tasks.saturating_sub(tasks.len())) {
        tasks.push(match on_failure {
            true => format!("run [{}] {{ when = failed }}", quoted_words(&command)),
            false => format!("run \"{command}\""),
        });
    }
    for task in tasks {
        let _ = writeln!(out, "      {task}");
    }
    if j == 0 {
        let _ = writeln!(out, "      artifact out = \"target/{}/{}.tar.gz\"", stage_name(s), name);
    }
    let _ = writeln!(out, "    }}");
}

/// The commands of a job's `count` tasks after its fetches, each with whether it runs only after
/// a failure.
pub(crate) fn task_commands(i: usize, s: usize, j: usize, count: usize) -> Vec<(String, bool)> {
    let name = pipeline_name(i);
    (0..count)
        .map(|k| match (k + j) % 5 {
            3 => (format!("./ci/report.sh --service {name} --step {}", k + 1), true),
            _ => {
                (format!("{} {name}-{}", COMMANDS[(i + 3 * s + 5 * j + 7 * k) % COMMANDS.len()], job_name(s, j)), false)
            }
        })
        .collect()
}

/// Words as a `.pw` list of strings: `"a", "b"`.
fn quoted_words(command: &str) -> String {
    command.split(' ').map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ")
}
