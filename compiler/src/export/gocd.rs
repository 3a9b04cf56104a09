//! `.pw` to GoCD YAML (the gocd-yaml-config-plugin's `format_version: 10`), one file per
//! pipeline. Works from the checked program rather than the plan: the program keeps the spans
//! that diagnostics point at and every artifact's declaration, which a fetch needs.

use super::codes::{ARTIFACT_KIND_GUESSED, CANNOT_EXPRESS, SETTING_DROPPED, TIMEOUT_ROUNDED, UPSTREAM_NOT_EXPORTED};
use super::yaml::{self, Node};
use super::{Export, ExportedFile};
use crate::diagnostic::{self, Diagnostic};
use crate::model::{self, Action, Approval, OnFailure, Origin, Program, When};
use crate::plan::{topological_order, DEFAULT_WAIT_LIMIT_SECONDS};
use crate::source::Workspace;
use std::collections::{HashMap, HashSet, VecDeque};

/// The configuration format written; GoCD 20.8 and later read it.
pub const FORMAT_VERSION: u64 = 10;

/// The secret config `secret("x")` is looked up in when none is named.
pub const DEFAULT_SECRET_CONFIG: &str = "pipewright";

/// How often GoCD polls a material by default, and so the `poll` that exports unchanged.
const GOCD_POLL_SECS: u64 = 60;

/// Last path segments taken for folders when a fetch must say whether it gets a file.
const FOLDER_NAMES: &[&str] = &[
    "artifacts",
    "bin",
    "build",
    "coverage",
    "debug",
    "dist",
    "doc",
    "docs",
    "html",
    "lib",
    "logs",
    "node_modules",
    "out",
    "output",
    "pkg",
    "public",
    "release",
    "report",
    "reports",
    "results",
    "site",
    "target",
    "test-results",
    "vendor",
    "www",
];

#[derive(Clone, Debug)]
pub struct Options {
    /// The id of the GoCD secret config that `secret("x")` references name.
    pub secret_config: String,
}

impl Default for Options {
    fn default() -> Self {
        Options { secret_config: DEFAULT_SECRET_CONFIG.to_string() }
    }
}

/// Whether GoCD accepts `id` as a secret config's id: letters, digits, `_`, `-` and `.`.
pub fn is_valid_config_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Exports every pipeline GoCD can express as `NAME.gocd.yaml`; the others, and the pipelines
/// downstream of them, are reported and left out.
pub fn export(workspace: &Workspace, program: &Program, options: &Options) -> Export {
    let mut out = Export::default();
    let mut left_out: HashSet<String> = HashSet::new();
    for pipeline in topological_order(program) {
        if let Some(up) = pipeline.after.iter().find(|u| left_out.contains(&u.pipeline.to_ascii_lowercase())) {
            out.diagnostics.push(
                Diagnostic::error(
                    UPSTREAM_NOT_EXPORTED,
                    up.file,
                    up.span,
                    format!(
                        "pipeline `{}` is not exported: its upstream `{}` could not be",
                        pipeline.name, up.pipeline
                    ),
                )
                .with_label("not exported")
                .with_help("fix the error reported for the upstream; GoCD rejects a dependency on an unknown pipeline"),
            );
            left_out.insert(pipeline.name.to_ascii_lowercase());
            continue;
        }
        let mut writer = PipelineWriter { workspace, program, options, pipeline, diagnostics: Vec::new() };
        let body = writer.pipeline();
        if writer.diagnostics.iter().any(Diagnostic::is_error) {
            // What would have changed in a pipeline that is not written does not matter yet.
            out.diagnostics.extend(writer.diagnostics.into_iter().filter(Diagnostic::is_error));
            left_out.insert(pipeline.name.to_ascii_lowercase());
            continue;
        }
        out.diagnostics.append(&mut writer.diagnostics);
        let document = Node::map([
            ("format_version", Node::Int(FORMAT_VERSION)),
            ("pipelines", Node::map([(pipeline.name.clone(), body)])),
        ]);
        out.files.push(ExportedFile { path: format!("{}.gocd.yaml", pipeline.name), text: yaml::to_string(&document) });
    }
    diagnostic::sort(&mut out.diagnostics);
    // Jobs of one fan-out share their origin, so they would repeat each finding.
    out.diagnostics.dedup_by(|a, b| (a.code, a.file, a.span, &a.message) == (b.code, b.file, b.span, &b.message));
    out
}

/// A string value as GoCD should read it: GoCD substitutes `#{param}` in values and reads `##`
/// as one `#`, so every `#` is doubled.
fn text(s: &str) -> Node {
    Node::Str(s.replace('#', "##"))
}

/// Builds one pipeline's YAML and collects what does not map.
struct PipelineWriter<'a> {
    workspace: &'a Workspace,
    program: &'a Program,
    options: &'a Options,
    pipeline: &'a model::Pipeline,
    diagnostics: Vec<Diagnostic>,
}

type Pairs = Vec<(String, Node)>;

fn pair(key: &str, value: Node) -> (String, Node) {
    (key.to_string(), value)
}

impl PipelineWriter<'_> {
    fn error(&mut self, origin: &Origin, message: String, label: &str, help: &str) {
        let note = format!("pipeline `{}` is not exported; the other pipelines are", self.pipeline.name);
        let d = Diagnostic::error(CANNOT_EXPRESS, origin.file, origin.name, message);
        self.diagnostics.push(d.with_label(label).with_help(help).with_note(note));
    }

    fn warn(&mut self, code: super::codes::ExportCode, origin: &Origin, message: String, help: &str) {
        let d = Diagnostic::warning(code, origin.file, origin.name, message).with_label("not as written on GoCD");
        self.diagnostics.push(d.with_help(help));
    }

    fn pipeline(&mut self) -> Node {
        let p = self.pipeline;
        let mut pairs = vec![pair("group", Node::str(group(self.workspace, p)))];
        match p.max_instances {
            Some(1) => pairs.push(pair("lock_behavior", Node::str("unlockWhenFinished"))),
            Some(n) => self.warn(
                SETTING_DROPPED,
                &p.origin,
                format!("`max_instances = {n}` is left out: GoCD limits a pipeline to one instance or none"),
                "use `max_instances = 1` to keep a limit on GoCD (`lock_behavior: unlockWhenFinished`)",
            ),
            None => {}
        }
        if !p.env.is_empty() {
            pairs.push(pair("environment_variables", self.env(&p.env)));
        }
        pairs.push(pair("materials", self.materials()));
        let stages = p.stages.iter().map(|s| self.stage(s)).collect();
        pairs.push(pair("stages", Node::List(stages)));
        Node::Map(pairs)
    }

    fn env(&mut self, vars: &[model::EnvVar]) -> Node {
        let mut pairs = Pairs::new();
        for var in vars {
            let value = match &var.value {
                model::EnvValue::Literal(s) => text(s),
                model::EnvValue::Secret(name) => self.secret(var, name),
            };
            pairs.push((var.name.clone(), value));
        }
        Node::Map(pairs)
    }

    /// `{{SECRET:[config][name]}}`, which GoCD resolves through the named secret config.
    fn secret(&mut self, var: &model::EnvVar, name: &str) -> Node {
        if name.contains(['[', ']', '{', '}']) {
            let origin = Origin { file: var.origin.file, span: var.value_span, name: var.value_span };
            self.error(
                &origin,
                format!("the secret name `{name}` cannot be written in a GoCD secret reference"),
                "holds a bracket or a brace",
                "rename the secret without `[`, `]`, `{` and `}`",
            );
        }
        text(&format!("{{{{SECRET:[{}][{name}]}}}}", self.options.secret_config))
    }

    fn materials(&mut self) -> Node {
        let p = self.pipeline;
        if p.materials.is_empty() && p.after.is_empty() {
            self.error(
                &p.origin,
                format!("pipeline `{}` has no material, which GoCD cannot express", p.name),
                "runs only when started by hand",
                "give it a material: every GoCD pipeline needs one to be scheduled",
            );
        }
        let mut pairs = Pairs::new();
        let gits: Vec<&model::Material> = p.materials.iter().filter_map(|r| self.program.material(&r.name)).collect();
        for m in &gits {
            if gits.len() > 1 && m.path == "." {
                self.error(
                    &m.origin,
                    format!("material `{}` is checked out at the workspace's root beside other materials", m.name),
                    "`path` is `.`",
                    "give each material of the pipeline its own `path`: GoCD needs a folder for each",
                );
            }
            pairs.push((m.name.clone(), self.git(m)));
        }
        for up in &p.after {
            let key = if pairs.iter().any(|(k, _)| k.eq_ignore_ascii_case(&up.pipeline)) {
                format!("{}-upstream", up.pipeline)
            } else {
                up.pipeline.clone()
            };
            let body = Node::map([("pipeline", Node::str(&up.pipeline)), ("stage", Node::str(&up.stage))]);
            pairs.push((key, body));
        }
        Node::Map(pairs)
    }

    fn git(&mut self, m: &model::Material) -> Node {
        if m.poll_secs != GOCD_POLL_SECS {
            self.warn(
                SETTING_DROPPED,
                &m.origin,
                format!(
                    "`poll` of material `{}` is left out: GoCD polls every material at the server's interval",
                    m.name
                ),
                "set the interval on the GoCD server (`materialUpdateInterval`, one minute by default)",
            );
        }
        let mut pairs = vec![pair("git", text(&m.git)), pair("branch", text(&m.branch))];
        if m.path != "." {
            pairs.push(pair("destination", text(&m.path)));
        }
        Node::Map(pairs)
    }

    fn stage(&mut self, s: &model::Stage) -> Node {
        // Every `.pw` job starts in a fresh workspace.
        let mut pairs = vec![pair("clean_workspace", Node::Bool(true))];
        if !s.fetch_materials {
            pairs.push(pair("fetch_materials", Node::Bool(false)));
        }
        if s.approval == Approval::Manual {
            // `.pw` never starts a stage after a failed one, even by hand.
            let approval = Node::map([("type", Node::str("manual")), ("allow_only_on_success", Node::Bool(true))]);
            pairs.push(pair("approval", approval));
        }
        if !s.env.is_empty() {
            pairs.push(pair("environment_variables", self.env(&s.env)));
        }
        if s.on_failure == OnFailure::Cancel {
            self.warn(
                SETTING_DROPPED,
                &s.origin,
                format!("`on_failure = cancel` of stage `{}` is left out: GoCD lets the other jobs finish", s.name),
                "the stage still fails; only the other jobs' agents stay busy longer",
            );
        }
        let jobs = s.jobs.iter().map(|j| (j.name.clone(), self.job(s, j))).collect();
        pairs.push(pair("jobs", Node::Map(jobs)));
        Node::map([(s.name.clone(), Node::Map(pairs))])
    }

    fn job(&mut self, s: &model::Stage, j: &model::Job) -> Node {
        if j.discover.is_some() {
            self.error(
                &j.origin,
                format!("job `{}` of stage `{}` is fanned out with `discover(...)`, which GoCD cannot express", j.name, s.name),
                "one job per line of a command's output, made when the stage starts",
                "GoCD fixes a stage's jobs with its configuration: list the values with `for v in [...]`, or loop over them in one job's script",
            );
        }
        let mut pairs = Pairs::new();
        if let Some(secs) = j.timeout_secs {
            pairs.push(pair("timeout", Node::Int(self.timeout_minutes(j, secs))));
        }
        if !j.resources.is_empty() {
            pairs.push(pair("resources", Node::List(j.resources.iter().map(|r| text(r)).collect())));
        }
        if j.wait_limit_secs != DEFAULT_WAIT_LIMIT_SECONDS {
            self.warn(
                SETTING_DROPPED,
                &j.origin,
                format!(
                    "`wait_limit` of job `{}` is left out: a GoCD job waits for an agent as long as it takes",
                    j.name
                ),
                "watch for jobs waiting on GoCD's agents page instead",
            );
        }
        if !j.env.is_empty() {
            pairs.push(pair("environment_variables", self.env(&j.env)));
        }
        if !j.artifacts.is_empty() {
            let artifacts = j.artifacts.iter().map(|a| {
                // GoCD reads a `test` artifact as test results and shows them in the job's Tests tab.
                let kind = if a.kind == Some(model::ArtifactKind::Report) { "test" } else { "build" };
                let body = Node::map([("source", text(&a.path)), ("destination", text(&a.name))]);
                Node::map([(kind, body)])
            });
            pairs.push(pair("artifacts", Node::List(artifacts.collect())));
        }
        pairs.push(pair("tasks", Node::List(j.tasks.iter().map(|t| self.task(t)).collect())));
        Node::Map(pairs)
    }

    /// Whole minutes, rounded up; a warning when that changes the timeout.
    fn timeout_minutes(&mut self, j: &model::Job, secs: u64) -> u64 {
        let minutes = secs.div_ceil(60);
        if secs % 60 != 0 {
            self.warn(
                TIMEOUT_ROUNDED,
                &j.origin,
                format!("the timeout of job `{}` ({secs}s) is rounded up to {minutes} minutes", j.name),
                "GoCD counts timeouts in whole minutes: write the timeout in minutes to keep it exact",
            );
        }
        minutes
    }

    fn task(&mut self, t: &model::Task) -> Node {
        let (kind, mut body) = match &t.action {
            // `.pw` runs a script with `sh -c`, without `-e`: a failing line fails the task only
            // when it is the last one.
            Action::Shell(script) => ("exec", exec("sh", &["-c".to_string(), script.clone()])),
            // The checker rejects an empty argv.
            Action::Exec(argv) => {
                ("exec", exec(argv.first().map_or("", String::as_str), argv.get(1..).unwrap_or_default()))
            }
            Action::Fetch(f) => ("fetch", self.fetch(t, f)),
        };
        if let Some(dir) = &t.dir {
            body.push(pair("working_directory", text(dir)));
        }
        match t.when {
            When::Passed => {}
            When::Failed => body.push(pair("run_if", Node::str("failed"))),
            When::Always => body.push(pair("run_if", Node::str("any"))),
        }
        Node::map([(kind, Node::Map(body))])
    }

    fn fetch(&mut self, t: &model::Task, f: &model::Fetch) -> Pairs {
        let mut pairs = Pairs::new();
        if !f.pipeline.eq_ignore_ascii_case(&self.pipeline.name) {
            pairs.push(pair("pipeline", Node::str(self.ancestor_path(&f.pipeline))));
        }
        pairs.push(pair("stage", Node::str(&f.stage)));
        pairs.push(pair("job", Node::str(&f.job)));
        let declared = self
            .program
            .pipeline(&f.pipeline)
            .and_then(|p| p.stage(&f.stage))
            .and_then(|s| s.job(&f.job))
            .and_then(|j| j.artifacts.iter().find(|a| a.name.eq_ignore_ascii_case(&f.artifact)));
        let (name, path) = declared.map_or((f.artifact.as_str(), f.artifact.as_str()), |a| (&a.name, &a.path));
        let base = path.rsplit('/').next().unwrap_or(path);
        // The artifact is published under a folder named after it (see `job`).
        pairs.push(pair("source", text(&format!("{name}/{base}"))));
        if f.into != "." {
            pairs.push(pair("destination", text(&f.into)));
        }
        let is_file = match artifact_kind(base) {
            Kind::File => true,
            Kind::Folder => false,
            Kind::Unknown => {
                let message =
                    format!("artifact `{name}` (`{path}`) is fetched as a file, which its path does not show");
                let mut d = Diagnostic::warning(ARTIFACT_KIND_GUESSED, t.origin.file, t.origin.name, message)
                    .with_label("exported with `is_file: true`")
                    .with_help("if it is a folder, set `is_file: false` in the exported fetch, or publish an archive");
                if let Some(a) = declared {
                    d = d.with_secondary(a.origin.file, a.origin.name, "published here");
                }
                self.diagnostics.push(d);
                true
            }
        };
        pairs.push(pair("is_file", Node::Bool(is_file)));
        pairs
    }

    /// GoCD's path to an upstream: its name when it is a direct upstream, otherwise
    /// `ancestor/.../parent`, through the shortest chain of `after` edges.
    fn ancestor_path(&self, target: &str) -> String {
        let key = |name: &str| name.to_ascii_lowercase();
        let mut child_of: HashMap<String, String> = HashMap::new();
        let mut queue: VecDeque<&model::Pipeline> = VecDeque::from([self.pipeline]);
        let mut found = None;
        while let Some(p) = queue.pop_front() {
            if p.name.eq_ignore_ascii_case(target) {
                found = Some(p);
                break;
            }
            for up in &p.after {
                let Some(upstream) = self.program.pipeline(&up.pipeline) else { continue };
                if upstream.name.eq_ignore_ascii_case(&self.pipeline.name)
                    || child_of.contains_key(&key(&upstream.name))
                {
                    continue;
                }
                child_of.insert(key(&upstream.name), p.name.clone());
                queue.push_back(upstream);
            }
        }
        let Some(found) = found else { return target.to_string() };
        let mut path = vec![found.name.clone()];
        let mut at = key(&found.name);
        while let Some(child) = child_of.get(&at) {
            if child.eq_ignore_ascii_case(&self.pipeline.name) {
                break;
            }
            path.push(child.clone());
            at = key(child);
        }
        path.join("/")
    }
}

fn exec(command: &str, args: &[String]) -> Pairs {
    let mut pairs = vec![pair("command", text(command))];
    if !args.is_empty() {
        pairs.push(pair("arguments", Node::List(args.iter().map(|a| text(a)).collect())));
    }
    pairs
}

/// The group of a pipeline: the name of the file it is declared in, without `.pw` (or
/// `.gocd.yaml`), in GoCD's
/// characters.
fn group(workspace: &Workspace, p: &model::Pipeline) -> String {
    let path = &workspace.file(p.origin.file).path;
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let stem = [".pw", ".gocd.yaml", ".gocd.yml"].iter().find_map(|s| file.strip_suffix(s)).unwrap_or(file);
    let group: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '-' }).collect();
    if group.is_empty() {
        "pipewright".to_string()
    } else {
        group
    }
}

/// What an artifact's path names, as far as the path shows.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Folder,
    Unknown,
}

/// A path's last segment with an extension is a file, a common folder name a folder.
pub(crate) fn artifact_kind(base: &str) -> Kind {
    if base.char_indices().any(|(i, c)| c == '.' && i > 0 && i + 1 < base.len()) {
        Kind::File
    } else if FOLDER_NAMES.iter().any(|f| f.eq_ignore_ascii_case(base)) {
        Kind::Folder
    } else {
        Kind::Unknown
    }
}

#[cfg(test)]
mod tests;
