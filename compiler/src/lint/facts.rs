//! What the rules ask about every job, read once a lint run: the paths its scripts make and
//! name, the commands it runs, and which stages start other pipelines.

use super::effects;
use super::rules::{self, Produced};
use super::shell;
use crate::model::{Job, Program};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

/// What a job's scripts make, name, wait for and run.
#[derive(Debug, Default)]
pub struct JobFacts {
    pub produced: Vec<Produced>,
    pub mentions: Vec<String>,
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

/// The facts of every job of a program.
#[derive(Debug, Default)]
pub struct Facts {
    /// By [`key`].
    jobs: HashMap<usize, JobFacts>,
    /// `(pipeline, stage)` pairs, lowercase, that some pipeline starts `after`.
    downstream: HashSet<(String, String)>,
    empty: JobFacts,
}

fn trivial(c: &shell::Command) -> bool {
    matches!(c.program(), None | Some("cd" | "echo" | "mkdir" | "ls" | "cat" | "true" | "set" | "export"))
}

/// What one job's scripts make, name, wait for and run.
fn job_facts(job: &Job) -> JobFacts {
    let mut facts = JobFacts::default();
    let mut implicit = Vec::new();
    let mut only_installs = true;
    for task in &job.tasks {
        let Some(cmds) = rules::task_commands(&task.action) else { continue };
        let dir = task.dir.as_deref();
        for path in shell::writes_of(&cmds) {
            let path = in_dir(dir, &path);
            if !facts.produced.iter().any(|p| p.path == path) {
                facts.produced.push(Produced { path, span: task.origin.span, artifact: None });
            }
        }
        implicit.extend(shell::implicit_outputs(&cmds).into_iter().map(|f| (in_dir(dir, f), task.origin.span)));
        facts.mentions.extend(shell::mentions_of(&cmds).iter().map(|m| in_dir(dir, m)));
        facts.needs.extend(shell::implicit_inputs(&cmds).into_iter().map(|f| in_dir(dir, f)));
        facts.waits.extend(shell::waits_of(&cmds));
        facts.commands.extend(cmds.iter().filter(|c| !trivial(c)).map(|c| hash(&c.words)));
        facts.docker |= cmds.iter().any(|c| c.program() == Some("docker"));
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
            facts.produced.push(Produced { path, span: a.origin.span, artifact: Some(a.name.clone()) });
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

fn hash(words: &[String]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    words.hash(&mut h);
    h.finish()
}

/// A job's key: its address in the program, which outlives the lint run.
fn key(job: &Job) -> usize {
    job as *const Job as usize
}

impl Facts {
    /// Reads every job, on up to four threads for a large program.
    pub fn new(program: &Program) -> Self {
        let all: Vec<&Job> = rules::jobs(program).map(|(_, _, j)| j).collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
        let jobs: HashMap<usize, JobFacts> = if threads <= 1 || all.len() < 256 {
            all.iter().map(|&j| (key(j), job_facts(j))).collect()
        } else {
            let chunk = all.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let handles: Vec<_> = all
                    .chunks(chunk)
                    .map(|part| scope.spawn(move || part.iter().map(|&j| (key(j), job_facts(j))).collect::<Vec<_>>()))
                    .collect();
                handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
            })
        };
        let downstream = program
            .pipelines
            .iter()
            .flat_map(|p| p.after.iter())
            .map(|u| (u.pipeline.to_ascii_lowercase(), u.stage.to_ascii_lowercase()))
            .collect();
        Facts { jobs, downstream, empty: JobFacts::default() }
    }

    /// How many jobs the facts are about.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The facts of a job of the program.
    pub fn job(&self, job: &Job) -> &JobFacts {
        self.jobs.get(&key(job)).unwrap_or(&self.empty)
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
