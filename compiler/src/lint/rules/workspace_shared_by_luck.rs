//! L0002 `workspace-shared-by-luck`.

use super::super::shell;
use super::super::{edit, phrase};
use super::super::{Context, Sink};
use super::Produced;
use crate::diagnostic::{Applicability, Diagnostic, Edit, Fix};
use crate::model::{Action, Job, Pipeline, Stage};
use crate::source::Span;

declare_rule! {
    /// ## What it does
    /// Finds jobs that use a path a job of an earlier stage makes without fetching it as an
    /// artifact: a file its scripts write or copy out of a container (`docker cp`), a folder
    /// a tool fills (`vendor/` from `go mod vendor`, `node_modules/` from `npm ci`, `dist/`
    /// from `python -m build`, `build/` from `gradle build`) and used by name or by a command
    /// that reads it (`npm test` runs the tools in `node_modules`), and docker images that an
    /// earlier stage builds (`docker build -t X`) and a later one pushes or runs.
    ///
    /// ## Why is this bad?
    /// Every job starts in a fresh workspace with a checkout of its materials, possibly on
    /// another agent. A file an earlier job made is there only when both jobs happen to run on
    /// the same agent and the workspace was not cleaned: it works on a quiet day and fails when
    /// the farm is busy. Publish it as an `artifact` and `fetch` it.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage compile {
    ///     job linux {
    ///       timeout = 20m
    ///       run "cargo build --release"
    ///       artifact app = "target/release/app"
    ///     }
    ///   }
    ///   stage test {
    ///     job smoke {
    ///       timeout = 5m
    ///       run "./target/release/app --self-test"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline build {
    ///   stage compile {
    ///     job linux {
    ///       timeout = 20m
    ///       run "cargo build --release"
    ///       artifact app = "target/release/app"
    ///     }
    ///   }
    ///   stage test {
    ///     job smoke {
    ///       timeout = 5m
    ///       fetch compile.linux.app into "target/release"
    ///       run "./target/release/app --self-test"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Fix
    /// An unsafe fix adds the fetch as the job's first task (into the folder of the path), and,
    /// when the earlier job does not publish the path yet, an `artifact` for it. A folder of
    /// installed dependencies (`node_modules`, `vendor`) is installed again instead: the fix
    /// copies the installing task to the start of the job. A docker image has no fix: build
    /// and use it in one job, or pass it through a registry or a `docker save` artifact.
    code: "L0002",
    name: "workspace-shared-by-luck",
    category: Correctness,
    severity: Warning,
    fix: Unsafe,
    summary: "job using files an earlier stage made without fetching them",
    check: Some(check),
    scope: Pipelines,
}

fn check(ctx: &Context, sink: &mut Sink) {
    for pipeline in ctx.pipelines {
        images(ctx, pipeline, sink);
        for (si, stage) in pipeline.stages.iter().enumerate() {
            for consumer in &stage.jobs {
                if let Some(found) = first_unfetched(ctx, &pipeline.stages[..si], consumer) {
                    sink.add(report(ctx, consumer, found));
                }
            }
        }
    }
}

/// A path a job of an earlier stage makes, which `consumer` uses without making or fetching it.
struct Unfetched<'a> {
    stage: &'a Stage,
    producer: &'a Job,
    made: &'a Produced,
}

/// The first such path, from the nearest earlier stage.
fn first_unfetched<'a>(ctx: &'a Context, earlier: &'a [Stage], consumer: &Job) -> Option<Unfetched<'a>> {
    let facts = ctx.facts.job(consumer);
    let used = |path: &str| {
        facts.mentions.iter().any(|m| shell::refers_to(m, path))
            || facts.needs.iter().any(|n| n.eq_ignore_ascii_case(path))
    };
    for stage in earlier.iter().rev() {
        for producer in &stage.jobs {
            for made in ctx.facts.produced(producer) {
                if used(&made.path)
                    && !super::makes_itself(facts.produced, &made.path)
                    && !fetched(ctx, consumer, &made.path)
                    && !ctx.facts.repeats_work_of(consumer, producer)
                {
                    return Some(Unfetched { stage, producer, made });
                }
            }
        }
    }
    None
}

fn report(ctx: &Context, consumer: &Job, found: Unfetched) -> Diagnostic {
    let Unfetched { stage, producer, made: p } = found;
    let o = consumer.origin;
    let d = RULE
        .at(
            o.file,
            o.name,
            format!(
                "job `{}` uses `{}`, which job `{}` of stage `{}` makes, but does not fetch it",
                consumer.name, p.path, producer.name, stage.name
            ),
        )
        .with_label("its workspace has that file only if it runs on the same agent")
        .with_secondary(producer.origin.file, p.span, format!("`{}` is made here", p.path))
        .with_note("each job starts in a fresh workspace, possibly on another agent");
    match installed_folder(&p.path).then(|| install_command(producer, p.span)).flatten() {
        Some(install) => install_again(ctx, consumer, &install, d),
        None => fetch_it(ctx, stage, producer, consumer, p, d),
    }
}

/// Advice for a folder of installed dependencies: install it again in the consumer.
fn install_again(ctx: &Context, consumer: &Job, install: &str, d: Diagnostic) -> Diagnostic {
    let d = d.with_help(format!(
        "install it in `{}` too, with `{install}` as its first task: a folder of installed dependencies is not worth an artifact",
        consumer.name
    ));
    match install_first(ctx, consumer, install) {
        Some(fix) => d.with_fix(fix),
        None => d,
    }
}

/// Advice for anything else: publish it as an artifact, and fetch it.
fn fetch_it(ctx: &Context, stage: &Stage, producer: &Job, consumer: &Job, p: &Produced, d: Diagnostic) -> Diagnostic {
    let artifact = p.artifact.clone().unwrap_or_else(|| artifact_name(&p.path));
    let syntax = ctx.syntax(consumer.origin.file);
    let fetch = phrase::fetch(syntax, &stage.name, &producer.name, &artifact, &p.path);
    let d = d.with_help(match &p.artifact {
        Some(_) => format!("fetch it first: `{fetch}`"),
        None => format!(
            "publish it from `{}` with `{}` and fetch it in `{}` with `{fetch}`",
            producer.name,
            phrase::artifact(syntax, &artifact, &p.path),
            consumer.name
        ),
    });
    match fix(ctx, &stage.name, producer, consumer, &p.path, &artifact, p.artifact.is_none()) {
        Some(fix) => d.with_fix(fix),
        None => d,
    }
}

/// A folder a package manager fills with installed dependencies (`node_modules`, `vendor`):
/// installing it again is the way to have it, not an artifact.
fn installed_folder(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or(path);
    matches!(last, "node_modules" | "vendor")
}

/// The command of the task at `span` that installs dependencies (`npm ci`).
fn install_command(job: &Job, span: Span) -> Option<String> {
    let task = job.tasks.iter().find(|t| t.origin.span == span)?;
    let install =
        super::task_commands(&task.action)?.into_iter().find(|c| super::super::effects::installs_dependencies(c))?;
    Some(install.words.join(" "))
}

/// Runs the install as the consumer's first task.
fn install_first(ctx: &Context, consumer: &Job, install: &str) -> Option<Fix> {
    if install.contains(['"', '\\', '#']) {
        return None;
    }
    let block = edit::plain_job(ctx, consumer)?;
    let file = consumer.origin.file;
    let source = ctx.workspace.file(file);
    Some(Fix {
        message: format!("run `{install}` first in `{}`", consumer.name),
        applicability: Applicability::Unsafe,
        edits: vec![edit::insert_before_tasks(source, file, block, &format!("run \"{install}\""))?],
    })
}

/// The docker images a job builds (`docker build -t X`, `docker tag A X`), uses (`docker push
/// X`, `docker run X`) and gets otherwise (`docker pull X`; `docker load` gets any).
#[derive(Default)]
pub(crate) struct Images {
    pub built: Vec<(String, Span)>,
    pub used: Vec<(String, &'static str, Span)>,
    pulled: Vec<String>,
    loads: bool,
}

/// `app` → `app:latest`: the name the daemon knows.
fn image_name(word: &str) -> String {
    let last = word.rsplit('/').next().unwrap_or(word);
    if last.contains(':') || word.contains('@') {
        word.to_string()
    } else {
        format!("{word}:latest")
    }
}

/// Options of `docker run` that take a value.
const RUN_VALUE_OPTIONS: &[&str] = &[
    "-e",
    "--env",
    "-v",
    "--volume",
    "-p",
    "--publish",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "--name",
    "--network",
    "--entrypoint",
    "--env-file",
    "--mount",
    "--platform",
    "-l",
    "--label",
    "-h",
    "--hostname",
];

pub(crate) fn job_images(ctx: &Context, job: &Job) -> Images {
    let mut images = Images::default();
    if !ctx.facts.job(job).flags.docker {
        return images;
    }
    for task in &job.tasks {
        let docker = match &task.action {
            Action::Shell(s) => s.contains("docker"),
            Action::Exec(argv) => argv.first().is_some_and(|p| p.ends_with("docker")),
            Action::Fetch(_) => false,
        };
        if !docker {
            continue;
        }
        for cmd in super::task_commands(&task.action).unwrap_or_default() {
            if cmd.program() != Some("docker") {
                continue;
            }
            let args = cmd.args();
            let mut rest = args.iter().map(|a| &**a).skip_while(|a| a.starts_with('-'));
            let sub = rest.next().unwrap_or("");
            let rest: Vec<&str> = rest.collect();
            let span = task.origin.span;
            match sub {
                "build" | "buildx" => {
                    for pair in rest.windows(2) {
                        if matches!(pair[0], "-t" | "--tag") {
                            images.built.push((image_name(pair[1]), span));
                        }
                    }
                    images
                        .built
                        .extend(rest.iter().filter_map(|a| a.strip_prefix("--tag=")).map(|t| (image_name(t), span)));
                }
                "tag" => images.built.extend(rest.get(1).map(|t| (image_name(t), span))),
                "push" => images
                    .used
                    .extend(rest.iter().find(|a| !a.starts_with('-')).map(|i| (image_name(i), "pushes", span))),
                "run" => {
                    let mut i = 0;
                    while i < rest.len() {
                        let a = rest[i];
                        if RUN_VALUE_OPTIONS.contains(&a) {
                            i += 2;
                        } else if a.starts_with('-') {
                            i += 1;
                        } else {
                            images.used.push((image_name(a), "runs", span));
                            break;
                        }
                    }
                }
                "pull" => images.pulled.extend(rest.iter().find(|a| !a.starts_with('-')).map(|i| image_name(i))),
                "load" | "import" => images.loads = true,
                _ => {}
            }
        }
    }
    images
}

/// Jobs that use a docker image an earlier stage's job built: the image is in the docker
/// daemon of the agent that built it.
fn images(ctx: &Context, pipeline: &Pipeline, sink: &mut Sink) {
    if pipeline.stages.len() < 2 {
        return;
    }
    let all: Vec<Vec<Images>> =
        pipeline.stages.iter().map(|s| s.jobs.iter().map(|j| job_images(ctx, j)).collect()).collect();
    for (si, stage) in pipeline.stages.iter().enumerate().skip(1) {
        for (ji, consumer) in stage.jobs.iter().enumerate() {
            let mine = &all[si][ji];
            if mine.loads {
                continue;
            }
            let own =
                |image: &str| mine.built.iter().any(|(b, _)| b == image) || mine.pulled.iter().any(|p| p == image);
            let found = mine.used.iter().filter(|(image, _, _)| !own(image)).find_map(|(image, verb, span)| {
                (0..si).rev().find_map(|e| {
                    pipeline.stages[e].jobs.iter().zip(&all[e]).find_map(|(producer, theirs)| {
                        let (_, built_at) = theirs.built.iter().find(|(b, _)| b == image)?;
                        Some((image, *verb, *span, e, producer, *built_at))
                    })
                })
            });
            let Some((image, verb, span, e, producer, built_at)) = found else { continue };
            let o = consumer.origin;
            sink.add(
                RULE.at(
                    o.file,
                    span,
                    format!(
                        "job `{}` {verb} the docker image `{image}`, which job `{}` of stage `{}` builds on its own agent",
                        consumer.name, producer.name, pipeline.stages[e].name
                    ),
                )
                .with_label(format!("the image is in this agent's docker daemon only if `{}` ran here", producer.name))
                .with_secondary(producer.origin.file, built_at, format!("`{image}` is built here"))
                .with_note("a docker image lives in the daemon of the agent that built it, not in the workspace, and is not an artifact")
                .with_help(format!(
                    "build and use it in one job; or `docker save` it to a file published as an artifact, fetch it in `{}` and `docker load` it; or push it to a registry where it is built and pull it here",
                    consumer.name
                )),
            );
        }
    }
}

/// Whether the job fetches something that puts `path` in its workspace: into a folder that
/// holds it, or an artifact whose path or file name is the path's.
fn fetched(ctx: &Context, job: &Job, path: &str) -> bool {
    let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_ascii_lowercase();
    job.tasks.iter().any(|t| match &t.action {
        Action::Fetch(f) => {
            let into = f.into.trim().trim_start_matches("./").trim_end_matches('/');
            let into_holds = !into.is_empty() && into != "." && shell::refers_to(path, into);
            let source = ctx
                .program
                .pipeline(&f.pipeline)
                .and_then(|p| p.stage(&f.stage))
                .and_then(|s| s.job(&f.job))
                .and_then(|j| j.artifacts.iter().find(|a| a.name.eq_ignore_ascii_case(&f.artifact)));
            let same_file = source.is_some_and(|a| {
                shell::normalize(&a.path).is_some_and(|p| shell::refers_to(path, p)) || base(&a.path) == base(path)
            });
            into_holds || same_file || f.artifact.eq_ignore_ascii_case(&base(path))
        }
        _ => false,
    })
}

/// An artifact name for a path: its file name, name-safe.
fn artifact_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let stem = base.split('.').next().filter(|s| !s.is_empty()).unwrap_or(base);
    edit::name_for(stem)
}

fn fix(
    ctx: &Context,
    stage: &str,
    producer: &Job,
    consumer: &Job,
    path: &str,
    artifact: &str,
    publish: bool,
) -> Option<Fix> {
    let consumer_block = edit::plain_job(ctx, consumer)?;
    let file = consumer.origin.file;
    let source = ctx.workspace.file(file);
    let dir = path.rsplit_once('/').map(|(d, _)| d);
    let fetch = match dir {
        Some(d) => format!("fetch {stage}.{}.{artifact} into \"{d}\"", producer.name),
        None => format!("fetch {stage}.{}.{artifact}", producer.name),
    };
    let mut edits: Vec<Edit> = vec![edit::insert_before_tasks(source, file, consumer_block, &fetch)?];
    if publish {
        let producer_block = edit::plain_job(ctx, producer)?;
        let psource = ctx.workspace.file(producer.origin.file);
        edits.push(edit::append_members(
            psource,
            producer.origin.file,
            producer_block,
            &[format!("artifact {artifact} = \"{path}\"")],
        )?);
    }
    Some(Fix {
        message: format!("fetch `{path}` from `{}`", producer.name),
        applicability: Applicability::Unsafe,
        edits,
    })
}
