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

/// What a job's scripts are, in yes or no.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    /// Whether it installs dependencies, builds an image or copies out of a container
    /// ([`effects::prepares`]).
    pub prepares: bool,
    /// Whether it has tasks and every one runs only [`effects::trivial`] commands.
    pub trivial: bool,
    /// Whether it runs `docker` at all.
    pub docker: bool,
    /// Whether a task names a program that downloads ([`rules::unsafe_download`]).
    pub downloads: bool,
    /// Whether a script ends by passing whatever came before ([`rules::check_cannot_fail`]).
    pub ignores_failure: bool,
    /// Whether an argv holds shell syntax ([`rules::shell_syntax_in_argv`]).
    pub shell_in_argv: bool,
}

/// What a job's scripts make, name, wait for and run: a view into the facts.
#[derive(Clone, Copy, Debug, Default)]
pub struct JobFacts<'f, 'p> {
    pub flags: Flags,
    pub produced: &'f [Produced],
    pub mentions: &'f [shell::Word<'p>],
    /// The folders its commands read without naming them (`node_modules` for `npm test`).
    pub needs: &'f [String],
    pub waits: &'f [String],
    /// Its non-trivial simple commands, each as a hash of its words (compared, never shown).
    pub commands: &'f [u64],
    /// Its first command, when every command it runs (trivial ones aside) installs
    /// dependencies ([`effects::installs_dependencies`]).
    pub installs: Option<&'f str>,
}

/// A range of one of the vectors of [`Lists`].
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    start: u32,
    len: u32,
}

impl Slot {
    /// The elements of `list` from `start` to its end.
    fn since<T>(start: usize, list: &[T]) -> Slot {
        Slot { start: start as u32, len: (list.len() - start) as u32 }
    }

    fn of<T>(self, list: &[T]) -> &[T] {
        list.get(self.start as usize..(self.start + self.len) as usize).unwrap_or_default()
    }
}

/// The lists of the jobs one thread read, each in one vector: a job holds [`Slot`]s of them,
/// so that reading and freeing the facts of many jobs costs a few large allocations, not many
/// small ones.
#[derive(Debug, Default)]
struct Lists<'p> {
    /// For each task, by position: the hashes of its words when it runs one simple command of
    /// two words or more (a slot of `single_words`), what `serial-independent-work` compares.
    single: Vec<Option<Slot>>,
    single_words: Vec<u64>,
    produced: Vec<Produced>,
    mentions: Vec<shell::Word<'p>>,
    needs: Vec<String>,
    waits: Vec<String>,
    commands: Vec<u64>,
}

/// One job's facts: flags, and slots of its thread's [`Lists`].
#[derive(Debug, Default)]
struct Entry {
    lists: u32,
    single: Slot,
    produced: Slot,
    mentions: Slot,
    needs: Slot,
    waits: Slot,
    commands: Slot,
    flags: Flags,
    installs: Option<String>,
}

/// The facts of every job and stage of a program.
pub struct Facts<'p> {
    lists: Vec<Lists<'p>>,
    /// By [`key`].
    jobs: FxHashMap<usize, Entry>,
    /// By [`key`]: classified when first asked.
    stages: FxHashMap<usize, OnceLock<StageKind>>,
    classifier: effects::Classifier<'p>,
    /// `(pipeline, stage)` pairs, lowercase, that some pipeline starts `after`.
    downstream: HashSet<(String, String)>,
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

/// Reads one job's scripts into `lists` (those of part `part`), and returns what it found with the slots of `lists`
/// that hold the rest; `produced` is a buffer the caller lends.
fn job_facts<'p>(job: &'p Job, part: u32, lists: &mut Lists<'p>, produced: &mut Vec<Produced>) -> Entry {
    let scripts = scripts(job);
    let all_trivial =
        !scripts.is_empty() && scripts.iter().all(|t| t.as_ref().is_some_and(|c| c.iter().all(effects::trivial)));
    let flags = Flags { trivial: all_trivial, ..Flags::default() };
    let mut entry = Entry { lists: part, flags, ..Entry::default() };
    let starts = (lists.single.len(), lists.mentions.len(), lists.needs.len(), lists.waits.len(), lists.commands.len());
    produced.clear();
    let mut implicit = Vec::new();
    let mut only_installs = true;
    for (task, cmds) in job.tasks.iter().zip(&scripts) {
        // Noted while the script is in cache, for the rules that look for one ending or one word.
        entry.flags.downloads |= rules::unsafe_download::may_download(&task.action);
        entry.flags.ignores_failure |= rules::check_cannot_fail::may_ignore_failure(&task.action);
        entry.flags.shell_in_argv |= rules::shell_syntax_in_argv::may_misuse(&task.action);
        let single = match cmds.as_deref() {
            Some([c]) if c.words.len() >= 2 => {
                let start = lists.single_words.len();
                lists.single_words.extend(c.words.iter().map(hash));
                Some(Slot::since(start, &lists.single_words))
            }
            _ => None,
        };
        lists.single.push(single);
        let Some(cmds) = cmds else { continue };
        let dir = task.dir.as_deref();
        for path in shell::writes_of(cmds) {
            let path = in_dir(dir, path);
            if !produced.iter().any(|p| p.path == path) {
                produced.push(Produced { path, span: task.origin.span, artifact: None });
            }
        }
        implicit.extend(shell::implicit_outputs(cmds).into_iter().map(|f| (in_dir(dir, f.into()), task.origin.span)));
        let mentions = shell::mentions_of(cmds);
        match dir {
            None => lists.mentions.extend(mentions),
            Some(_) => lists.mentions.extend(mentions.iter().map(|m| in_dir(dir, m.to_string()).into())),
        }
        lists.needs.extend(shell::implicit_inputs(cmds).into_iter().map(|f| in_dir(dir, f.into())));
        lists.waits.extend(shell::waits_of(cmds));
        lists.commands.extend(cmds.iter().filter(|c| !trivial(c)).map(|c| hash(&c.words)));
        entry.flags.docker |= cmds.iter().any(|c| c.program() == Some("docker"));
        entry.flags.prepares |= cmds.iter().any(effects::prepares_command);
        for cmd in cmds.iter().filter(|c| !effects::trivial(c) && !matches!(c.program(), Some("cd" | "set" | "export")))
        {
            if !only_installs || !effects::installs_dependencies(cmd) {
                only_installs = false;
                break;
            }
            if entry.installs.is_none() {
                entry.installs = Some(cmd.words.join(" "));
            }
        }
    }
    for a in &job.artifacts {
        if let Some(path) = shell::normalize(&a.path) {
            produced.retain(|p| p.path != path);
            produced.push(Produced { path: path.to_string(), span: a.origin.span, artifact: Some(a.name.clone()) });
        }
    }
    if !only_installs {
        entry.installs = None;
    }
    // Last: a rule names the first path it finds, and an artifact or a written file says more.
    for (folder, span) in implicit {
        if !produced.iter().any(|p| p.path == folder) {
            produced.push(Produced { path: folder, span, artifact: None });
        }
    }
    let start = lists.produced.len();
    lists.produced.append(produced);
    entry.produced = Slot::since(start, &lists.produced);
    entry.single = Slot::since(starts.0, &lists.single);
    entry.mentions = sorted_since(starts.1, &mut lists.mentions);
    entry.needs = sorted_since(starts.2, &mut lists.needs);
    entry.waits = Slot::since(starts.3, &lists.waits);
    entry.commands = Slot::since(starts.4, &lists.commands);
    entry
}

/// Sorts the elements of `list` from `start` on and removes their repeats; their slot.
fn sorted_since<T: Ord>(start: usize, list: &mut Vec<T>) -> Slot {
    list[start..].sort_unstable();
    let mut kept = start;
    for i in start..list.len() {
        if kept == start || list[i] != list[kept - 1] {
            list.swap(kept, i);
            kept += 1;
        }
    }
    list.truncate(kept);
    Slot::since(start, list)
}

/// A path a task names, as seen from the workspace: a relative one is under the folder the task
/// runs in (`run ... in "dir"`), with `..` taken back.
fn in_dir(dir: Option<&str>, path: String) -> String {
    let Some(dir) = dir.filter(|_| !path.starts_with(['/', '~'])) else { return path };
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

/// The facts of the jobs of `pipelines`, by [`key`], their lists as part `part` of all.
fn pipelines_facts(pipelines: &[Pipeline], part: u32) -> (Vec<(usize, Entry)>, Lists<'_>) {
    let mut lists = Lists::default();
    let mut produced = Vec::new();
    let jobs = pipelines
        .iter()
        .flat_map(|p| &p.stages)
        .flat_map(|s| &s.jobs)
        .map(|j| (key(j), job_facts(j, part, &mut lists, &mut produced)))
        .collect();
    (jobs, lists)
}

impl<'p> Facts<'p> {
    /// Reads every job, on up to four threads for a large program; `extra` are the configured
    /// words of the stages' classification.
    pub fn new(program: &'p Program, extra: &'p ExtraWords) -> Self {
        Facts::read(program, extra, crate::cores().min(4))
    }

    /// [`Facts::new`], on up to `threads` threads.
    fn read(program: &'p Program, extra: &'p ExtraWords, threads: usize) -> Self {
        let pipelines = &program.pipelines;
        let count: usize = pipelines.iter().flat_map(|p| &p.stages).map(|s| s.jobs.len()).sum();
        let parts: Vec<(Vec<(usize, Entry)>, Lists)> = if threads <= 1 || count < 256 {
            vec![pipelines_facts(pipelines, 0)]
        } else {
            let chunk = pipelines.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0u32..)
                    .zip(pipelines.chunks(chunk))
                    .map(|(i, part)| scope.spawn(move || pipelines_facts(part, i)))
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
            })
        };
        let mut jobs = FxHashMap::with_capacity_and_hasher(count, Default::default());
        let mut lists = Vec::with_capacity(parts.len());
        for (entries, part) in parts {
            jobs.extend(entries);
            lists.push(part);
        }
        let stages = pipelines.iter().flat_map(|p| &p.stages).map(|s| (key(s), OnceLock::new())).collect();
        let downstream = program
            .pipelines
            .iter()
            .flat_map(|p| p.after.iter())
            .map(|u| (u.pipeline.to_ascii_lowercase(), u.stage.to_ascii_lowercase()))
            .collect();
        Facts {
            lists,
            jobs,
            stages,
            classifier: effects::Classifier::new(extra),
            downstream,
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
    pub fn job(&self, job: &Job) -> JobFacts<'_, 'p> {
        let Some((entry, lists)) = self.entry(job) else { return JobFacts::default() };
        JobFacts {
            flags: entry.flags,
            produced: entry.produced.of(&lists.produced),
            mentions: entry.mentions.of(&lists.mentions),
            needs: entry.needs.of(&lists.needs),
            waits: entry.waits.of(&lists.waits),
            commands: entry.commands.of(&lists.commands),
            installs: entry.installs.as_deref(),
        }
    }

    /// The paths a job makes: [`JobFacts::produced`] alone, for the loops over every pair of
    /// jobs.
    pub fn produced(&self, job: &Job) -> &[Produced] {
        self.entry(job).map_or(&[], |(entry, lists)| entry.produced.of(&lists.produced))
    }

    fn entry(&self, job: &Job) -> Option<(&Entry, &Lists<'p>)> {
        let entry = self.jobs.get(&key(job))?;
        Some((entry, self.lists.get(entry.lists as usize)?))
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
        let (single, words): (&[Option<Slot>], &[u64]) = match self.entry(job) {
            Some((entry, lists)) => (entry.single.of(&lists.single), &lists.single_words),
            None => (&[], &[]),
        };
        single.iter().map(move |s| s.map(|s| s.of(words))).chain(std::iter::repeat(None)).take(job.tasks.len())
    }

    /// Whether some pipeline starts after this stage.
    pub fn triggers(&self, pipeline: &str, stage: &str) -> bool {
        self.downstream.contains(&(pipeline.to_ascii_lowercase(), stage.to_ascii_lowercase()))
    }

    /// Whether `job` runs one of the commands `other` runs, and so likely makes the same files
    /// itself (`cargo build --release` in both).
    pub(crate) fn repeats_work_of(&self, job: &Job, other: &Job) -> bool {
        let commands = |job| self.entry(job).map_or(&[][..], |(entry, lists)| entry.commands.of(&lists.commands));
        let (mine, theirs) = (commands(job), commands(other));
        theirs.iter().any(|c| mine.contains(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_is_sorted_without_repeats_and_the_head_is_kept() {
        let mut list = vec![9, 1, 5, 3, 5, 1, 4, 3];
        let slot = sorted_since(3, &mut list);
        assert_eq!(list, [9, 1, 5, 1, 3, 4, 5]);
        assert_eq!(slot.of(&list), [1, 3, 4, 5]);
        let mut empty: Vec<u8> = vec![2];
        assert_eq!(sorted_since(1, &mut empty).of(&empty), [] as [u8; 0]);
    }

    /// The facts of every job of a large program, read on one thread and on four, are the same.
    #[test]
    fn facts_read_on_four_threads_are_those_read_on_one() {
        let workspace = crate::lint::tests::generated(12, 3, 8, |p, s, j| {
            format!(
                "      run \"npm ci && npm test > out/{p}-{j}.txt\" in \"web\"\n      run [\"docker\", \"build\", \"-t\", \"app:{j}\", \".\"]\n      run \"cat build/{s}/app.jar ../dist/x.tgz\"\n      artifact log = \"out/{p}-{j}.txt\"\n"
            )
        });
        let analysis = crate::analyze(&workspace);
        assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics.first());
        let extra = ExtraWords::default();
        let (one, four) = (Facts::read(&analysis.program, &extra, 1), Facts::read(&analysis.program, &extra, 4));
        assert!(one.len() >= 256 && four.lists.len() == 4, "large enough to be read on four threads");
        let seen = |facts: &Facts, job: &Job| {
            let f = facts.job(job);
            let words: Vec<Option<Vec<u64>>> = facts.single_commands(job).map(|w| w.map(<[u64]>::to_vec)).collect();
            let produced: Vec<(String, Option<String>)> =
                f.produced.iter().map(|p| (p.path.clone(), p.artifact.clone())).collect();
            (
                produced,
                f.mentions.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
                f.needs.to_vec(),
                f.waits.to_vec(),
                f.commands.to_vec(),
                words,
                f.flags.docker,
            )
        };
        let jobs = analysis.program.pipelines.iter().flat_map(|p| &p.stages).flat_map(|s| &s.jobs);
        for job in jobs {
            assert_eq!(seen(&one, job), seen(&four, job), "job {}", job.name);
        }
        let job = &analysis.program.pipelines[11].stages[2].jobs[7];
        let (produced, mentions, needs, ..) = seen(&four, job);
        let (written, published, installed) = (
            ("web/out/11-7.txt".to_string(), None),
            ("out/11-7.txt".into(), Some("log".into())),
            ("web/node_modules".into(), None),
        );
        assert_eq!(produced, [written, published, installed]);
        assert!(
            mentions.iter().any(|m| m == "build/2/app.jar") && mentions.iter().any(|m| m == "../dist/x.tgz"),
            "{mentions:?}"
        );
        assert_eq!(needs, ["web/node_modules"]);
    }
}
