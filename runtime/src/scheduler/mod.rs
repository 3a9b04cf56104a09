//! The scheduler: a pure state machine over pipeline instances and agents. Every change comes in
//! through a method taking the current time; what the outside world must do about it (persist,
//! wake agents, run a `discover` command, announce an event) comes out as [`Effect`]s and the
//! parts of the state it changed ([`Dirty`]). It does no I/O, so every rule is unit-tested
//! without HTTP or a database.
//!
//! It uses only [`crate::state`], [`crate::protocol`] and the rules on secret values: it never
//! sees the store, the engine saves what it changed. One file per concern, each an
//! `impl Scheduler` block over the state defined here:
//! - `agents.rs`: registration, approval, credentials, leases, handing out work;
//! - `attempts.rs`: an attempt's reports and end, retries after a lost agent, the clock;
//! - `stages.rs`: instances and stages moving on: started, settled, queued instances started;
//! - `triggers.rs`: new instances, downstream pipelines, triggers waiting for revisions;
//! - `operations.rs`: what people ask for: approve, rerun, cancel;
//! - `discover.rs`: the jobs a `discover` command's output makes;
//! - `dirty.rs`: what changed, lent to the engine to save.

mod agents;
mod attempts;
mod dirty;
mod discover;
mod operations;
mod stages;
mod triggers;

pub use agents::{same_secret, NewAgent};
pub use dirty::{Dirty, TaskTime};
pub(crate) use triggers::checkouts;
pub use triggers::FailedTrigger;

use crate::protocol::{EventKind, JobKey};
use crate::state::{AgentInfo, Attempt, Instance, JobRun, JobState, PendingTrigger, StageState};
use dirty::Record;
use pw_compiler::runtime_api::plan::{self, EnvValue, Plan};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Timings of the agent protocol.
#[derive(Clone, Debug)]
pub struct Config {
    /// An agent running a job and silent this long is lost.
    pub lease_ms: u64,
    /// How often agents running a job renew their lease.
    pub heartbeat_ms: u64,
    /// After a job's timeout, how long the server waits for the agent's own report.
    pub timeout_grace_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config { lease_ms: 30_000, heartbeat_ms: 10_000, timeout_grace_ms: 10_000 }
    }
}

/// What the server must do after a change.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Event(EventKind),
    /// Run a `discover` command and report its lines with [`Scheduler::discovered`].
    Discover {
        instance: u64,
        stage: String,
        job: String,
        command: String,
        env: BTreeMap<String, String>,
    },
    /// An attempt ended on the server while an agent runs it: tell the agent.
    StopAttempt {
        attempt: u64,
    },
    /// A job became assignable: wake the agents waiting for work.
    WorkReady,
    /// A downstream pipeline must start once the revisions of the materials it does not inherit
    /// are looked up: report them with [`Scheduler::complete_trigger`]. The trigger is saved until
    /// then.
    TriggerLater(PendingTrigger),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchedError {
    NotFound(String),
    Conflict(String),
    /// The attempt is no longer this agent's to report on.
    Gone(String),
    /// The credential or job token does not prove what the call claims.
    Refused(String),
}

impl std::fmt::Display for SchedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchedError::NotFound(m) | SchedError::Conflict(m) | SchedError::Gone(m) | SchedError::Refused(m) => {
                f.write_str(m)
            }
        }
    }
}

/// Where an attempt lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    instance: u64,
    stage: usize,
    job: usize,
}

#[derive(Default)]
pub struct Scheduler {
    plan: Option<Plan>,
    cfg: Config,
    instances: BTreeMap<u64, Instance>,
    by_name: HashMap<(String, u32), u64>,
    agents: BTreeMap<String, AgentInfo>,
    /// Latest known revision of each material, by lower-case name.
    revisions: BTreeMap<String, String>,
    slots: HashMap<u64, Slot>,
    /// Scheduled attempts, oldest first.
    queue: BTreeSet<u64>,
    /// Assigned attempts.
    running: BTreeSet<u64>,
    next_instance: u64,
    next_attempt: u64,
    effects: Vec<Effect>,
    /// Instances whose own fields (not their jobs) changed.
    dirty: BTreeSet<u64>,
    /// Jobs whose attempts changed.
    dirty_jobs: BTreeSet<(u64, usize, usize)>,
    /// Instances whose list of jobs changed: saved whole.
    full: BTreeSet<u64>,
    /// Downstream triggers waiting for material revisions, by id.
    pending: BTreeMap<u64, PendingTrigger>,
    next_pending: u64,
    /// Pending triggers added or removed since the last save.
    dirty_pending: BTreeSet<u64>,
    /// Agents' records (and agents forgotten) and task timings to save with the next change, in
    /// order.
    records: Vec<Record>,
    /// Downstream triggers that could not be carried out, newest last (kept in memory for
    /// `pw run`'s verdict, at most [`triggers::FAILED_TRIGGERS_KEPT`]).
    failed_triggers: Vec<FailedTrigger>,
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

impl Scheduler {
    pub fn new(plan: Plan, cfg: Config) -> Self {
        Scheduler { plan: Some(plan), cfg, next_instance: 1, next_attempt: 1, next_pending: 1, ..Default::default() }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn plan(&self) -> &Plan {
        static EMPTY: Plan = Plan { plan_version: plan::PLAN_VERSION, materials: Vec::new(), pipelines: Vec::new() };
        self.plan.as_ref().unwrap_or(&EMPTY)
    }

    /// Replaces the configuration; running instances keep the definition they started with.
    pub fn set_plan(&mut self, plan: Plan) {
        self.plan = Some(plan);
    }

    /// Rebuilds the scheduler from stored instances and agents, after a restart. Every agent gets
    /// a fresh lease, so that agents running jobs have time to come back.
    pub(crate) fn restore(
        &mut self,
        instances: Vec<Instance>,
        agents: Vec<AgentInfo>,
        revisions: BTreeMap<String, String>,
        now: u64,
    ) {
        self.revisions = revisions;
        for mut agent in agents {
            agent.last_seen_ms = now;
            agent.attempt = None;
            agent.lost = false;
            self.agents.insert(agent.id.clone(), agent);
        }
        for inst in instances {
            self.next_instance = self.next_instance.max(inst.id + 1);
            self.by_name.insert((key(&inst.pipeline), inst.counter), inst.id);
            for (si, stage) in inst.stages.iter().enumerate() {
                for (ji, job) in stage.jobs.iter().enumerate() {
                    for a in &job.attempts {
                        self.next_attempt = self.next_attempt.max(a.id + 1);
                        self.slots.insert(a.id, Slot { instance: inst.id, stage: si, job: ji });
                        match a.state {
                            JobState::Scheduled => {
                                self.queue.insert(a.id);
                            }
                            JobState::Assigned => {
                                self.running.insert(a.id);
                                if let Some(agent) = a.agent.as_ref().and_then(|id| self.agents.get_mut(id)) {
                                    agent.attempt = Some(a.id);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                if stage.state == StageState::Discovering {
                    for job in &stage.discovering {
                        if let Some(def) = inst.definition.stages.get(si).and_then(|s| find_job(&s.jobs, job)) {
                            if let Some(d) = &def.discover {
                                self.effects.push(Effect::Discover {
                                    instance: inst.id,
                                    stage: stage.name.clone(),
                                    job: def.name.clone(),
                                    command: d.command.clone(),
                                    env: plain_env(&inst, &stage.name),
                                });
                            }
                        }
                    }
                }
            }
            self.instances.insert(inst.id, inst);
        }
        if !self.queue.is_empty() {
            self.effects.push(Effect::WorkReady);
        }
    }

    /// Restores the downstream triggers saved before a restart, and asks for each to be carried
    /// out again.
    pub(crate) fn restore_pending(&mut self, pending: Vec<PendingTrigger>) {
        for t in pending {
            self.next_pending = self.next_pending.max(t.id + 1);
            self.effects.push(Effect::TriggerLater(t.clone()));
            self.pending.insert(t.id, t);
        }
    }

    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances.values()
    }

    pub fn instance(&self, pipeline: &str, counter: u32) -> Option<&Instance> {
        self.by_name.get(&(key(pipeline), counter)).and_then(|id| self.instances.get(id))
    }

    pub fn agents(&self) -> impl Iterator<Item = &AgentInfo> {
        self.agents.values()
    }

    pub fn agent(&self, id: &str) -> Option<&AgentInfo> {
        self.agents.get(id)
    }

    /// The job key of an attempt.
    pub(crate) fn job_key(&self, attempt: u64) -> Option<JobKey> {
        let slot = self.slots.get(&attempt)?;
        let inst = self.instances.get(&slot.instance)?;
        let stage = inst.stages.get(slot.stage)?;
        let job = stage.jobs.get(slot.job)?;
        let number = job.attempts.iter().find(|a| a.id == attempt)?.number;
        Some(JobKey {
            pipeline: inst.pipeline.clone(),
            counter: inst.counter,
            stage: stage.name.clone(),
            job: job.name.clone(),
            attempt: number,
        })
    }

    pub fn attempt(&self, attempt: u64) -> Option<&Attempt> {
        self.job_at(*self.slots.get(&attempt)?)?.attempts.iter().find(|a| a.id == attempt)
    }

    fn attempt_mut(&mut self, attempt: u64) -> Option<&mut Attempt> {
        let slot = *self.slots.get(&attempt)?;
        self.instances
            .get_mut(&slot.instance)?
            .stages
            .get_mut(slot.stage)?
            .jobs
            .get_mut(slot.job)?
            .attempts
            .iter_mut()
            .find(|a| a.id == attempt)
    }

    fn job_at(&self, slot: Slot) -> Option<&JobRun> {
        self.instances.get(&slot.instance)?.stages.get(slot.stage)?.jobs.get(slot.job)
    }

    fn touch_attempt(&mut self, attempt: u64) {
        if let Some(slot) = self.slots.get(&attempt) {
            self.dirty_jobs.insert((slot.instance, slot.stage, slot.job));
        }
    }

    fn find_instance(&self, pipeline: &str, counter: u32) -> Result<u64, SchedError> {
        self.by_name
            .get(&(key(pipeline), counter))
            .copied()
            .ok_or_else(|| SchedError::NotFound(format!("no instance {pipeline}/{counter}")))
    }

    fn find_stage(&self, id: u64, stage: &str) -> Result<usize, SchedError> {
        let inst = &self.instances[&id];
        inst.stage_index(stage)
            .ok_or_else(|| SchedError::NotFound(format!("pipeline `{}` has no stage `{stage}`", inst.pipeline)))
    }
}

fn find_job<'a>(jobs: &'a [plan::Job], name: &str) -> Option<&'a plan::Job> {
    jobs.iter().find(|j| j.name.eq_ignore_ascii_case(name))
}

/// The variables every job and discover command of a stage of an instance sees.
fn plain_env(inst: &Instance, stage: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("PW_PIPELINE".to_string(), inst.pipeline.clone());
    env.insert("PW_PIPELINE_COUNTER".to_string(), inst.counter.to_string());
    env.insert("PW_STAGE".to_string(), stage.to_string());
    for m in &inst.materials {
        env.insert(format!("PW_REVISION_{}", m.name.to_ascii_uppercase().replace('-', "_")), m.revision.clone());
    }
    for (name, value) in declared_env(inst, stage) {
        if let EnvValue::Value(v) = value {
            env.insert(name.clone(), v.clone());
        }
    }
    env
}

/// The variables a stage's jobs inherit, in order of precedence: the pipeline's, then the
/// stage's (a name in both takes the stage's value). Each job's own come after.
fn declared_env<'i>(inst: &'i Instance, stage: &str) -> impl Iterator<Item = (&'i String, &'i EnvValue)> {
    let stage_env = inst.definition.stages.iter().find(|s| s.name == stage).map(|s| &s.env);
    inst.definition.env.iter().chain(stage_env.into_iter().flatten())
}

#[cfg(test)]
mod tests;
