//! The recorded state of pipeline instances (stages, jobs and their attempts) and of agents. The
//! scheduler changes it; the store saves each instance as one JSON document. It is the bottom of
//! the runtime: it uses no other module of it ([`crate::protocol`] builds its views from it).

use pw_compiler::runtime_api::plan;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// Waiting for a slot under `max_instances`.
    Queued,
    Running,
    /// A stage waits for `pw approve`.
    AwaitingApproval,
    Passed,
    Failed,
    Cancelled,
}

impl InstanceState {
    pub(crate) fn is_finished(self) -> bool {
        matches!(self, InstanceState::Passed | InstanceState::Failed | InstanceState::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Queued => "queued",
            InstanceState::Running => "running",
            InstanceState::AwaitingApproval => "awaiting_approval",
            InstanceState::Passed => "passed",
            InstanceState::Failed => "failed",
            InstanceState::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageState {
    Pending,
    AwaitingApproval,
    /// Running its `discover` commands before its jobs exist.
    Discovering,
    Running,
    Passed,
    Failed,
    Cancelled,
}

impl StageState {
    pub(crate) fn is_active(self) -> bool {
        matches!(self, StageState::Discovering | StageState::Running)
    }

    pub(crate) fn is_finished(self) -> bool {
        matches!(self, StageState::Passed | StageState::Failed | StageState::Cancelled)
    }

    /// The state as people read it (`pw status`, progress lines).
    pub fn word(self) -> &'static str {
        match self {
            StageState::Pending => "pending",
            StageState::Discovering => "discovering",
            StageState::Running => "running",
            StageState::AwaitingApproval => "awaiting approval",
            StageState::Passed => "passed",
            StageState::Failed => "failed",
            StageState::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for an agent.
    Scheduled,
    /// Given to an agent, which is running it.
    Assigned,
    Passed,
    Failed,
    Cancelled,
}

impl JobState {
    pub(crate) fn is_finished(self) -> bool {
        matches!(self, JobState::Passed | JobState::Failed | JobState::Cancelled)
    }

    /// The state of an attempt as people read it: one given to an agent is running (preparing
    /// its workspace or running its tasks).
    pub fn word(self) -> &'static str {
        match self {
            JobState::Scheduled => "waiting for an agent",
            JobState::Assigned => "running",
            JobState::Passed => "passed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Pending,
    Running,
    Passed,
    Failed,
    Skipped,
}

/// A material checked out at an exact revision (also sent to agents in their assignments).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialCheckout {
    pub name: String,
    pub git: String,
    pub branch: String,
    pub path: String,
    pub revision: String,
}

/// A stored artifact: its archive's SHA-256 and size (also the answer to an upload or a fetch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    pub sha256: String,
    pub size: u64,
}

/// Why an instance exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    Manual { by: String },
    Material { name: String, revision: String },
    Upstream { pipeline: String, counter: u32, stage: String },
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Manual { by } => write!(f, "triggered by {by}"),
            Cause::Material { name, revision } => {
                write!(f, "new commit {} on {name}", &revision[..revision.len().min(12)])
            }
            Cause::Upstream { pipeline, counter, stage } => write!(f, "after {pipeline}/{counter}/{stage}"),
        }
    }
}

/// An upstream instance this one was triggered by (directly or through fan-in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRef {
    pub pipeline: String,
    pub counter: u32,
}

/// A downstream instance to create once the revisions of the materials it does not inherit are
/// looked up. It is saved in the commit that records the upstream stage's result and deleted in
/// the commit that creates the instance, so that a restart in between carries it out once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingTrigger {
    /// Unique among pending triggers; the store's key.
    pub id: u64,
    pub pipeline: String,
    pub cause: Cause,
    pub upstreams: Vec<InstanceRef>,
    /// Revisions inherited from the upstream instances; the others are looked up.
    pub inherited: Vec<MaterialCheckout>,
    pub created_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Unique over all pipelines; also the store's key.
    pub id: u64,
    pub pipeline: String,
    pub counter: u32,
    /// The pipeline as it was when the instance was created.
    pub definition: plan::Pipeline,
    pub materials: Vec<MaterialCheckout>,
    pub cause: Cause,
    pub upstreams: Vec<InstanceRef>,
    pub state: InstanceState,
    pub cancelled: bool,
    pub stages: Vec<StageRun>,
    pub created_ms: u64,
    pub finished_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageRun {
    pub name: String,
    pub state: StageState,
    pub reason: Option<String>,
    pub jobs: Vec<JobRun>,
    /// Discover jobs still waiting for their command's output.
    pub discovering: Vec<String>,
    pub approved_by: Option<String>,
    /// How many times the stage was started (re-runs included).
    pub runs: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    pub name: String,
    pub definition: plan::Job,
    pub attempts: Vec<Attempt>,
}

impl JobRun {
    pub fn current(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    pub fn state(&self) -> JobState {
        self.current().map_or(JobState::Scheduled, |a| a.state)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub id: u64,
    pub number: u32,
    pub state: JobState,
    /// The agent's id.
    pub agent: Option<String>,
    /// The agent's name, as shown to people.
    #[serde(default)]
    pub agent_name: Option<String>,
    pub reason: Option<String>,
    pub scheduled_ms: u64,
    pub assigned_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    /// Agents this attempt must not go to (an agent that was lost running the job).
    pub excluded_agents: Vec<String>,
    /// This attempt is the automatic retry after a lost agent.
    pub is_retry: bool,
    pub cancel_requested: bool,
    pub tasks: Vec<TaskState>,
    pub artifacts: BTreeMap<String, ArtifactRef>,
    /// The SHA-256 of the job token handed out with the assignment (the token itself is never
    /// kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    /// Whether its agent has said it runs the attempt (a heartbeat or a report came with its job
    /// token). An assignment can be lost on its way to a cut-off agent; not taken, the attempt
    /// did not run. Kept in memory only: an attempt read back after a restart counts as taken.
    #[serde(skip, default = "taken_when_restored")]
    pub taken: bool,
}

fn taken_when_restored() -> bool {
    true
}

impl Instance {
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name.eq_ignore_ascii_case(name))
    }
}

/// A registered agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentInfo {
    pub id: String,
    pub name: String,
    pub resources: Vec<String>,
    pub last_seen_ms: u64,
    pub attempt: Option<u64>,
    pub lost: bool,
    /// The SHA-256 of the agent's credential (empty: no credential proves this agent).
    pub credential_sha256: String,
    /// Whether the agent may take jobs.
    pub approved: bool,
}

impl AgentInfo {
    /// Whether the agent offers every one of `resources`.
    pub(crate) fn can_run(&self, resources: &[String]) -> bool {
        resources.iter().all(|r| self.resources.iter().any(|a| a.eq_ignore_ascii_case(r)))
    }
}
