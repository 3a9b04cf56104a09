//! The HTTP protocol between the server, its agents and the `pw` client commands: request and
//! response bodies, events and the views the status endpoints return. Everything is JSON. It uses
//! only [`crate::state`], whose states, checkouts and artifact references travel as they are.

use crate::state::{Instance, JobState, StageState, TaskState};
use pw_compiler::runtime_api::plan::{self, TaskAction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version prefix of every endpoint.
pub const API: &str = "/api/v1";
/// How long the server holds a work request at most.
pub(crate) const MAX_WAIT_MS: u64 = 30_000;

pub use crate::state::{ArtifactRef, MaterialCheckout};

/// Sent with the registration token: the only call that token allows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub name: String,
    pub resources: Vec<String>,
    /// The id the agent had before, kept in its work folder.
    #[serde(default)]
    pub id: Option<String>,
    /// The credential the agent had before: without it, a known id is not given back (a new
    /// agent is registered instead).
    #[serde(default)]
    pub credential: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegisterResponse {
    pub agent_id: String,
    /// The agent's own credential: every later call of the agent carries it (`Bearer`). The
    /// server keeps only its SHA-256.
    pub credential: String,
    /// Whether the agent may take jobs; a server started with `--require-approval` gives none
    /// to a new agent until `pw agent approve ID`.
    pub approved: bool,
    /// How often an agent running a job renews its lease.
    pub heartbeat_ms: u64,
    /// How long the server waits for a silent agent before it is lost.
    pub lease_ms: u64,
}

/// One job given to an agent: everything it needs, with secrets resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Assignment {
    pub attempt_id: u64,
    /// The attempt's own token: its log, artifact, heartbeat, fetch and completion calls carry
    /// it, and it is refused on any other attempt and once this one is over.
    pub job_token: String,
    pub pipeline: String,
    pub counter: u32,
    pub stage: String,
    pub job: String,
    pub attempt: u32,
    pub env: BTreeMap<String, String>,
    /// Values to mask in logs.
    pub secrets: Vec<String>,
    pub materials: Vec<MaterialCheckout>,
    pub tasks: Vec<plan::Task>,
    pub artifacts: Vec<plan::Artifact>,
    pub timeout_ms: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    /// How long the server may hold the request when there is nothing to say.
    #[serde(default)]
    pub wait_ms: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// Stop the job: it was cancelled or timed out on the server.
    pub cancel: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskReport {
    pub index: usize,
    pub state: TaskState,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Microseconds since the Unix epoch, on the agent's clock.
    pub at_us: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogChunk {
    /// Chunks of an attempt are numbered from 0; a chunk sent twice is stored once.
    pub seq: u64,
    pub data: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobResult {
    Passed,
    Failed,
    Cancelled,
    /// The agent gave the attempt up (it is stopping): run it again elsewhere.
    Lost,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompleteRequest {
    pub result: JobResult,
    #[serde(default)]
    pub reason: Option<String>,
    pub at_us: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FetchQuery {
    pub pipeline: String,
    pub stage: String,
    pub job: String,
    pub artifact: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TriggerResponse {
    pub pipeline: String,
    pub counter: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RerunRequest {
    #[serde(default)]
    pub job: Option<String>,
    #[serde(default)]
    pub failed_only: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogsResponse {
    pub attempt: u32,
    pub chunks: Vec<LogChunkView>,
    /// The attempt is over: no more chunks will come.
    pub finished: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogChunkView {
    pub seq: u64,
    pub data: String,
}

/// Every error the server returns has this body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// What happened, for progress displays, `pw status` and benchmarks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    /// Milliseconds since the Unix epoch, on the server's clock.
    pub at_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// A job attempt within an instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobKey {
    pub pipeline: String,
    pub counter: u32,
    pub stage: String,
    pub job: String,
    pub attempt: u32,
}

impl std::fmt::Display for JobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}/{}", self.pipeline, self.counter, self.stage, self.job)?;
        if self.attempt > 1 {
            write!(f, " (attempt {})", self.attempt)?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    InstanceQueued {
        pipeline: String,
        counter: u32,
    },
    InstanceStarted {
        pipeline: String,
        counter: u32,
        cause: String,
    },
    InstanceFinished {
        pipeline: String,
        counter: u32,
        result: String,
    },
    StageStarted {
        pipeline: String,
        counter: u32,
        stage: String,
    },
    StageAwaitingApproval {
        pipeline: String,
        counter: u32,
        stage: String,
    },
    StageFinished {
        pipeline: String,
        counter: u32,
        stage: String,
        result: StageState,
        reason: Option<String>,
    },
    JobScheduled {
        job: JobKey,
    },
    JobAssigned {
        job: JobKey,
        agent: String,
    },
    TaskStarted {
        job: JobKey,
        index: usize,
        total: usize,
        label: String,
        agent_at_us: u64,
    },
    TaskFinished {
        job: JobKey,
        index: usize,
        state: TaskState,
        exit_code: Option<i32>,
        agent_at_us: u64,
    },
    JobFinished {
        job: JobKey,
        state: JobState,
        reason: Option<String>,
        agent: Option<String>,
        agent_at_us: Option<u64>,
    },
    /// A downstream instance could not be created (a material it needs is unreachable, or the
    /// pipeline is gone from the configuration).
    TriggerFailed {
        pipeline: String,
        cause: String,
        reason: String,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventsResponse {
    pub events: Vec<Event>,
    /// The sequence number to ask after next time.
    pub next: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AgentView {
    pub id: String,
    pub name: String,
    pub resources: Vec<String>,
    pub state: String,
    pub job: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusResponse {
    pub instances: Vec<InstanceView>,
    /// Downstream instances not created yet: their triggers wait for material revisions.
    #[serde(default)]
    pub pending: Vec<PendingView>,
    pub agents: Vec<AgentView>,
}

/// A downstream trigger recorded and not carried out yet.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingView {
    pub pipeline: String,
    /// What caused it: `after build/7/test`.
    pub cause: String,
    /// The materials whose revisions are being looked up.
    pub materials: Vec<String>,
    /// Milliseconds since the Unix epoch, on the server's clock.
    pub since_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InstanceView {
    pub pipeline: String,
    pub counter: u32,
    pub state: String,
    pub cause: String,
    pub revisions: BTreeMap<String, String>,
    pub stages: Vec<StageView>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageView {
    pub name: String,
    pub state: StageState,
    pub reason: Option<String>,
    pub jobs: Vec<JobView>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobView {
    pub name: String,
    pub attempts: Vec<AttemptView>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AttemptView {
    pub number: u32,
    pub state: JobState,
    pub agent: Option<String>,
    pub reason: Option<String>,
    pub artifacts: BTreeMap<String, ArtifactRef>,
}

impl From<&Instance> for InstanceView {
    fn from(inst: &Instance) -> Self {
        InstanceView {
            pipeline: inst.pipeline.clone(),
            counter: inst.counter,
            state: inst.state.as_str().to_string(),
            cause: inst.cause.to_string(),
            revisions: inst.materials.iter().map(|m| (m.name.clone(), m.revision.clone())).collect(),
            stages: inst
                .stages
                .iter()
                .map(|s| StageView {
                    name: s.name.clone(),
                    state: s.state,
                    reason: s.reason.clone(),
                    jobs: s
                        .jobs
                        .iter()
                        .map(|j| JobView {
                            name: j.name.clone(),
                            attempts: j
                                .attempts
                                .iter()
                                .map(|a| AttemptView {
                                    number: a.number,
                                    state: a.state,
                                    agent: a.agent_name.clone().or_else(|| a.agent.clone()),
                                    reason: a.reason.clone(),
                                    artifacts: a.artifacts.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A short description of a task, as [`EventKind::TaskStarted`] and progress lines show it.
pub(crate) fn task_label(task: &plan::Task) -> String {
    let text = match &task.action {
        TaskAction::Shell { script } => script.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string(),
        TaskAction::Exec { argv } => argv.join(" "),
        TaskAction::Fetch { pipeline, stage, job, artifact, into } => {
            format!("fetch {pipeline}.{stage}.{job}.{artifact} into {into}")
        }
    };
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    }
}
