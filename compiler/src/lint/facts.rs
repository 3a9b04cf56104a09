//! What the rules ask about jobs and stages: for a run of pipelines ([`Facts`]), each task's
//! commands, the paths a job's scripts make and name, what each stage does ([`effects`]); for
//! the whole program ([`ProgramFacts`]), which stages start other pipelines and which
//! artifacts are fetched. Every script is read here: once for every job, and once more for a
//! stage when a rule first asks what it does (few are asked: only those a rule is about to
//! advise merging or moving).

use super::effects::{self, ExtraWords, StageKind};
use super::rules::{self, Produced};
use super::shell::{self, Command};
use crate::model::{Action, Job, Pipeline, Program, Stage};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
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

/// The lists of the jobs of a run, each in one vector: a job holds [`Slot`]s of them, so that
/// reading and freeing the facts of many jobs costs a few allocations, not many small ones.
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

/// One job's facts: flags, and slots of the [`Lists`].
#[derive(Debug, Default)]
struct Entry {
    single: Slot,
    produced: Slot,
    mentions: Slot,
    needs: Slot,
    waits: Slot,
    commands: Slot,
    flags: Flags,
    installs: Option<String>,
}

/// What the rules ask about the whole program.
pub struct ProgramFacts<'p> {
    classifier: effects::Classifier<'p>,
    /// `(pipeline, stage)` pairs, lowercase, that some pipeline starts `after`.
    downstream: HashSet<(String, String)>,
    /// The artifacts some job fetches, and the jobs some job fetches from ([`names_key`]).
    fetched: FxHashSet<u64>,
    fetched_jobs: FxHashSet<u64>,
}

/// The facts of the jobs and stages of a run of pipelines.
pub struct Facts<'p> {
    program: &'p ProgramFacts<'p>,
    lists: Lists<'p>,
    /// By [`key`].
    jobs: FxHashMap<usize, Entry>,
    /// By [`key`]: classified when first asked.
    stages: FxHashMap<usize, OnceLock<StageKind>>,
    no_kind: StageKind,
}

/// Commands left out when jobs' commands are compared: they move about, print or set up the
/// shell, and say nothing of what the job does. Not [`effects::trivial`], which says whether a
/// stage's work is negligible.
fn incidental(c: &shell::Command) -> bool {
    matches!(c.program(), None | Some("cd" | "echo" | "mkdir" | "ls" | "cat" | "true" | "set" | "export"))
}

/// Each task's simple commands, by position: `None` for a fetch.
type Scripts<'p> = Vec<Option<Vec<Command<'p>>>>;

/// Each task's simple commands.
fn scripts(job: &Job) -> Scripts<'_> {
    job.tasks.iter().map(|t| rules::task_commands(&t.action)).collect()
}

/// Reads one job's scripts into `lists`, and returns what it found with the slots of `lists`
/// that hold the rest; `produced` is a buffer the caller lends.
fn job_facts<'p>(job: &'p Job, lists: &mut Lists<'p>, produced: &mut Vec<Produced>) -> Entry {
    let scripts = scripts(job);
    let all_trivial =
        !scripts.is_empty() && scripts.iter().all(|t| t.as_ref().is_some_and(|c| c.iter().all(effects::trivial)));
    let flags = Flags { trivial: all_trivial, ..Flags::default() };
    let mut entry = Entry { flags, ..Entry::default() };
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
        lists.commands.extend(cmds.iter().filter(|c| !incidental(c)).map(|c| hash(&c.words)));
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

/// A key for names compared without case (`pipeline.stage.job.artifact`), made without
/// copying them.
fn names_key(parts: &[&str]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    for part in parts {
        for b in part.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
        h.write_u8(0xff);
    }
    h.finish()
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

impl<'p> ProgramFacts<'p> {
    /// `extra` are the configured words of the stages' classification.
    pub fn new(program: &'p Program, extra: &'p ExtraWords) -> Self {
        let (mut fetched, mut fetched_jobs) = (FxHashSet::default(), FxHashSet::default());
        for task in rules::jobs(&program.pipelines).flat_map(|(_, _, j)| &j.tasks) {
            if let Action::Fetch(f) = &task.action {
                fetched.insert(names_key(&[&f.pipeline, &f.stage, &f.job, &f.artifact]));
                fetched_jobs.insert(names_key(&[&f.pipeline, &f.stage, &f.job]));
            }
        }
        let downstream = program
            .pipelines
            .iter()
            .flat_map(|p| p.after.iter())
            .map(|u| (u.pipeline.to_ascii_lowercase(), u.stage.to_ascii_lowercase()))
            .collect();
        ProgramFacts { classifier: effects::Classifier::new(extra), downstream, fetched, fetched_jobs }
    }
}

impl<'p> Facts<'p> {
    /// Reads every job of `pipelines`.
    pub fn of(pipelines: &'p [Arc<Pipeline>], program: &'p ProgramFacts<'p>) -> Self {
        let all = || pipelines.iter().flat_map(|p| &p.stages);
        let count = all().map(|s| s.jobs.len()).sum();
        let mut lists = Lists::default();
        let mut produced = Vec::new();
        let mut jobs = FxHashMap::with_capacity_and_hasher(count, Default::default());
        for job in all().flat_map(|s| &s.jobs) {
            jobs.insert(key(job), job_facts(job, &mut lists, &mut produced));
        }
        let stages = all().map(|s| (key(s), OnceLock::new())).collect();
        Facts { program, lists, jobs, stages, no_kind: StageKind::default() }
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
        let Some(entry) = self.entry(job) else { return JobFacts::default() };
        let lists = &self.lists;
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
        self.entry(job).map_or(&[], |entry| entry.produced.of(&self.lists.produced))
    }

    /// A job's entry: one of the run's, whose facts a rule of [`Scope::Pipelines`] may ask.
    ///
    /// [`Scope::Pipelines`]: super::registry::Scope::Pipelines
    fn entry(&self, job: &Job) -> Option<&Entry> {
        let entry = self.jobs.get(&key(job));
        debug_assert!(entry.is_some(), "job `{}` is not of the run: is the rule's scope the program?", job.name);
        entry
    }

    /// What a stage does outside its workspace, whether it verifies, and whether its scripts
    /// can be read ([`effects`]).
    pub fn stage(&self, stage: &Stage) -> &StageKind {
        let Some(kind) = self.stages.get(&key(stage)) else { return &self.no_kind };
        kind.get_or_init(|| {
            let scripts: Vec<Scripts> = stage.jobs.iter().map(scripts).collect();
            self.program.classifier.stage(stage, scripts.iter().flatten().flatten().flatten())
        })
    }

    /// For each task of a job, by position: the hashes of its words when it runs one simple
    /// command of two words or more.
    pub fn single_commands<'f>(&'f self, job: &Job) -> impl Iterator<Item = Option<&'f [u64]>> {
        let (single, words): (&[Option<Slot>], &[u64]) = match self.entry(job) {
            Some(entry) => (entry.single.of(&self.lists.single), &self.lists.single_words),
            None => (&[], &[]),
        };
        single.iter().map(move |s| s.map(|s| s.of(words))).chain(std::iter::repeat(None)).take(job.tasks.len())
    }

    /// Whether some pipeline starts after this stage.
    pub fn triggers(&self, pipeline: &str, stage: &str) -> bool {
        self.program.downstream.contains(&(pipeline.to_ascii_lowercase(), stage.to_ascii_lowercase()))
    }

    /// Whether some job of the program fetches artifact `artifact` of job `job` of stage
    /// `stage` of pipeline `pipeline` (names compared without case).
    pub fn is_fetched(&self, pipeline: &str, stage: &str, job: &str, artifact: &str) -> bool {
        self.program.fetched.contains(&names_key(&[pipeline, stage, job, artifact]))
    }

    /// Whether some job of the program fetches an artifact of that job.
    pub fn is_fetched_from(&self, pipeline: &str, stage: &str, job: &str) -> bool {
        self.program.fetched_jobs.contains(&names_key(&[pipeline, stage, job]))
    }

    /// Whether `job` runs one of the commands `other` runs, and so likely makes the same files
    /// itself (`cargo build --release` in both).
    pub(crate) fn repeats_work_of(&self, job: &Job, other: &Job) -> bool {
        let commands = |job| self.entry(job).map_or(&[][..], |entry| entry.commands.of(&self.lists.commands));
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

    /// The facts of every job of a program, read for a few pipelines at a time and for all at
    /// once, are the same.
    #[test]
    fn facts_read_run_by_run_are_those_read_at_once() {
        let workspace = crate::lint::tests::generated(12, 3, 8, |p, s, j| {
            format!(
                "      run \"npm ci && npm test > out/{p}-{j}.txt\" in \"web\"\n      run [\"docker\", \"build\", \"-t\", \"app:{j}\", \".\"]\n      run \"cat build/{s}/app.jar ../dist/x.tgz\"\n      artifact log = \"out/{p}-{j}.txt\"\n"
            )
        });
        let analysis = crate::analyze(&workspace);
        assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics.first());
        let extra = ExtraWords::default();
        let program = ProgramFacts::new(&analysis.program, &extra);
        let pipelines = &analysis.program.pipelines;
        let all = Facts::of(pipelines, &program);
        let runs: Vec<Facts> = pipelines.chunks(5).map(|run| Facts::of(run, &program)).collect();
        assert!(all.len() == 288 && runs.len() == 3);
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
        for (run, facts) in pipelines.chunks(5).zip(&runs) {
            for (_, _, job) in rules::jobs(run) {
                assert_eq!(seen(&all, job), seen(facts, job), "job {}", job.name);
            }
        }
        let job = &pipelines[11].stages[2].jobs[7];
        let (produced, mentions, needs, ..) = seen(&runs[2], job);
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
