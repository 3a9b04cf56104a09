//! GoCD's configuration as a typed model with spans, whatever file format it was read from.
//! The YAML reader fills it; the mapping into the syntax tree reads it.

use crate::source::Span;

/// A text value (or a name) and where it is written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    pub value: String,
    pub span: Span,
}

/// Everything one file declares.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub pipelines: Vec<Pipeline>,
    pub environments: Vec<Environment>,
    /// Names of things only the GoCD server knows, in the order written.
    pub server_refs: Vec<ServerRef>,
}

/// A reference to something defined on the GoCD server, not in the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerRef {
    /// `template`, `elastic profile`, ...
    pub what: &'static str,
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Environment {
    pub name: Text,
    pub vars: Vec<Var>,
    pub pipelines: Vec<Text>,
    pub unmapped: Vec<Unmapped>,
}

/// An environment variable; `secure` for `secure_variables` (encrypted with the server's key).
#[derive(Clone, Debug, Default)]
pub struct Var {
    pub name: Text,
    pub value: Text,
    pub secure: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Pipeline {
    pub name: Text,
    pub span: Span,
    /// `template: NAME`: the stages live on the server.
    pub template: Option<Text>,
    /// A template of the same file (`cruise-config.xml`) whose stages were written into this
    /// pipeline.
    pub expanded_template: Option<Text>,
    /// A lock (`lock_behavior` other than `none`): one instance at a time.
    pub single_instance: bool,
    pub vars: Vec<Var>,
    pub materials: Vec<Material>,
    pub stages: Vec<Stage>,
    pub unmapped: Vec<Unmapped>,
    /// Some of its stages could not be read (already reported).
    pub incomplete: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MaterialKind {
    Git {
        url: Text,
    },
    /// An upstream pipeline's stage.
    Dependency {
        pipeline: Text,
        stage: Text,
    },
    /// The config repository itself; its URL is known only to the server.
    ConfigRepo,
    /// A pluggable SCM or a package defined on the server, by id.
    ServerDefined {
        what: &'static str,
        id: Text,
    },
    /// svn, hg, p4, tfs, an inline plugin: kinds Pipewright has no equivalent for.
    Other {
        kind: String,
    },
}

#[derive(Clone, Debug)]
pub struct Material {
    pub name: Text,
    pub span: Span,
    pub kind: MaterialKind,
    pub branch: Option<Text>,
    pub destination: Option<Text>,
    pub unmapped: Vec<Unmapped>,
}

#[derive(Clone, Debug, Default)]
pub struct Stage {
    pub name: Text,
    pub span: Span,
    /// `approval: manual` (or `{type: manual}`).
    pub manual: bool,
    pub fetch_materials: Option<bool>,
    pub vars: Vec<Var>,
    pub jobs: Vec<Job>,
    pub unmapped: Vec<Unmapped>,
    /// Some of its jobs could not be read (already reported).
    pub incomplete: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Job {
    pub name: Text,
    pub span: Span,
    /// In minutes; `0` means none.
    pub timeout: Option<(u64, Span)>,
    /// `run_instances: N`.
    pub instances: Option<(u32, Span)>,
    pub resources: Vec<Text>,
    pub vars: Vec<Var>,
    pub artifacts: Vec<Artifact>,
    pub tasks: Vec<Task>,
    pub unmapped: Vec<Unmapped>,
    /// Some of its tasks could not be read (already reported).
    pub incomplete: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// `test` reports are published like `build` artifacts.
    pub test: bool,
    pub source: Text,
    pub destination: Option<Text>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunIf {
    Passed,
    Failed,
    Any,
}

#[derive(Clone, Debug)]
pub struct Task {
    pub kind: TaskKind,
    pub run_if: RunIf,
    pub span: Span,
    pub unmapped: Vec<Unmapped>,
}

#[derive(Clone, Debug)]
pub enum TaskKind {
    /// A program and its arguments, no shell; `working_directory` relative to the workspace.
    Exec { command: Text, arguments: Vec<Text>, working_directory: Option<Text> },
    /// A shell script (`script:`, the script-executor plugin).
    Script(Text),
    Fetch {
        /// Absent: this pipeline. `a/b/c`: an ancestor path, the last is the upstream.
        pipeline: Option<Text>,
        stage: Text,
        job: Text,
        source: Text,
        destination: Option<Text>,
        is_file: bool,
    },
    /// A task with no equivalent (another plugin, an external fetch): carried over as a comment.
    Unsupported { what: String },
}

/// Something GoCD does that Pipewright has no equivalent for: carried into an import as a
/// comment, and named in a warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmapped {
    /// The GoCD key, as `label_template`.
    pub feature: String,
    /// The value as written, shortened.
    pub value: String,
    /// Why there is no equivalent, or what to do instead.
    pub why: &'static str,
    pub span: Span,
}
