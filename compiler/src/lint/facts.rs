//! What the rules ask about every job and stage, read once a lint run: each task's commands,
//! the paths a job's scripts make and name, what each stage does ([`effects`]), and which
//! stages start other pipelines. Every script is read here: once for every job, and once more
//! for a stage when a rule first asks what it does (few are asked: only those a rule is about
//! to advise merging or moving).

use super::effects::{self, ExtraWords, StageKind};
use super::rules::{self, Produced};
use super::shell::{self, Command};
use crate::model::{Job, Pipeline, Program, Stage};
use rustc_hash::FxHashMap;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

/// What a job's scripts make, name, wait for and run.
#[derive(Debug, Default)]
pub struct JobFacts<'p> {
    /// For each task, by position: the hashes of its words when it runs one simple command of
    /// two words or more (a range of `single_words`), what `serial-independent-work` compares.
    pub single: Vec<Option<(u32, u32)>>,
    single_words: Vec<u64>,
    /// Whether it installs dependencies, builds an image or copies out of a container
    /// ([`effects::prepares`]).
    pub prepares: bool,
    /// Whether it has tasks and every one runs only [`effects::trivial`] commands.
    pub trivial: bool,
    pub produced: Vec<Produced>,
    pub mentions: Vec<shell::Word<'p>>,
    /// The folders its commands read without naming them (`node_modules` for `npm test`).
    pub needs: Vec<String>,
    pub waits: Vec<String>,
    /// Its non-trivial simple commands, each as a hash of its words (compared, never shown).
    pub commands: Vec<u64>,
    /// Whether it runs `docker` at all.
    pub docker: bool,
    /// Its first command, when every command it runs (trivial ones aside) installs
    /// dependencies ([`effects::installs_dependencies`]).
    pub installs: Option<String>,
}

/// The facts of every job and stage of a program.
pub struct Facts<'p> {
    /// By [`key`].
    jobs: FxHashMap<usize, JobFacts<'p>>,
    /// By [`key`]: classified when first asked.
    stages: FxHashMap<usize, OnceLock<StageKind>>,
    classifier: effects::Classifier<'p>,
    /// `(pipeline, stage)` pairs, lowercase, that some pipeline starts `after`.
    downstream: HashSet<(String, String)>,
    empty: JobFacts<'p>,
    no_kind: StageKind,
}

fn trivial(c: &shell::Command) -> bool {
    matches!(c.program(), None | Some("cd" | "echo" | "mkdir" | "ls" | "cat" | "true" | "set" | "export"))
}

/// Each task's simple commands, by position: `None` for a fetch.
type Scripts<'p> = Vec<Option<Vec<Command<'p>>>>;

/// Each task's simple commands.
fn scripts(job: &Job) -> Scripts<'_> {
    job.tasks.iter().map(|t| rules::task_commands(&t.action)).collect()
}

/// What one job's scripts make, name, wait for and run.
fn job_facts(job: &Job) -> JobFacts<'_> {
    let scripts = scripts(job);
    let mut facts = JobFacts {
        trivial: !scripts.is_empty()
            && scripts.iter().all(|t| t.as_ref().is_some_and(|c| c.iter().all(effects::trivial))),
        ..JobFacts::default()
    };
    let mut implicit = Vec::new();
    let mut only_installs = true;
    for (task, cmds) in job.tasks.iter().zip(&scripts) {
        let single = match cmds.as_deref() {
            Some([c]) if c.words.len() >= 2 => {
                let start = facts.single_words.len() as u32;
                facts.single_words.extend(c.words.iter().map(hash));
                Some((start, c.words.len() as u32))
            }
            _ => None,
        };
        facts.single.push(single);
        let Some(cmds) = cmds else { continue };
        let dir = task.dir.as_deref();
        for path in shell::writes_of(cmds) {
            let path = in_dir(dir, &path);
            if !facts.produced.iter().any(|p| p.path == path) {
                facts.produced.push(Produced { path, span: task.origin.span, artifact: None });
            }
        }
        implicit.extend(shell::implicit_outputs(cmds).into_iter().map(|f| (in_dir(dir, f), task.origin.span)));
        let mentions = shell::mentions_of(cmds);
        match dir {
            None => facts.mentions.extend(mentions),
            Some(_) => facts.mentions.extend(mentions.iter().map(|m| in_dir(dir, m).into())),
        }
        facts.needs.extend(shell::implicit_inputs(cmds).into_iter().map(|f| in_dir(dir, f)));
        facts.waits.extend(shell::waits_of(cmds));
        facts.commands.extend(cmds.iter().filter(|c| !trivial(c)).map(|c| hash(&c.words)));
        facts.docker |= cmds.iter().any(|c| c.program() == Some("docker"));
        facts.prepares |= cmds.iter().any(effects::prepares_command);
        for cmd in cmds.iter().filter(|c| !effects::trivial(c) && !matches!(c.program(), Some("cd" | "set" | "export")))
        {
            if !only_installs || !effects::installs_dependencies(cmd) {
                only_installs = false;
                break;
            }
            if facts.installs.is_none() {
                facts.installs = Some(cmd.words.join(" "));
            }
        }
    }
    for a in &job.artifacts {
        if let Some(path) = shell::normalize(&a.path) {
            facts.produced.retain(|p| p.path != path);
            facts.produced.push(Produced {
                path: path.to_string(),
                span: a.origin.span,
                artifact: Some(a.name.clone()),
            });
        }
    }
    if !only_installs {
        facts.installs = None;
    }
    // Last: a rule names the first path it finds, and an artifact or a written file says more.
    for (folder, span) in implicit {
        if !facts.produced.iter().any(|p| p.path == folder) {
            facts.produced.push(Produced { path: folder, span, artifact: None });
        }
    }
    facts.mentions.sort();
    facts.mentions.dedup();
    facts.needs.sort();
    facts.needs.dedup();
    facts
}

/// A path a task names, as seen from the workspace: a relative one is under the folder the task
/// runs in (`run ... in "dir"`), with `..` taken back.
fn in_dir(dir: Option<&str>, path: &str) -> String {
    let Some(dir) = dir.filter(|_| !path.starts_with(['/', '~'])) else { return path.to_string() };
    let mut parts: Vec<&str> = dir.split('/').collect();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

fn hash<T: Hash + ?Sized>(words: &T) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    words.hash(&mut h);
    h.finish()
}

/// A job's or stage's key: its address in the program, which outlives the lint run.
fn key<T>(item: &T) -> usize {
    item as *const T as usize
}

/// The facts of a pipeline's jobs, by [`key`].
fn pipeline_facts(pipeline: &Pipeline) -> Vec<(usize, JobFacts<'_>)> {
    pipeline.stages.iter().flat_map(|s| &s.jobs).map(|j| (key(j), job_facts(j))).collect()
}

impl<'p> Facts<'p> {
    /// Reads every job, on up to four threads for a large program; `extra` are the configured
    /// words of the stages' classification.
    pub fn new(program: &'p Program, extra: &'p ExtraWords) -> Self {
        let pipelines = &program.pipelines;
        let count: usize = pipelines.iter().flat_map(|p| &p.stages).map(|s| s.jobs.len()).sum();
        let threads = crate::cores().min(4);
        let parts: Vec<Vec<(usize, JobFacts)>> = if threads <= 1 || count < 256 {
            pipelines.iter().map(pipeline_facts).collect()
        } else {
            let chunk = pipelines.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let handles: Vec<_> = pipelines
                    .chunks(chunk)
                    .map(|part| scope.spawn(move || part.iter().map(pipeline_facts).collect::<Vec<_>>()))
                    .collect();
                handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
            })
        };
        let mut jobs = FxHashMap::with_capacity_and_hasher(count, Default::default());
        jobs.extend(parts.into_iter().flatten());
        let stages = pipelines.iter().flat_map(|p| &p.stages).map(|s| (key(s), OnceLock::new())).collect();
        let downstream = program
            .pipelines
            .iter()
            .flat_map(|p| p.after.iter())
            .map(|u| (u.pipeline.to_ascii_lowercase(), u.stage.to_ascii_lowercase()))
            .collect();
        Facts {
            jobs,
            stages,
            classifier: effects::Classifier::new(extra),
            downstream,
            empty: JobFacts::default(),
            no_kind: StageKind::default(),
        }
    }

    /// How many jobs the facts are about.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The facts of a job of the program.
    pub fn job(&self, job: &Job) -> &JobFacts<'p> {
        self.jobs.get(&key(job)).unwrap_or(&self.empty)
    }

    /// What a stage does outside its workspace, whether it verifies, and whether its scripts
    /// can be read ([`effects`]).
    pub fn stage(&self, stage: &Stage) -> &StageKind {
        let Some(kind) = self.stages.get(&key(stage)) else { return &self.no_kind };
        kind.get_or_init(|| {
            let scripts: Vec<Scripts> = stage.jobs.iter().map(scripts).collect();
            self.classifier.stage(stage, scripts.iter().flatten().flatten().flatten())
        })
    }

    /// For each task of a job, by position: the hashes of its words when it runs one simple
    /// command of two words or more.
    pub fn single_commands<'f>(&'f self, job: &Job) -> impl Iterator<Item = Option<&'f [u64]>> {
        let facts = self.job(job);
        let words = |(start, len): (u32, u32)| facts.single_words.get(start as usize..(start + len) as usize);
        facts.single.iter().map(move |s| s.and_then(words)).chain(std::iter::repeat(None)).take(job.tasks.len())
    }

    /// Whether some pipeline starts after this stage.
    pub fn triggers(&self, pipeline: &str, stage: &str) -> bool {
        self.downstream.contains(&(pipeline.to_ascii_lowercase(), stage.to_ascii_lowercase()))
    }

    /// Whether `job` runs one of the commands `other` runs, and so likely makes the same files
    /// itself (`cargo build --release` in both).
    pub(crate) fn repeats_work_of(&self, job: &Job, other: &Job) -> bool {
        let (mine, theirs) = (&self.job(job).commands, &self.job(other).commands);
        theirs.iter().any(|c| mine.contains(c))
    }
}
