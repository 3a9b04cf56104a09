//! The execution plan: the checked program as versioned, serialisable data, with every default
//! explicit and the pipelines in topological order of their `after` edges. The runtime consumes
//! this and nothing else.

use crate::fan_out;
use crate::model::{self, Action, Approval, OnFailure, Origin, Program, When};
use crate::source::Workspace;
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Version 3: a stage may have `env` and a task `dir`, which a reader of version 2 would
/// ignore (and so run a command in the wrong folder). Version 2: the text of a `discover` job is
/// a template (see [`crate::fan_out`]).
pub const PLAN_VERSION: u32 = 3;

/// The oldest version this reader understands: a version-2 plan is a version-3 plan with no
/// stage `env` and no task `dir`, which are absent when not set.
pub const OLDEST_READABLE_PLAN_VERSION: u32 = 2;

/// How long a job waits for an agent when its `wait_limit` is not given.
pub const DEFAULT_WAIT_LIMIT_SECONDS: u64 = 3600;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub plan_version: u32,
    pub materials: Vec<Material>,
    /// Upstreams before downstreams.
    pub pipelines: Vec<Pipeline>,
}

/// Where an entity was written: a runtime failure points back at this line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Material {
    pub name: String,
    pub git: String,
    pub branch: String,
    pub poll_seconds: u64,
    pub path: String,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub name: String,
    pub materials: Vec<String>,
    pub after: Vec<Upstream>,
    /// `null`: no limit.
    pub max_instances: Option<u32>,
    pub env: BTreeMap<String, EnvValue>,
    pub stages: Vec<Stage>,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    pub pipeline: String,
    pub stage: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvValue {
    Value(String),
    /// The name of a secret the runtime resolves; its value is never in the plan.
    Secret(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageApproval {
    Success,
    Manual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageOnFailure {
    Finish,
    Cancel,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    pub approval: StageApproval,
    pub on_failure: StageOnFailure,
    pub fetch_materials: bool,
    /// The stage's own variables, keys sorted: over the pipeline's, under each job's. Absent
    /// when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvValue>,
    pub jobs: Vec<Job>,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub name: String,
    pub resources: Vec<String>,
    /// `null`: no timeout.
    pub timeout_seconds: Option<u64>,
    pub wait_limit_seconds: u64,
    pub env: BTreeMap<String, EnvValue>,
    pub tasks: Vec<Task>,
    pub artifacts: Vec<Artifact>,
    /// A dynamic fan-out: the runtime runs `command` when the stage starts and makes one job per
    /// line of its output with [`Job::expand`]. The job's texts are then templates: `#{var}` is
    /// the line, and `\#{` a literal `#{`.
    pub discover: Option<Discover>,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discover {
    pub var: String,
    pub command: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub name: String,
    pub path: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskWhen {
    Passed,
    Failed,
    Always,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    #[serde(flatten)]
    pub action: TaskAction,
    /// `run ... in "folder"`: the folder of the job's workspace a command runs in, relative to
    /// it; absent: the workspace itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    pub when: TaskWhen,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskAction {
    /// Run with `sh -c`.
    Shell { script: String },
    /// Run without a shell.
    Exec { argv: Vec<String> },
    /// Download an artifact into the workspace.
    Fetch { pipeline: String, stage: String, job: String, artifact: String, into: String },
}

/// Entities with the language's defaults for everything but their contents, for programs that
/// build plans directly (the runtime's tests and benchmarks).
impl Pipeline {
    pub fn new(name: &str, stages: Vec<Stage>, source: Source) -> Self {
        let (materials, after, env) = (Vec::new(), Vec::new(), BTreeMap::new());
        Pipeline { name: name.into(), materials, after, max_instances: None, env, stages, source }
    }
}

impl Stage {
    pub fn new(name: &str, jobs: Vec<Job>, source: Source) -> Self {
        let (approval, on_failure) = (StageApproval::Success, StageOnFailure::Finish);
        Stage { name: name.into(), approval, on_failure, fetch_materials: true, env: BTreeMap::new(), jobs, source }
    }
}

impl Job {
    pub fn new(name: &str, tasks: Vec<Task>, source: Source) -> Self {
        Job {
            name: name.into(),
            resources: Vec::new(),
            timeout_seconds: None,
            wait_limit_seconds: DEFAULT_WAIT_LIMIT_SECONDS,
            env: BTreeMap::new(),
            tasks,
            artifacts: Vec::new(),
            discover: None,
            source,
        }
    }

    /// The job a `discover` fan-out makes for one value: named `NAME-VALUE`, with `#{var}` in its
    /// tasks, their folders, artifact paths, resources and environment replaced by the value. `None` for a job
    /// without `discover`.
    pub fn expand(&self, value: &str) -> Option<Job> {
        let var = &self.discover.as_ref()?.var;
        let sub = |s: &mut String| *s = fan_out::expand(s, var, value);
        let mut job = self.clone();
        job.name = fan_out::instance_name(&self.name, value);
        job.discover = None;
        for t in &mut job.tasks {
            match &mut t.action {
                TaskAction::Shell { script } => sub(script),
                TaskAction::Exec { argv } => argv.iter_mut().for_each(sub),
                TaskAction::Fetch { into, .. } => sub(into),
            }
            t.dir.iter_mut().for_each(sub);
        }
        job.artifacts.iter_mut().for_each(|a| sub(&mut a.path));
        job.resources.iter_mut().for_each(sub);
        for v in job.env.values_mut() {
            if let EnvValue::Value(s) = v {
                sub(s);
            }
        }
        Some(job)
    }
}

impl Task {
    /// A task that runs while every earlier task passed.
    pub fn new(action: TaskAction, source: Source) -> Self {
        Task { action, dir: None, when: TaskWhen::Passed, source }
    }
}

impl Plan {
    pub fn pipeline(&self, name: &str) -> Option<&Pipeline> {
        self.pipelines.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Builds the plan of a program the checker passed.
pub fn build(workspace: &Workspace, program: &Program) -> Plan {
    let source = |o: &Origin| {
        let file = workspace.file(o.file);
        let at = file.line_col(o.name.start);
        Source { file: file.path.clone(), line: at.line, column: at.column }
    };
    let materials = program
        .materials
        .iter()
        .map(|m| Material {
            name: m.name.clone(),
            git: m.git.clone(),
            branch: m.branch.clone(),
            poll_seconds: m.poll_secs,
            path: m.path.clone(),
            source: source(&m.origin),
        })
        .collect();
    let pipelines = topological_order(program).into_iter().map(|p| pipeline(p, &source)).collect();
    Plan { plan_version: PLAN_VERSION, materials, pipelines }
}

/// Pipelines ordered so that each comes after its upstreams; source order breaks ties.
pub fn topological_order(program: &Program) -> Vec<&model::Pipeline> {
    let mut graph = DiGraph::<usize, ()>::new();
    let nodes: Vec<NodeIndex> = (0..program.pipelines.len()).map(|i| graph.add_node(i)).collect();
    let index: HashMap<String, usize> =
        program.pipelines.iter().enumerate().map(|(i, p)| (p.name.to_ascii_lowercase(), i)).collect();
    for (i, p) in program.pipelines.iter().enumerate() {
        for up in &p.after {
            if let Some(&u) = index.get(&up.pipeline.to_ascii_lowercase()) {
                graph.add_edge(nodes[u], nodes[i], ());
            }
        }
    }
    match toposort(&graph, None) {
        Ok(order) => stable_layers(&graph, order).into_iter().map(|n| &*program.pipelines[graph[n]]).collect(),
        Err(_) => program.pipelines.iter().map(|p| &**p).collect(),
    }
}

/// Re-orders a topological order by depth, then source order, so the plan is stable.
fn stable_layers(graph: &DiGraph<usize, ()>, order: Vec<NodeIndex>) -> Vec<NodeIndex> {
    let mut depth: HashMap<NodeIndex, usize> = HashMap::new();
    for &n in &order {
        let d = graph
            .neighbors_directed(n, petgraph::Direction::Incoming)
            .map(|u| depth.get(&u).map_or(0, |d| d + 1))
            .max()
            .unwrap_or(0);
        depth.insert(n, d);
    }
    let mut sorted = order;
    sorted.sort_by_key(|n| (depth[n], graph[*n]));
    sorted
}

fn pipeline(p: &model::Pipeline, source: &impl Fn(&Origin) -> Source) -> Pipeline {
    Pipeline {
        name: p.name.clone(),
        materials: p.materials.iter().map(|m| m.name.clone()).collect(),
        after: p.after.iter().map(|u| Upstream { pipeline: u.pipeline.clone(), stage: u.stage.clone() }).collect(),
        max_instances: p.max_instances,
        env: env(&p.env),
        stages: p.stages.iter().map(|s| stage(s, source)).collect(),
        source: source(&p.origin),
    }
}

fn stage(s: &model::Stage, source: &impl Fn(&Origin) -> Source) -> Stage {
    Stage {
        name: s.name.clone(),
        approval: match s.approval {
            Approval::Success => StageApproval::Success,
            Approval::Manual => StageApproval::Manual,
        },
        on_failure: match s.on_failure {
            OnFailure::Finish => StageOnFailure::Finish,
            OnFailure::Cancel => StageOnFailure::Cancel,
        },
        fetch_materials: s.fetch_materials,
        env: env(&s.env),
        jobs: s.jobs.iter().map(|j| job(j, source)).collect(),
        source: source(&s.origin),
    }
}

fn job(j: &model::Job, source: &impl Fn(&Origin) -> Source) -> Job {
    Job {
        name: j.name.clone(),
        resources: j.resources.clone(),
        timeout_seconds: j.timeout_secs,
        wait_limit_seconds: j.wait_limit_secs,
        env: env(&j.env),
        tasks: j.tasks.iter().map(|t| task(t, source)).collect(),
        artifacts: j.artifacts.iter().map(|a| Artifact { name: a.name.clone(), path: a.path.clone() }).collect(),
        discover: j.discover.as_ref().map(|d| Discover { var: d.var.clone(), command: d.command.clone() }),
        source: source(&j.origin),
    }
}

fn task(t: &model::Task, source: &impl Fn(&Origin) -> Source) -> Task {
    let action = match &t.action {
        Action::Shell(script) => TaskAction::Shell { script: script.clone() },
        Action::Exec(argv) => TaskAction::Exec { argv: argv.clone() },
        Action::Fetch(f) => TaskAction::Fetch {
            pipeline: f.pipeline.clone(),
            stage: f.stage.clone(),
            job: f.job.clone(),
            artifact: f.artifact.clone(),
            into: f.into.clone(),
        },
    };
    let when = match t.when {
        When::Passed => TaskWhen::Passed,
        When::Failed => TaskWhen::Failed,
        When::Always => TaskWhen::Always,
    };
    Task { action, dir: t.dir.clone(), when, source: source(&t.origin) }
}

fn env(vars: &[model::EnvVar]) -> BTreeMap<String, EnvValue> {
    vars.iter()
        .map(|v| {
            let value = match &v.value {
                model::EnvValue::Literal(s) => EnvValue::Value(s.clone()),
                model::EnvValue::Secret(s) => EnvValue::Secret(s.clone()),
            };
            (v.name.clone(), value)
        })
        .collect()
}
