//! The fields each kind of entity takes: name, type, default and meaning. The checker enforces
//! it; the language server completes and explains from it; the reference documents it.

/// The kinds of block and task that take fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    Material,
    Pipeline,
    Stage,
    Job,
    Task,
    Artifact,
}

impl Owner {
    pub fn describe(self) -> &'static str {
        match self {
            Owner::Material => "a material",
            Owner::Pipeline => "a pipeline",
            Owner::Stage => "a stage",
            Owner::Job => "a job",
            Owner::Task => "a task's options",
            Owner::Artifact => "an artifact's options",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    String,
    Int,
    Bool,
    Duration,
    /// A list of strings.
    Strings,
    /// One of these words.
    Enum(&'static [&'static str]),
    /// A list of material names.
    Materials,
    /// A list of `pipeline.stage` references.
    Upstreams,
}

impl FieldType {
    pub fn describe(self) -> String {
        match self {
            FieldType::String => "a string".into(),
            FieldType::Int => "a number".into(),
            FieldType::Bool => "`true` or `false`".into(),
            FieldType::Duration => "a duration such as `90s`, `20m` or `1h30m`".into(),
            FieldType::Strings => "a list of strings".into(),
            FieldType::Enum(words) => {
                let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
                format!("one of {}", quoted.join(", "))
            }
            FieldType::Materials => "a list of material names".into(),
            FieldType::Upstreams => "a list of `pipeline.stage` references".into(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub owner: Owner,
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
    /// The default, as written in the source; `None` where there is none.
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

const fn field(
    owner: Owner,
    name: &'static str,
    ty: FieldType,
    default: Option<&'static str>,
    doc: &'static str,
) -> FieldSpec {
    FieldSpec { owner, name, ty, required: false, default, doc }
}

pub(crate) const APPROVALS: &[&str] = &["success", "manual"];
pub(crate) const ON_FAILURE: &[&str] = &["finish", "cancel"];
pub(crate) const WHEN: &[&str] = &["passed", "failed", "always"];
pub(crate) const ARTIFACT_KINDS: &[&str] = &["report", "deliverable"];

pub(crate) static FIELDS: &[FieldSpec] = &[
    FieldSpec {
        owner: Owner::Material,
        name: "git",
        ty: FieldType::String,
        required: true,
        default: None,
        doc: "The URL or path of the git repository.",
    },
    field(Owner::Material, "branch", FieldType::String, Some("\"main\""), "The branch whose commits trigger runs."),
    field(Owner::Material, "poll", FieldType::Duration, Some("1m"), "How often the server looks for new commits."),
    field(
        Owner::Material,
        "path",
        FieldType::String,
        Some("\".\""),
        "Where the repository is checked out in each job's workspace, relative to it (not absolute, no `..`). Pipelines with several materials need a distinct path for each.",
    ),
    field(
        Owner::Pipeline,
        "materials",
        FieldType::Materials,
        Some("[]"),
        "The materials checked out into every job's workspace; a new commit on one triggers the pipeline.",
    ),
    field(
        Owner::Pipeline,
        "after",
        FieldType::Upstreams,
        Some("[]"),
        "Upstream stages, as `pipeline.stage`: when one passes, this pipeline runs, and the upstream's artifacts can be fetched.",
    ),
    field(
        Owner::Pipeline,
        "max_instances",
        FieldType::Int,
        None,
        "How many instances may run at once; more wait in order. Unlimited when absent.",
    ),
    field(
        Owner::Stage,
        "approval",
        FieldType::Enum(APPROVALS),
        Some("success"),
        "`success`: the stage starts when the previous one passes. `manual`: it waits for `pw approve`.",
    ),
    field(
        Owner::Stage,
        "on_failure",
        FieldType::Enum(ON_FAILURE),
        Some("finish"),
        "When a job fails, whether the stage's other jobs `finish` or are `cancel`led.",
    ),
    field(
        Owner::Stage,
        "fetch_materials",
        FieldType::Bool,
        Some("true"),
        "Whether each job of the stage checks out the pipeline's materials.",
    ),
    field(
        Owner::Job,
        "resources",
        FieldType::Strings,
        Some("[]"),
        "The job runs only on an agent that has all of these resources.",
    ),
    field(
        Owner::Job,
        "timeout",
        FieldType::Duration,
        None,
        "The job fails when it runs longer than this, counted from its assignment to an agent. No limit when absent.",
    ),
    field(
        Owner::Job,
        "wait_limit",
        FieldType::Duration,
        Some("1h"),
        "The job fails when it waits longer than this for an agent.",
    ),
    field(
        Owner::Job,
        "estimate",
        FieldType::Duration,
        None,
        "How long the job usually takes, for the linter's cost model.",
    ),
    field(
        Owner::Task,
        "when",
        FieldType::Enum(WHEN),
        Some("passed"),
        "`passed`: run while every earlier task passed. `failed`: only after one failed. `always`: either way.",
    ),
    field(Owner::Task, "estimate", FieldType::Duration, None, "How long the task usually takes, for the linter."),
    field(
        Owner::Artifact,
        "kind",
        FieldType::Enum(ARTIFACT_KINDS),
        None,
        "Who reads it besides fetches: `report`, test results or a report people read on the server; `deliverable`, what people download. Without a kind, an artifact is meant to be fetched.",
    ),
];

/// The fields of one kind of entity.
pub fn fields(owner: Owner) -> impl Iterator<Item = &'static FieldSpec> {
    FIELDS.iter().filter(move |f| f.owner == owner)
}

/// The spec of `name` in `owner`, compared case-insensitively.
pub fn lookup(owner: Owner, name: &str) -> Option<&'static FieldSpec> {
    fields(owner).find(|f| f.name.eq_ignore_ascii_case(name))
}
