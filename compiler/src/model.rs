//! The checked program: the workspace after resolution and type checking, with templates and
//! static `for` fan-outs expanded and every reference resolved. The linter and the language
//! server read it; the planner turns it into the [`Plan`](crate::plan::Plan).

use crate::source::{FileId, Span};
use crate::symbols::Symbols;
use std::sync::Arc;

/// Where an entity was written: its whole text and its name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Origin {
    pub file: FileId,
    pub span: Span,
    pub name: Span,
}

/// A name written in the source that refers to something, and where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameRef {
    pub name: String,
    pub file: FileId,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Program {
    pub materials: Vec<Material>,
    /// In source order; the plan orders them by the `after` graph. Shared: the language
    /// server's check after an edit keeps the pipelines the edit did not change
    /// ([`crate::check::Kept`]).
    pub pipelines: Vec<Arc<Pipeline>>,
    pub templates: Vec<TemplateInfo>,
    pub symbols: Symbols,
}

impl Program {
    pub fn pipeline(&self, name: &str) -> Option<&Pipeline> {
        self.pipelines.iter().find(|p| p.name.eq_ignore_ascii_case(name)).map(|p| &**p)
    }

    pub fn material(&self, name: &str) -> Option<&Material> {
        self.materials.iter().find(|m| m.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Clone, Debug)]
pub struct Material {
    pub name: String,
    pub git: String,
    pub branch: String,
    pub poll_secs: u64,
    /// Where it is checked out in a job's workspace, relative to it; `.` by default.
    pub path: String,
    pub origin: Origin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateKind {
    Pipeline,
    Stage,
    Job,
}

impl TemplateKind {
    pub fn keyword(self) -> &'static str {
        match self {
            TemplateKind::Pipeline => "pipeline",
            TemplateKind::Stage => "stage",
            TemplateKind::Job => "job",
        }
    }
}

#[derive(Clone, Debug)]
pub struct TemplateInfo {
    pub name: String,
    pub kind: TemplateKind,
    pub params: Vec<ParamInfo>,
    pub origin: Origin,
    /// Doc comment lines written right above the template, `#` removed.
    pub doc: Vec<String>,
    /// How many times it is instantiated.
    pub uses: usize,
}

#[derive(Clone, Debug)]
pub struct ParamInfo {
    pub name: String,
    pub ty: ParamType,
    /// The default, as written.
    pub default: Option<String>,
    pub span: Span,
    /// How many times the template body interpolates or uses it.
    pub uses: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    String,
    Int,
    Bool,
    Duration,
    List,
}

impl ParamType {
    pub fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Int => "int",
            ParamType::Bool => "bool",
            ParamType::Duration => "duration",
            ParamType::List => "list",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Pipeline {
    pub name: String,
    pub materials: Vec<NameRef>,
    pub after: Vec<Upstream>,
    pub max_instances: Option<u32>,
    pub env: Vec<EnvVar>,
    pub stages: Vec<Stage>,
    pub origin: Origin,
    /// The template it was made from.
    pub template: Option<String>,
}

impl Pipeline {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }
}

/// `after = [pipeline.stage]`
#[derive(Clone, Debug)]
pub struct Upstream {
    pub pipeline: String,
    pub stage: String,
    pub file: FileId,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct EnvVar {
    pub name: String,
    pub value: EnvValue,
    pub origin: Origin,
    /// The span of the value.
    pub value_span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvValue {
    Literal(String),
    /// `secret("name")`: resolved by the runtime, never stored in the plan.
    Secret(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approval {
    /// Starts when the previous stage passes.
    Success,
    /// Waits for a person.
    Manual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// The other jobs of the stage finish.
    Finish,
    /// The other jobs of the stage are cancelled.
    Cancel,
}

#[derive(Clone, Debug)]
pub struct Stage {
    pub name: String,
    pub approval: Approval,
    pub on_failure: OnFailure,
    pub fetch_materials: bool,
    /// Variables of every job of the stage: over the pipeline's, under each job's.
    pub env: Vec<EnvVar>,
    pub jobs: Vec<Job>,
    pub origin: Origin,
    pub template: Option<String>,
}

impl Stage {
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub resources: Vec<String>,
    pub timeout_secs: Option<u64>,
    /// Where the job says it never times out (GoCD's `timeout: 0`); `timeout_secs` is `None`.
    pub never_times_out: Option<Span>,
    /// How long it may wait for an agent before it fails.
    pub wait_limit_secs: u64,
    /// `estimate = 2m`, for the linter's cost model.
    pub estimate_secs: Option<u64>,
    pub env: Vec<EnvVar>,
    pub tasks: Vec<Task>,
    pub artifacts: Vec<ArtifactDecl>,
    /// A `discover(...)` fan-out, expanded by the runtime when the stage starts.
    pub discover: Option<Box<Discover>>,
    /// The static `for` fan-out this job is one instance of.
    pub instance_of: Option<Box<FanOutInstance>>,
    pub origin: Origin,
    pub template: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discover {
    pub var: String,
    pub command: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FanOutInstance {
    /// The job's name as written, before the instance suffix.
    pub base: String,
    pub var: String,
    pub value: String,
}

#[derive(Clone, Debug)]
pub struct ArtifactDecl {
    pub name: String,
    pub path: String,
    /// Who reads it besides fetches (`{ kind = report }`); `None`: it is meant to be fetched.
    pub kind: Option<ArtifactKind>,
    pub origin: Origin,
}

/// The declared purpose of an artifact that is read other than by a fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactKind {
    /// Test results or a report that people read on the server.
    Report,
    /// What people download: a release binary, a package.
    Deliverable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Passed,
    Failed,
    Always,
}

#[derive(Clone, Debug)]
pub struct Task {
    pub action: Action,
    /// `run ... in "folder"`: the folder of the job's workspace a command runs in, normalised;
    /// `None`: the workspace itself.
    pub dir: Option<String>,
    pub when: When,
    pub estimate_secs: Option<u64>,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `run "script"`: through `sh -c`.
    Shell(String),
    /// `run ["argv", ...]`: no shell.
    Exec(Vec<String>),
    Fetch(Box<Fetch>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetch {
    pub pipeline: String,
    pub stage: String,
    pub job: String,
    pub artifact: String,
    /// Folder of the job's workspace to put it in.
    pub into: String,
}
