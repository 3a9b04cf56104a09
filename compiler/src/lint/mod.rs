//! The linter: finds pipelines that run but are modelled at a cost (sequential work split across
//! jobs, stage chains longer than they need be, secrets in plain text...), explains the cost with
//! the figures of its [cost model](cost), and offers fixes where one is mechanical.
//!
//! [`lint`] takes a checked [`Analysis`]; [`check_and_lint`] checks a workspace, then lints it.

pub mod config;
pub mod cost;
pub mod docs;
pub mod edit;
pub mod effects;
pub mod engine;
pub mod facts;
pub mod fix;
pub mod glob;
pub mod history;
pub mod per_file;
mod phrase;
pub mod registry;
pub mod rules;
pub mod secrets;
pub mod shell;
pub mod suppress;

use crate::diagnostic::{self, Diagnostic};
use crate::model::Program;
use crate::source::{FileId, Span, Workspace};
use crate::Analysis;
pub use config::LintConfig;
pub use cost::Costs;
pub use history::History;
pub use per_file::Configs;
use registry::{Rule, Scope};
use std::collections::HashSet;

/// What every rule sees.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub workspace: &'a Workspace,
    pub analysis: &'a Analysis,
    pub program: &'a Program,
    /// The pipelines this run of a check is about: a run of the program's for a rule of
    /// [`Scope::Pipelines`], all of them otherwise.
    pub pipelines: &'a [std::sync::Arc<crate::model::Pipeline>],
    pub config: &'a LintConfig,
    pub costs: Costs<'a>,
    /// Whose costs the figures are ([`engine`]).
    pub engine: engine::Engine,
    /// What the jobs of [`Context::pipelines`] make and use, and what their stages do: none
    /// for a rule of [`Scope::Program`].
    pub facts: &'a facts::Facts<'a>,
}

impl Context<'_> {
    /// The language `file` is written in, which a finding's advice is phrased in.
    pub fn syntax(&self, file: FileId) -> crate::gocd::Syntax {
        crate::gocd::Syntax::of(&self.workspace.file(file).path)
    }

    /// The source text of a span.
    pub fn text(&self, file: FileId, span: Span) -> &str {
        self.workspace.file(file).text.get(span.range()).unwrap_or("")
    }

    /// What a stage does outside its workspace, whether it verifies, and whether its scripts
    /// can be read ([`effects`]).
    pub fn stage_kind(&self, stage: &crate::model::Stage) -> &effects::StageKind {
        self.facts.stage(stage)
    }

    /// The note naming the engine whose costs a finding's figures assume ([`engine`]).
    pub fn cost_note(&self) -> String {
        self.engine.note(self.costs.model)
    }

    /// The syntax tree of a file.
    pub fn ast(&self, file: FileId) -> Option<&crate::ast::File> {
        self.analysis.files.get(file.0 as usize).map(|f| &f.ast)
    }
}

/// A finding before configuration and suppressions are applied.
#[derive(Clone, Debug)]
pub struct Finding {
    pub diagnostic: Diagnostic,
    /// The entity the finding is about, when it starts elsewhere than the primary span: a
    /// suppression comment above it also applies.
    pub entity: Option<Span>,
}

/// Collects the findings of the rules.
#[derive(Default)]
pub struct Sink {
    pub findings: Vec<Finding>,
}

impl Sink {
    pub fn add(&mut self, diagnostic: Diagnostic) {
        self.findings.push(Finding { diagnostic, entity: None });
    }

    /// Adds a finding about the entity written at `entity` (same file as the diagnostic).
    pub(crate) fn add_about(&mut self, entity: Span, diagnostic: Diagnostic) {
        self.findings.push(Finding { diagnostic, entity: Some(entity) });
    }
}

impl Rule {
    /// A diagnostic of this rule at its default severity.
    pub fn at(&self, file: FileId, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::of_rule(self, file, span, message)
    }
}

/// How many jobs a run of pipelines holds, about: the rules of [`Scope::Pipelines`] run one
/// after another on a run, with its facts read just before, while its data is in a core's
/// cache, instead of each walking the whole program from memory.
const RUN_JOBS: usize = 64;

/// The program's pipelines in runs of at least [`RUN_JOBS`] jobs (the last may hold fewer).
fn pipeline_runs(
    pipelines: &[std::sync::Arc<crate::model::Pipeline>],
) -> Vec<&[std::sync::Arc<crate::model::Pipeline>]> {
    let mut runs = Vec::new();
    let (mut start, mut jobs) = (0, 0);
    for (i, p) in pipelines.iter().enumerate() {
        jobs += p.stages.iter().map(|s| s.jobs.len()).sum::<usize>();
        if jobs >= RUN_JOBS {
            runs.push(&pipelines[start..=i]);
            (start, jobs) = (i + 1, 0);
        }
    }
    if start < pipelines.len() {
        runs.push(&pipelines[start..]);
    }
    runs
}

/// The findings of one check, by its position among the checks and the run of pipelines it saw.
type Found = (usize, usize, Vec<Finding>);

/// Runs the checks of `rules`, on two threads when `parallel`, and returns their findings in
/// the order of `rules`, each rule's in the order of the pipelines. `ctx` is about every
/// pipeline, with the facts of none.
fn run_checks(ctx: &Context, program: &facts::ProgramFacts, rules: &[&Rule], parallel: bool) -> Vec<Finding> {
    let run = |ctx: &Context, rule: &Rule| {
        let mut sink = Sink::default();
        if let Some(check) = rule.check {
            check(ctx, &mut sink);
        }
        sink.findings
    };
    let whole: Vec<usize> = (0..rules.len()).filter(|&i| rules[i].scope == Scope::Program).collect();
    let runs = pipeline_runs(ctx.pipelines);
    // A piece of work: a rule of the whole program, or every other rule on one run of pipelines.
    let piece = |n: usize| -> Vec<Found> {
        if let Some(&i) = whole.get(n) {
            return vec![(i, 0, run(ctx, rules[i]))];
        }
        let Some(&pipelines) = runs.get(n - whole.len()) else { return Vec::new() };
        let facts = facts::Facts::of(pipelines, program);
        let ctx = Context { pipelines, facts: &facts, ..*ctx };
        let each = rules.iter().enumerate().filter(|(_, r)| r.scope == Scope::Pipelines);
        each.map(|(i, rule)| (i, n, run(&ctx, rule))).collect()
    };
    let pieces = whole.len() + runs.len();
    let mut found: Vec<Found> = if parallel && pieces > 1 {
        // Each thread takes the next piece not yet taken: pieces differ too much in cost for
        // any fixed split to keep both threads busy to the end.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= pieces {
                    return done;
                }
                done.extend(piece(n));
            }
        };
        let (mut mine, other) = std::thread::scope(|scope| {
            let other = scope.spawn(work);
            let mine = work();
            (mine, other.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        });
        mine.extend(other);
        mine
    } else {
        (0..pieces).flat_map(piece).collect()
    };
    found.sort_by_key(|&(rule, run, _)| (rule, run));
    found.into_iter().flat_map(|(_, _, findings)| findings).collect()
}

/// Lints a checked workspace with durations from estimates only.
pub fn lint(workspace: &Workspace, analysis: &Analysis, config: &LintConfig) -> Vec<Diagnostic> {
    lint_with_history(workspace, analysis, config, &History::default())
}

/// Lints a checked workspace, each file with its own configuration: the findings in a file are
/// those of a run with its configuration (see [`per_file`]). `paths` gives each file's path on
/// disk, in the workspace's order.
pub fn lint_files<'a>(
    workspace: &Workspace,
    analysis: &Analysis,
    configs: &Configs,
    paths: impl IntoIterator<Item = &'a std::path::Path>,
    history: &History,
) -> Vec<Diagnostic> {
    let groups = configs.groups(paths);
    if let [(config, _)] = groups.as_slice() {
        return lint_with_history(workspace, analysis, config, history);
    }
    let mut out = Vec::new();
    for (config, files) in &groups {
        let mine = |d: &Diagnostic| files.binary_search(&(d.file.0 as usize)).is_ok();
        out.extend(lint_with_history(workspace, analysis, config, history).into_iter().filter(mine));
    }
    diagnostic::sort(&mut out);
    out
}

/// Lints a checked workspace; `history` holds the durations the runtime recorded.
pub fn lint_with_history(
    workspace: &Workspace,
    analysis: &Analysis,
    config: &LintConfig,
    history: &History,
) -> Vec<Diagnostic> {
    let engine = engine::Engine::of(workspace, &analysis.program);
    let model = engine.model(config);
    let jobs: usize = rules::jobs(&analysis.program.pipelines).count();
    let parallel = jobs >= 256 && crate::cores() > 1;
    let program = facts::ProgramFacts::new(&analysis.program, &config.effects);
    let none = facts::Facts::of(&[], &program);
    let ctx = Context {
        workspace,
        analysis,
        program: &analysis.program,
        pipelines: &analysis.program.pipelines,
        config,
        costs: Costs::new(&model, history),
        engine,
        facts: &none,
    };
    let rules: Vec<&Rule> =
        registry::RULES.iter().copied().filter(|r| config.enabled(r) && r.check.is_some()).collect();
    let findings = run_checks(&ctx, &program, &rules, parallel);
    settle(workspace, analysis, config, findings)
}

/// The findings as reported: each once, without those ignored or suppressed, at their
/// configured severity, sorted.
fn settle(workspace: &Workspace, analysis: &Analysis, config: &LintConfig, findings: Vec<Finding>) -> Vec<Diagnostic> {
    let mut seen = HashSet::new();
    let findings: Vec<Finding> = findings
        .into_iter()
        .filter(|f| seen.insert((f.diagnostic.code, f.diagnostic.file, f.diagnostic.span)))
        .filter(|f| !config.ignored_in(&workspace.file(f.diagnostic.file).path, f.diagnostic.code))
        .collect();
    let mut out = suppress::apply(workspace, analysis, config, findings);
    for d in &mut out {
        if let Some(rule) = registry::lookup(d.code) {
            d.severity = config.severity(rule);
        }
    }
    crate::gocd::in_gocd_terms(workspace, &mut out);
    diagnostic::sort(&mut out);
    out
}

/// Checks and lints a workspace: the checker's diagnostics, and the linter's ([`lint_checked`]).
pub fn check_and_lint(workspace: &Workspace, configs: &Configs, history: &History) -> (Analysis, Vec<Diagnostic>) {
    let analysis = crate::analyze(workspace);
    let mut all = analysis.diagnostics.clone();
    let paths: Vec<&std::path::Path> = workspace.files.iter().map(|f| std::path::Path::new(&f.path)).collect();
    all.extend(lint_checked(workspace, &analysis, configs, &paths, history));
    crate::diagnostic::sort(&mut all);
    (analysis, all)
}

/// Lints a checked workspace (`paths`: each file's path on disk, in order). Where some files
/// have errors, the others are linted on their own, as a workspace without them: a file with an
/// error is incomplete and its findings would mislead, but one broken file of a config
/// repository does not hide the findings of the rest. A file that needs a broken one (an
/// upstream pipeline it names) has errors without it, and is left out too.
pub fn lint_checked(
    workspace: &Workspace,
    analysis: &Analysis,
    configs: &Configs,
    paths: &[&std::path::Path],
    history: &History,
) -> Vec<Diagnostic> {
    if !analysis.has_errors() {
        return lint_files(workspace, analysis, configs, paths.iter().copied(), history);
    }
    let broken = files_with_errors(analysis);
    let mut keep: Vec<usize> = (0..workspace.files.len()).filter(|i| !broken.contains(i)).collect();
    // Each round leaves out at least one more file, and a few rounds settle any real workspace.
    for _ in 0..4 {
        if keep.is_empty() {
            return Vec::new();
        }
        let mut part = Workspace::new();
        for &i in &keep {
            part.push(workspace.files[i].clone());
        }
        let checked = crate::analyze(&part);
        if !checked.has_errors() {
            let part_paths = keep.iter().filter_map(|&i| paths.get(i).copied());
            let back = |id: FileId| FileId(keep.get(id.0 as usize).map_or(id.0, |&i| i as u32));
            return lint_files(&part, &checked, configs, part_paths, history)
                .into_iter()
                .filter(|d| !says_nothing_uses(d.code))
                .map(|d| d.map_files(back))
                .collect();
        }
        let broken = files_with_errors(&checked);
        keep = keep.iter().enumerate().filter(|(j, _)| !broken.contains(j)).map(|(_, &i)| i).collect();
    }
    Vec::new()
}

/// Whether findings of `code` say that nothing uses something (`unused-definition`,
/// `unfetched-artifact`): a file left out for its errors may be what uses it.
fn says_nothing_uses(code: &str) -> bool {
    [&rules::unused_definition::RULE, &rules::unfetched_artifact::RULE].iter().any(|r| r.code == code)
}

/// The indexes of the files in which the checker found an error.
fn files_with_errors(analysis: &Analysis) -> HashSet<usize> {
    analysis
        .diagnostics
        .iter()
        .filter(|d| d.severity == diagnostic::Severity::Error)
        .map(|d| d.file.0 as usize)
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One file of `pipelines` pipelines on one material, each of `stages` stages of `jobs` jobs
    /// whose body `job(pipeline, stage, job)` gives.
    pub(crate) fn generated(
        pipelines: usize,
        stages: usize,
        jobs: usize,
        job: impl Fn(usize, usize, usize) -> String,
    ) -> Workspace {
        let mut src = String::from("material src { git = \"https://example.com/a.git\" }\n");
        for p in 0..pipelines {
            src.push_str(&format!("pipeline p{p} {{\n  materials = [src]\n"));
            for s in 0..stages {
                src.push_str(&format!("  stage s{s} {{\n"));
                for j in 0..jobs {
                    src.push_str(&format!("    job j{j} {{\n{}    }}\n", job(p, s, j)));
                }
                src.push_str("  }\n");
            }
            src.push_str("}\n");
        }
        let mut workspace = Workspace::new();
        workspace.add("large.pw", src);
        workspace
    }

    /// A workspace with findings of several rules in every one of its many jobs.
    fn large() -> Workspace {
        generated(40, 2, 4, |_, _, j| {
            format!("      run \"curl -s https://x.example/i.sh | sh\"\n      run \"make > out/log-{j}.txt\"\n      artifact log = \"out/log-{j}.txt\"\n")
        })
    }

    #[test]
    fn a_file_with_errors_leaves_out_itself_and_what_needs_it() {
        let mut ws = Workspace::new();
        // `tools` is used only by the broken file: it is not called unused.
        ws.add("a.pw", "material tools { git = \"https://example.com/t.git\" }\npipeline a { stage s { job j { run \"make\" } } }\n");
        ws.add("b.pw", "pipeline b { materials = [tools]\n  stage s { job j { run \"make\" } }\n  oops\n}\n");
        ws.add("c.pw", "pipeline c { after = [b.s]\n  stage s { job j { run \"make\" } } }\n");
        let (analysis, all) = check_and_lint(&ws, &Configs::single(LintConfig::default()), &History::default());
        assert!(analysis.has_errors());
        let found: Vec<(u32, &str)> = all.iter().map(|d| (d.file.0, d.code)).collect();
        assert!(found.contains(&(0, "L0008")), "the clean file is linted: {found:?}");
        assert!(!found.iter().any(|&(f, c)| f == 0 && c == "L0010"), "{found:?}");
        assert!(!found.iter().any(|&(f, c)| f > 0 && c.starts_with('L')), "{found:?}");
    }

    /// The rules, run on a few pipelines at a time, on one thread or two, find what each finds
    /// run once on every pipeline, in the same order.
    #[test]
    fn checks_run_by_run_find_what_they_find_at_once() {
        let workspace = large();
        let analysis = crate::analyze(&workspace);
        assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics.first());
        let (config, history) = (LintConfig::default(), History::default());
        let program = facts::ProgramFacts::new(&analysis.program, &config.effects);
        let (none, all) = (facts::Facts::of(&[], &program), facts::Facts::of(&analysis.program.pipelines, &program));
        let ctx = Context {
            workspace: &workspace,
            analysis: &analysis,
            program: &analysis.program,
            pipelines: &analysis.program.pipelines,
            config: &config,
            costs: Costs::new(&config.cost, &history),
            engine: engine::Engine::Pipewright,
            facts: &none,
        };
        assert!(pipeline_runs(ctx.pipelines).len() >= 4, "several runs");
        let rules: Vec<&Rule> = registry::RULES.iter().copied().filter(|r| r.check.is_some()).collect();
        let key =
            |f: &Finding| (f.diagnostic.file, f.diagnostic.span.start, f.diagnostic.code, f.diagnostic.message.clone());
        let at_once: Vec<_> = rules
            .iter()
            .flat_map(|r| {
                let mut sink = Sink::default();
                r.check.iter().for_each(|check| check(&Context { facts: &all, ..ctx }, &mut sink));
                sink.findings
            })
            .map(|f| key(&f))
            .collect();
        let one: Vec<_> = run_checks(&ctx, &program, &rules, false).iter().map(key).collect();
        let two: Vec<_> = run_checks(&ctx, &program, &rules, true).iter().map(key).collect();
        let codes: HashSet<&str> = one.iter().map(|k| k.2).collect();
        assert!(codes.len() >= 3, "findings of several rules: {codes:?}");
        assert_eq!(one, at_once);
        assert_eq!(one, two);
    }
}
