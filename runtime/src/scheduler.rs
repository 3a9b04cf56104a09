//! The scheduler: a pure state machine over pipeline instances and agents. Every change comes in
//! through a method taking the current time; what the outside world must do about it (persist,
//! wake agents, run a `discover` command, announce an event) comes out as [`Effect`]s and dirty
//! instances. It does no I/O, so every rule is unit-tested without HTTP or a database.

use crate::protocol::task_label;
use crate::protocol::{
    ArtifactRef, Assignment, EventKind, JobKey, JobResult, MaterialCheckout, PendingView, TaskReport,
};
use crate::state::{
    AgentInfo, Attempt, Cause, Instance, InstanceRef, InstanceState, JobRun, JobState, PendingTrigger, StageRun,
    StageState, TaskState,
};
use crate::store::Write;
use pw_compiler::runtime_api::fan_out;
use pw_compiler::runtime_api::plan::{self, EnvValue, Plan, StageApproval, StageOnFailure};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
    /// Other writes to save with the next change (task timings).
    writes: Vec<Write>,
    /// Downstream triggers that could not be carried out, newest last (kept in memory for
    /// `pw run`'s verdict, at most [`FAILED_TRIGGERS_KEPT`]).
    failed_triggers: Vec<FailedTrigger>,
}

/// How many failed downstream triggers the scheduler remembers.
const FAILED_TRIGGERS_KEPT: usize = 1000;

/// A downstream trigger that could not be carried out, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedTrigger {
    pub trigger: PendingTrigger,
    pub reason: String,
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

    /// What changed since the last call, as store writes: an instance's own fields and each
    /// changed job are saved apart, so a change to one job of a wide stage stays small.
    pub fn take_dirty(&mut self) -> Vec<Write> {
        let full = std::mem::take(&mut self.full);
        let mut heads = std::mem::take(&mut self.dirty);
        let jobs = std::mem::take(&mut self.dirty_jobs);
        heads.extend(full.iter().copied());
        let mut writes = Vec::new();
        for id in heads {
            let Some(inst) = self.instances.get_mut(&id) else { continue };
            writes.push(Write::instance(inst));
            if full.contains(&id) {
                writes.push(Write::ClearJobs { instance: id });
                for (si, stage) in inst.stages.iter().enumerate() {
                    for (ji, job) in stage.jobs.iter().enumerate() {
                        writes.push(Write::job(id, si, ji, job));
                    }
                }
            }
        }
        for (id, si, ji) in jobs {
            if full.contains(&id) {
                continue;
            }
            if let Some(job) = self.instances.get(&id).and_then(|i| i.stages.get(si)).and_then(|s| s.jobs.get(ji)) {
                writes.push(Write::job(id, si, ji, job));
            }
        }
        for id in std::mem::take(&mut self.dirty_pending) {
            writes.push(match self.pending.get(&id) {
                Some(t) => Write::pending(t),
                None => Write::PendingDone { id },
            });
        }
        writes.append(&mut self.writes);
        writes
    }

    /// The downstream triggers waiting for material revisions.
    pub fn pending_triggers(&self) -> impl Iterator<Item = &PendingTrigger> {
        self.pending.values()
    }

    /// How `pw status` shows a pending trigger: the materials it waits for are those of the
    /// pipeline it does not inherit from its upstreams.
    pub(crate) fn pending_view(&self, t: &PendingTrigger) -> PendingView {
        let materials = self
            .plan()
            .pipeline(&t.pipeline)
            .map(|p| {
                p.materials
                    .iter()
                    .filter(|m| !t.inherited.iter().any(|i| i.name.eq_ignore_ascii_case(m)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        PendingView { pipeline: t.pipeline.clone(), cause: t.cause.to_string(), materials, since_ms: t.created_ms }
    }

    /// The downstream triggers that could not be carried out (the most recent ones).
    pub(crate) fn failed_triggers(&self) -> &[FailedTrigger] {
        &self.failed_triggers
    }

    /// Carries out a pending downstream trigger with the revisions looked up for it (or why they
    /// could not be), and forgets it in the same change. `None` when it is not pending (any
    /// more): it was carried out already, and is not again.
    pub(crate) fn complete_trigger(
        &mut self,
        id: u64,
        materials: Result<Vec<MaterialCheckout>, String>,
        now: u64,
    ) -> Option<Result<(String, u32), SchedError>> {
        let t = self.pending.remove(&id)?;
        self.dirty_pending.insert(id);
        let result = materials
            .map_err(SchedError::Conflict)
            .and_then(|m| self.trigger(&t.pipeline, t.cause.clone(), t.upstreams.clone(), m, now));
        if let Err(e) = &result {
            self.effects.push(Effect::Event(EventKind::TriggerFailed {
                pipeline: t.pipeline.clone(),
                cause: t.cause.to_string(),
                reason: e.to_string(),
            }));
            if self.failed_triggers.len() >= FAILED_TRIGGERS_KEPT {
                self.failed_triggers.remove(0);
            }
            self.failed_triggers.push(FailedTrigger { trigger: t, reason: e.to_string() });
        }
        Some(result)
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

    pub(crate) fn known_revision(&self, material: &str) -> Option<&str> {
        self.revisions.get(&key(material)).map(String::as_str)
    }

    pub(crate) fn set_revision(&mut self, material: &str, revision: &str) {
        self.revisions.insert(key(material), revision.to_string());
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
        let slot = self.slots.get(&attempt)?;
        self.instances
            .get(&slot.instance)?
            .stages
            .get(slot.stage)?
            .jobs
            .get(slot.job)?
            .attempts
            .iter()
            .find(|a| a.id == attempt)
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

    // ----- agents -----

    /// Records an agent (new, approved or not, or returning with its credential) and renews its
    /// lease. A returning agent holds nothing: a job the server thinks it runs is lost at once.
    pub fn register_agent(&mut self, new: NewAgent<'_>, now: u64) {
        let NewAgent { id, name, resources, credential_sha256, approved } = new;
        let agent = self.agents.entry(id.to_string()).or_insert_with(|| AgentInfo {
            id: id.to_string(),
            name: name.to_string(),
            resources: Vec::new(),
            last_seen_ms: now,
            attempt: None,
            lost: false,
            credential_sha256: String::new(),
            approved,
        });
        agent.name = name.to_string();
        agent.resources = resources;
        agent.last_seen_ms = now;
        agent.lost = false;
        agent.credential_sha256 = credential_sha256.to_string();
        let previous = agent.attempt.take();
        let write = agent_write(agent);
        self.writes.push(write);
        if let Some(previous) = previous {
            self.lose_attempt(previous, Some(id), &format!("agent `{name}` restarted while running the job"), now);
        }
        self.effects.push(Effect::WorkReady);
    }

    /// Lets an agent registered while approval is required take jobs.
    pub fn approve_agent(&mut self, id: &str) -> Result<(), SchedError> {
        let agent = self.agents.get_mut(id).ok_or_else(|| unknown_agent(id))?;
        if agent.approved {
            return Err(SchedError::Conflict(format!("agent {id} (`{}`) is already approved", agent.name)));
        }
        agent.approved = true;
        let write = agent_write(agent);
        self.writes.push(write);
        self.effects.push(Effect::WorkReady);
        Ok(())
    }

    /// Checks an agent's credential (by its SHA-256).
    pub fn check_agent(&self, id: &str, credential_sha256: &str) -> Result<&AgentInfo, SchedError> {
        let agent = self.agents.get(id).ok_or_else(|| unknown_agent(id))?;
        if agent.credential_sha256.is_empty() || !same_secret(&agent.credential_sha256, credential_sha256) {
            return Err(SchedError::Refused(format!("invalid credential for agent {id}")));
        }
        Ok(agent)
    }

    /// Records the SHA-256 of the job token given out with an attempt's assignment.
    pub fn give_job_token(&mut self, attempt: u64, token_sha256: String) {
        if let Some(a) = self.attempt_mut(attempt) {
            a.token_sha256 = Some(token_sha256);
        }
        self.touch_attempt(attempt);
    }

    /// The agent running `attempt`, when `token_sha256` is the SHA-256 of its job token and the
    /// attempt is not over.
    pub fn job_agent(&self, attempt: u64, token_sha256: &str) -> Result<String, SchedError> {
        let refused = || SchedError::Refused(format!("invalid job token for attempt {attempt}"));
        let a = self.attempt(attempt).ok_or_else(refused)?;
        if !a.token_sha256.as_deref().is_some_and(|t| same_secret(t, token_sha256)) {
            return Err(refused());
        }
        if a.state != JobState::Assigned {
            return Err(SchedError::Gone(format!("attempt {attempt} is over: its job token is no longer valid")));
        }
        a.agent.clone().ok_or_else(refused)
    }

    /// Whether an agent has been heard from recently: within its lease, plus the longest a
    /// request for work is held (an idle agent is heard from once per request).
    pub(crate) fn alive(&self, agent: &AgentInfo, now: u64) -> bool {
        !agent.lost && now.saturating_sub(agent.last_seen_ms) <= self.cfg.lease_ms + crate::protocol::MAX_WAIT_MS
    }

    /// An agent's state as the status shows it: `lost`, `awaiting_approval`, `building` or `idle`.
    pub(crate) fn agent_state(&self, agent: &AgentInfo, now: u64) -> &'static str {
        if !self.alive(agent, now) {
            "lost"
        } else if !agent.approved {
            "awaiting_approval"
        } else if agent.attempt.is_some() {
            "building"
        } else {
            "idle"
        }
    }

    /// Forgets the agents `which` selects (the local agents of an earlier `pw run` on this state
    /// folder, replaced by this run's): a job one of them was running is failed as lost and
    /// retried once, on any agent.
    pub fn forget_agents(&mut self, which: impl Fn(&AgentInfo) -> bool, now: u64) {
        let gone: Vec<AgentInfo> = self.agents.values().filter(|a| which(a)).cloned().collect();
        for agent in gone {
            self.agents.remove(&agent.id);
            self.writes.push(Write::AgentGone { id: agent.id.clone() });
            if let Some(attempt) = agent.attempt {
                let reason = format!("agent `{}` of an earlier run is gone", agent.name);
                self.lose_attempt(attempt, None, &reason, now);
            }
        }
    }

    /// Renews an agent's lease. Returns whether the agent should stop `attempt`.
    pub fn heartbeat(&mut self, agent: &str, attempt: Option<u64>, now: u64) -> Result<bool, SchedError> {
        let info = self.agents.get_mut(agent).ok_or_else(|| unknown_agent(agent))?;
        info.last_seen_ms = now;
        info.lost = false;
        Ok(match attempt {
            Some(a) => {
                !self.attempt(a).is_some_and(|a| a.state == JobState::Assigned && a.agent.as_deref() == Some(agent))
            }
            None => false,
        })
    }

    /// Gives the oldest job this agent can run to it, if any.
    pub fn assign(&mut self, agent: &str, now: u64) -> Result<Option<u64>, SchedError> {
        let info = self.agents.get_mut(agent).ok_or_else(|| unknown_agent(agent))?;
        info.last_seen_ms = now;
        info.lost = false;
        let approved = info.approved;
        if let Some(previous) = info.attempt.take() {
            // The agent asks for work while the server thinks it runs a job: it restarted and
            // the job is lost with it.
            let name = info.name.clone();
            self.lose_attempt(previous, Some(agent), &format!("agent `{name}` restarted while running the job"), now);
        }
        if !approved {
            return Ok(None);
        }
        let info = &self.agents[agent];
        let chosen = self.queue.iter().copied().find(|&id| {
            let Some(slot) = self.slots.get(&id) else { return false };
            let Some(job) = self.job_at(*slot) else { return false };
            let excluded = job.current().is_some_and(|a| a.excluded_agents.iter().any(|x| x == agent));
            !excluded && info.can_run(&job.definition.resources)
        });
        let Some(id) = chosen else { return Ok(None) };
        self.queue.remove(&id);
        self.running.insert(id);
        let name = self.agents.get(agent).map(|a| a.name.clone());
        if let Some(a) = self.attempt_mut(id) {
            a.state = JobState::Assigned;
            a.agent = Some(agent.to_string());
            a.agent_name = name;
            a.assigned_ms = Some(now);
        }
        if let Some(info) = self.agents.get_mut(agent) {
            info.attempt = Some(id);
        }
        self.touch_attempt(id);
        if let Some(job) = self.job_key(id) {
            let name = self.agents.get(agent).map_or_else(|| agent.to_string(), |a| a.name.clone());
            self.effects.push(Effect::Event(EventKind::JobAssigned { job, agent: name }));
        }
        Ok(Some(id))
    }

    fn job_at(&self, slot: Slot) -> Option<&JobRun> {
        self.instances.get(&slot.instance)?.stages.get(slot.stage)?.jobs.get(slot.job)
    }

    /// What an agent needs to run an attempt, with the attempt's job token; `secret` resolves
    /// `secret("name")` values. An unresolvable secret is an error message naming it.
    pub fn assignment(
        &self,
        attempt: u64,
        job_token: &str,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Assignment, String> {
        let slot = self.slots.get(&attempt).ok_or("unknown attempt")?;
        let inst = self.instances.get(&slot.instance).ok_or("unknown instance")?;
        let stage = &inst.stages[slot.stage];
        let job = &stage.jobs[slot.job];
        let number = job.attempts.iter().find(|a| a.id == attempt).map_or(1, |a| a.number);
        let mut env = plain_env(inst, &stage.name);
        env.insert("PW_JOB".into(), job.name.clone());
        env.insert("PW_ATTEMPT".into(), number.to_string());
        let mut secrets = Vec::new();
        for (name, value) in declared_env(inst, &stage.name).chain(job.definition.env.iter()) {
            match value {
                EnvValue::Value(v) => {
                    env.insert(name.clone(), v.clone());
                }
                EnvValue::Secret(s) => {
                    let v = secret(s).ok_or_else(|| crate::secrets::missing_message(s))?;
                    crate::masker::check_length(s, &v)?;
                    if !v.is_empty() {
                        secrets.push(v.clone());
                    }
                    env.insert(name.clone(), v);
                }
            }
        }
        let fetch_materials = inst.definition.stages.get(slot.stage).is_none_or(|s| s.fetch_materials);
        Ok(Assignment {
            attempt_id: attempt,
            job_token: job_token.to_string(),
            pipeline: inst.pipeline.clone(),
            counter: inst.counter,
            stage: stage.name.clone(),
            job: job.name.clone(),
            attempt: number,
            env,
            secrets,
            materials: if fetch_materials { inst.materials.clone() } else { Vec::new() },
            tasks: job.definition.tasks.clone(),
            artifacts: job.definition.artifacts.clone(),
            timeout_ms: job.definition.timeout_seconds.map(|s| s.saturating_mul(1000)),
        })
    }

    /// Fails an attempt on the server's side (a secret it needs is missing, for instance).
    pub fn fail(&mut self, attempt: u64, reason: String, now: u64) {
        self.finish_attempt(attempt, JobState::Failed, Some(reason), None, now);
    }

    fn check_owner(&self, attempt: u64, agent: &str) -> Result<&Attempt, SchedError> {
        let a = self.attempt(attempt).ok_or_else(|| SchedError::NotFound(format!("no attempt {attempt}")))?;
        if a.agent.as_deref() != Some(agent) {
            return Err(SchedError::Gone(format!("attempt {attempt} is not assigned to agent {agent}")));
        }
        Ok(a)
    }

    /// Whether `agent` may upload logs and artifacts for `attempt` (its own, even once over).
    pub(crate) fn owns(&self, attempt: u64, agent: &str) -> Result<(), SchedError> {
        self.check_owner(attempt, agent).map(|_| ())
    }

    /// An agent reports a task starting or ending.
    pub fn task_report(&mut self, attempt: u64, agent: &str, report: &TaskReport, now: u64) -> Result<(), SchedError> {
        let TaskReport { index, state, exit_code, at_us } = report;
        let (index, state, exit_code, at_us) = (*index, *state, *exit_code, *at_us);
        self.check_owner(attempt, agent)?;
        if let Some(info) = self.agents.get_mut(agent) {
            info.last_seen_ms = now;
        }
        let slot = self.slots[&attempt];
        let Some(job) = self.job_at(slot) else { return Ok(()) };
        let total = job.definition.tasks.len();
        let label = job.definition.tasks.get(index).map(task_label).unwrap_or_default();
        let Some(a) = self.attempt_mut(attempt) else { return Ok(()) };
        if a.state != JobState::Assigned {
            return Ok(());
        }
        if let Some(t) = a.tasks.get_mut(index) {
            *t = state;
        }
        self.touch_attempt(attempt);
        let Some(job) = self.job_key(attempt) else { return Ok(()) };
        if index < total && matches!(state, TaskState::Running | TaskState::Passed | TaskState::Failed) {
            self.writes.push(Write::TaskTime {
                attempt,
                index,
                pipeline: job.pipeline.clone(),
                stage: job.stage.clone(),
                job: job.job.clone(),
                state,
                at_us,
            });
        }
        let event = match state {
            TaskState::Running => EventKind::TaskStarted { job, index, total, label, agent_at_us: at_us },
            _ => EventKind::TaskFinished { job, index, state, exit_code, agent_at_us: at_us },
        };
        self.effects.push(Effect::Event(event));
        Ok(())
    }

    /// Records an artifact an agent uploaded.
    pub(crate) fn artifact_stored(
        &mut self,
        attempt: u64,
        agent: &str,
        name: &str,
        art: ArtifactRef,
    ) -> Result<(), SchedError> {
        self.check_owner(attempt, agent)?;
        if let Some(a) = self.attempt_mut(attempt) {
            a.artifacts.insert(name.to_string(), art);
        }
        self.touch_attempt(attempt);
        Ok(())
    }

    /// An agent reports the end of its job. Reporting the same end twice is accepted.
    pub fn complete(
        &mut self,
        attempt: u64,
        agent: &str,
        result: JobResult,
        reason: Option<String>,
        at_us: u64,
        now: u64,
    ) -> Result<(), SchedError> {
        let a = self.check_owner(attempt, agent)?;
        if a.state.is_finished() {
            return Ok(());
        }
        if let Some(info) = self.agents.get_mut(agent) {
            info.last_seen_ms = now;
        }
        let state = match result {
            JobResult::Passed => JobState::Passed,
            JobResult::Failed => JobState::Failed,
            JobResult::Cancelled => JobState::Cancelled,
            JobResult::Lost => {
                let name = self.agents.get(agent).map_or(agent, |a| a.name.as_str()).to_string();
                let why = reason.unwrap_or_else(|| "it is stopping".into());
                self.give_up_attempt(
                    attempt,
                    &format!("agent `{name}` gave the job up ({why}); running it again"),
                    now,
                );
                return Ok(());
            }
        };
        self.finish_attempt(attempt, state, reason, Some(at_us), now);
        Ok(())
    }

    // ----- instances -----

    /// The materials of a pipeline, with the revisions still to be found.
    pub(crate) fn materials_of(&self, pipeline: &str) -> Vec<plan::Material> {
        let Some(p) = self.plan().pipeline(pipeline) else { return Vec::new() };
        p.materials
            .iter()
            .filter_map(|m| self.plan().materials.iter().find(|x| x.name.eq_ignore_ascii_case(m)).cloned())
            .collect()
    }

    /// Creates an instance of `pipeline`; it starts at once unless `max_instances` are running.
    pub fn trigger(
        &mut self,
        pipeline: &str,
        cause: Cause,
        upstreams: Vec<InstanceRef>,
        materials: Vec<MaterialCheckout>,
        now: u64,
    ) -> Result<(String, u32), SchedError> {
        let def = self
            .plan()
            .pipeline(pipeline)
            .cloned()
            .ok_or_else(|| SchedError::NotFound(format!("no pipeline named `{pipeline}`")))?;
        for m in &materials {
            self.revisions.insert(key(&m.name), m.revision.clone());
        }
        let counter =
            self.instances.values().filter(|i| i.pipeline == def.name).map(|i| i.counter).max().unwrap_or(0) + 1;
        let id = self.next_instance;
        self.next_instance += 1;
        let stages = def
            .stages
            .iter()
            .map(|s| StageRun {
                name: s.name.clone(),
                state: StageState::Pending,
                reason: None,
                jobs: Vec::new(),
                discovering: Vec::new(),
                approved_by: None,
                runs: 0,
            })
            .collect();
        let inst = Instance {
            id,
            pipeline: def.name.clone(),
            counter,
            definition: def.clone(),
            materials,
            cause,
            upstreams,
            state: InstanceState::Queued,
            cancelled: false,
            stages,
            created_ms: now,
            finished_ms: None,
        };
        self.by_name.insert((key(&def.name), counter), id);
        self.instances.insert(id, inst);
        self.full.insert(id);
        if self.has_slot(&def.name, def.max_instances) {
            self.start_instance(id, now);
        } else {
            self.effects.push(Effect::Event(EventKind::InstanceQueued { pipeline: def.name.clone(), counter }));
        }
        Ok((def.name, counter))
    }

    fn has_slot(&self, pipeline: &str, max: Option<u32>) -> bool {
        let Some(max) = max else { return true };
        let active = self
            .instances
            .values()
            .filter(|i| i.pipeline == pipeline && i.state != InstanceState::Queued && !i.state.is_finished())
            .count();
        active < max as usize
    }

    fn start_instance(&mut self, id: u64, now: u64) {
        let Some(inst) = self.instances.get_mut(&id) else { return };
        inst.state = InstanceState::Running;
        let event = EventKind::InstanceStarted {
            pipeline: inst.pipeline.clone(),
            counter: inst.counter,
            cause: inst.cause.to_string(),
        };
        self.effects.push(Effect::Event(event));
        self.enter_stage(id, 0, now);
        self.refresh_instance(id, now);
    }

    /// Starts a stage, or holds it for approval.
    fn enter_stage(&mut self, id: u64, si: usize, now: u64) {
        let Some(inst) = self.instances.get_mut(&id) else { return };
        let manual = inst.definition.stages.get(si).is_some_and(|s| s.approval == StageApproval::Manual);
        let Some(stage) = inst.stages.get_mut(si) else { return };
        if manual && stage.approved_by.is_none() {
            stage.state = StageState::AwaitingApproval;
            let event = EventKind::StageAwaitingApproval {
                pipeline: inst.pipeline.clone(),
                counter: inst.counter,
                stage: stage.name.clone(),
            };
            self.effects.push(Effect::Event(event));
            self.dirty.insert(id);
        } else {
            self.start_stage(id, si, now);
        }
    }

    fn start_stage(&mut self, id: u64, si: usize, now: u64) {
        let Some(inst) = self.instances.get_mut(&id) else { return };
        let Some(def) = inst.definition.stages.get(si).cloned() else { return };
        let env = plain_env(inst, &def.name);
        let stage = &mut inst.stages[si];
        stage.state = StageState::Running;
        stage.reason = None;
        stage.runs += 1;
        stage.jobs.clear();
        stage.discovering.clear();
        let event =
            EventKind::StageStarted { pipeline: inst.pipeline.clone(), counter: inst.counter, stage: def.name.clone() };
        self.effects.push(Effect::Event(event));
        let mut created = Vec::new();
        for job in &def.jobs {
            if let Some(d) = &job.discover {
                stage.discovering.push(job.name.clone());
                self.effects.push(Effect::Discover {
                    instance: id,
                    stage: def.name.clone(),
                    job: job.name.clone(),
                    command: d.command.clone(),
                    env: env.clone(),
                });
            } else {
                stage.jobs.push(JobRun { name: job.name.clone(), definition: job.clone(), attempts: Vec::new() });
                created.push(stage.jobs.len() - 1);
            }
        }
        if !stage.discovering.is_empty() {
            stage.state = StageState::Discovering;
        }
        self.full.insert(id);
        for ji in created {
            self.new_attempt(id, si, ji, Vec::new(), false, now);
        }
        self.check_stage(id, si, now);
    }

    fn new_attempt(&mut self, id: u64, si: usize, ji: usize, excluded: Vec<String>, is_retry: bool, now: u64) {
        let Some((attempt_id, resources)) = self.push_attempt((id, si, ji), excluded.clone(), is_retry, true, now)
        else {
            return;
        };
        self.queue.insert(attempt_id);
        self.dirty_jobs.insert((id, si, ji));
        if let Some(job) = self.job_key(attempt_id) {
            self.effects.push(Effect::Event(EventKind::JobScheduled { job }));
        }
        if let Some(reason) = self.unrunnable(&resources, &excluded) {
            self.finish_attempt(attempt_id, JobState::Failed, Some(reason), None, now);
        } else {
            self.effects.push(Effect::WorkReady);
        }
    }

    /// Adds a scheduled attempt to a job (with its tasks pending when `with_tasks`) and returns
    /// its id and the job's resources; `None` when the job does not exist.
    fn push_attempt(
        &mut self,
        (id, si, ji): (u64, usize, usize),
        excluded_agents: Vec<String>,
        is_retry: bool,
        with_tasks: bool,
        now: u64,
    ) -> Option<(u64, Vec<String>)> {
        let job = self.instances.get_mut(&id).and_then(|i| i.stages.get_mut(si)).and_then(|s| s.jobs.get_mut(ji))?;
        let attempt_id = self.next_attempt;
        self.next_attempt += 1;
        let tasks = if with_tasks { vec![TaskState::Pending; job.definition.tasks.len()] } else { Vec::new() };
        job.attempts.push(Attempt {
            id: attempt_id,
            number: job.attempts.len() as u32 + 1,
            state: JobState::Scheduled,
            agent: None,
            agent_name: None,
            reason: None,
            scheduled_ms: now,
            assigned_ms: None,
            finished_ms: None,
            excluded_agents,
            is_retry,
            cancel_requested: false,
            tasks,
            artifacts: BTreeMap::new(),
            token_sha256: None,
        });
        let resources = job.definition.resources.clone();
        self.slots.insert(attempt_id, Slot { instance: id, stage: si, job: ji });
        Some((attempt_id, resources))
    }

    /// Why no registered agent could ever run a job with these resources, if none can. An agent
    /// silent for now (restarting, cut off) still counts: it may come back. With no agent
    /// registered at all, jobs wait (for their wait limit) for the first one.
    fn unrunnable(&self, resources: &[String], excluded: &[String]) -> Option<String> {
        if self.agents.is_empty() {
            return None;
        }
        let candidates: Vec<&AgentInfo> = self.agents.values().filter(|a| !excluded.contains(&a.id)).collect();
        if candidates.iter().any(|a| a.can_run(resources)) {
            return None;
        }
        if candidates.is_empty() {
            return Some("no other agent is registered to run it".to_string());
        }
        let missing: BTreeSet<&str> = resources
            .iter()
            .filter(|r| !candidates.iter().any(|a| a.resources.iter().any(|x| x.eq_ignore_ascii_case(r))))
            .map(String::as_str)
            .collect();
        let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
        let mut agents: Vec<String> =
            candidates.iter().map(|a| format!("{} [{}]", a.name, list(&a.resources))).collect();
        agents.sort();
        Some(if missing.is_empty() {
            format!("no agent has all of the resources [{}] (agents: {})", resources.join(", "), agents.join("; "))
        } else {
            format!(
                "no agent has the resources [{}] (agents: {})",
                missing.into_iter().collect::<Vec<_>>().join(", "),
                agents.join("; ")
            )
        })
    }

    /// Why a scheduled attempt has no agent yet, as people read it: no agent at all, none with
    /// its resources, the capable ones waiting for approval, silent, or all busy.
    /// The flag says whether no agent is ready to run it at all (it needs a person).
    pub(crate) fn wait_reason(&self, attempt: &Attempt, resources: &[String], now: u64) -> (bool, String) {
        if let Some(reason) = self.unrunnable(resources, &attempt.excluded_agents) {
            return (true, reason);
        }
        if self.agents.is_empty() {
            return (true, "no agent is registered yet".to_string());
        }
        let capable: Vec<&AgentInfo> =
            self.agents.values().filter(|a| !attempt.excluded_agents.contains(&a.id) && a.can_run(resources)).collect();
        let names = |pred: &dyn Fn(&AgentInfo) -> bool| -> Vec<&str> {
            capable.iter().filter(|a| pred(a)).map(|a| a.name.as_str()).collect()
        };
        let ready = names(&|a| a.approved && self.alive(a, now));
        if ready.is_empty() {
            let waiting = names(&|a| !a.approved);
            if !waiting.is_empty() {
                return (true, format!("the agents that can run it wait for approval: {}", waiting.join(", ")));
            }
            return (true, format!("the agents that can run it are lost: {}", names(&|_| true).join(", ")));
        }
        let idle = names(&|a| a.approved && self.alive(a, now) && a.attempt.is_none());
        let text = if idle.is_empty() {
            format!("every agent that can run it is busy: {}", ready.join(", "))
        } else {
            format!("waiting for {} to ask for work", idle.join(", "))
        };
        (false, text)
    }

    fn touch_attempt(&mut self, attempt: u64) {
        if let Some(slot) = self.slots.get(&attempt) {
            self.dirty_jobs.insert((slot.instance, slot.stage, slot.job));
        }
    }

    /// Ends an attempt and moves its stage and instance on.
    fn finish_attempt(&mut self, attempt: u64, state: JobState, reason: Option<String>, at_us: Option<u64>, now: u64) {
        let Some(slot) = self.slots.get(&attempt).copied() else { return };
        let Some(a) = self.attempt_mut(attempt) else { return };
        if a.state.is_finished() {
            return;
        }
        let was_running = a.state == JobState::Assigned;
        a.state = state;
        a.reason = reason.clone();
        a.finished_ms = Some(now);
        for t in &mut a.tasks {
            if matches!(t, TaskState::Pending | TaskState::Running) {
                *t = TaskState::Skipped;
            }
        }
        let agent = a.agent.clone();
        self.queue.remove(&attempt);
        self.running.remove(&attempt);
        if let Some(info) = agent.as_ref().and_then(|id| self.agents.get_mut(id)) {
            if info.attempt == Some(attempt) {
                info.attempt = None;
            }
        }
        if was_running && at_us.is_none() {
            self.effects.push(Effect::StopAttempt { attempt });
        }
        self.dirty_jobs.insert((slot.instance, slot.stage, slot.job));
        if let Some(job) = self.job_key(attempt) {
            let agent_name =
                agent.as_ref().map(|id| self.agents.get(id).map_or_else(|| id.clone(), |a| a.name.clone()));
            self.effects.push(Effect::Event(EventKind::JobFinished {
                job,
                state,
                reason,
                agent: agent_name,
                agent_at_us: at_us,
            }));
        }
        if state != JobState::Passed && self.on_failure_cancels(slot) {
            self.cancel_stage_jobs(slot.instance, slot.stage, "cancelled: another job of the stage failed", now);
        }
        self.check_stage(slot.instance, slot.stage, now);
    }

    fn on_failure_cancels(&self, slot: Slot) -> bool {
        self.instances
            .get(&slot.instance)
            .and_then(|i| i.definition.stages.get(slot.stage))
            .is_some_and(|s| s.on_failure == StageOnFailure::Cancel)
    }

    fn cancel_stage_jobs(&mut self, id: u64, si: usize, reason: &str, now: u64) {
        let Some(stage) = self.instances.get_mut(&id).and_then(|i| i.stages.get_mut(si)) else { return };
        stage.discovering.clear();
        let open: Vec<u64> =
            stage.jobs.iter().filter_map(|j| j.current()).filter(|a| !a.state.is_finished()).map(|a| a.id).collect();
        for a in open {
            if let Some(att) = self.attempt_mut(a) {
                att.cancel_requested = true;
            }
            self.finish_attempt(a, JobState::Cancelled, Some(reason.to_string()), None, now);
        }
    }

    /// Settles a stage whose jobs are all over, and starts what follows it.
    fn check_stage(&mut self, id: u64, si: usize, now: u64) {
        let Some(inst) = self.instances.get_mut(&id) else { return };
        let cancelled = inst.cancelled;
        let Some(stage) = inst.stages.get_mut(si) else { return };
        if !stage.state.is_active() || !stage.discovering.is_empty() {
            return;
        }
        if stage.jobs.iter().any(|j| !j.state().is_finished()) {
            return;
        }
        let passed = stage.jobs.iter().all(|j| j.state() == JobState::Passed);
        stage.state = if passed {
            StageState::Passed
        } else if cancelled {
            StageState::Cancelled
        } else {
            StageState::Failed
        };
        if !passed && stage.reason.is_none() {
            let failed: Vec<&str> =
                stage.jobs.iter().filter(|j| j.state() == JobState::Failed).map(|j| j.name.as_str()).collect();
            if !failed.is_empty() {
                stage.reason = Some(format!("failed jobs: {}", failed.join(", ")));
            }
        }
        let event = EventKind::StageFinished {
            pipeline: inst.pipeline.clone(),
            counter: inst.counter,
            stage: stage.name.clone(),
            result: stage.state,
            reason: stage.reason.clone(),
        };
        let stage_name = stage.name.clone();
        self.effects.push(Effect::Event(event));
        self.dirty.insert(id);
        if passed {
            let next = inst.stages.get(si + 1).is_some_and(|s| s.state == StageState::Pending);
            if next {
                self.enter_stage(id, si + 1, now);
            }
            self.refresh_instance(id, now);
            self.trigger_downstream(id, &stage_name, now);
        } else {
            self.refresh_instance(id, now);
        }
    }

    /// Recomputes an instance's state from its stages; starts queued instances when it ends.
    fn refresh_instance(&mut self, id: u64, now: u64) {
        let Some(inst) = self.instances.get_mut(&id) else { return };
        if inst.state == InstanceState::Queued && !inst.cancelled {
            return;
        }
        let before = inst.state;
        let st = |f: fn(StageState) -> bool| inst.stages.iter().any(|s| f(s.state));
        inst.state = if inst.cancelled {
            InstanceState::Cancelled
        } else if st(StageState::is_active) {
            InstanceState::Running
        } else if st(|s| s == StageState::AwaitingApproval) {
            InstanceState::AwaitingApproval
        } else if st(|s| matches!(s, StageState::Failed | StageState::Cancelled)) {
            InstanceState::Failed
        } else if inst.stages.iter().all(|s| s.state == StageState::Passed) {
            InstanceState::Passed
        } else {
            InstanceState::Running
        };
        if inst.state == before {
            return;
        }
        self.dirty.insert(id);
        if inst.state.is_finished() {
            inst.finished_ms = Some(now);
            let event = EventKind::InstanceFinished {
                pipeline: inst.pipeline.clone(),
                counter: inst.counter,
                result: inst.state.as_str().to_string(),
            };
            self.effects.push(Effect::Event(event));
            let pipeline = inst.pipeline.clone();
            let max = inst.definition.max_instances;
            self.start_queued(&pipeline, max, now);
        } else {
            inst.finished_ms = None;
        }
    }

    fn start_queued(&mut self, pipeline: &str, max: Option<u32>, now: u64) {
        while self.has_slot(pipeline, max) {
            let next = self
                .instances
                .values()
                .filter(|i| i.pipeline == pipeline && i.state == InstanceState::Queued && !i.cancelled)
                .map(|i| (i.counter, i.id))
                .min();
            let Some((_, id)) = next else { return };
            self.start_instance(id, now);
        }
    }

    /// Triggers the pipelines that run `after` this stage. A pipeline with several upstreams
    /// starts only when each has a passed instance and all agree on the revisions of the
    /// materials they share.
    fn trigger_downstream(&mut self, id: u64, stage: &str, now: u64) {
        let Some(inst) = self.instances.get(&id) else { return };
        let (pipeline, counter) = (inst.pipeline.clone(), inst.counter);
        let downstream: Vec<plan::Pipeline> = self
            .plan()
            .pipelines
            .iter()
            .filter(|p| {
                p.after
                    .iter()
                    .any(|u| u.pipeline.eq_ignore_ascii_case(&pipeline) && u.stage.eq_ignore_ascii_case(stage))
            })
            .cloned()
            .collect();
        for down in downstream {
            let mut upstreams: Vec<&Instance> = Vec::new();
            for up in &down.after {
                let found = if up.pipeline.eq_ignore_ascii_case(&pipeline) {
                    self.instances.get(&id)
                } else {
                    self.latest_passed(&up.pipeline, &up.stage)
                };
                match found {
                    Some(i) => upstreams.push(i),
                    None => break,
                }
            }
            if upstreams.len() != down.after.len() || !consistent(&upstreams) {
                continue;
            }
            let refs: Vec<InstanceRef> =
                upstreams.iter().map(|i| InstanceRef { pipeline: i.pipeline.clone(), counter: i.counter }).collect();
            let mut inherited = Vec::new();
            let mut missing = false;
            for m in self.materials_of(&down.name) {
                let from_upstream =
                    upstreams.iter().flat_map(|i| &i.materials).find(|x| x.name.eq_ignore_ascii_case(&m.name));
                let revision = from_upstream
                    .map(|x| x.revision.clone())
                    .or_else(|| self.known_revision(&m.name).map(String::from));
                match revision {
                    Some(revision) => inherited.push(checkout(&m, revision)),
                    None => missing = true,
                }
            }
            let cause = Cause::Upstream { pipeline: pipeline.clone(), counter, stage: stage.to_string() };
            if missing {
                let t = PendingTrigger {
                    id: self.next_pending,
                    pipeline: down.name.clone(),
                    cause,
                    upstreams: refs,
                    inherited,
                    created_ms: now,
                };
                self.next_pending += 1;
                self.dirty_pending.insert(t.id);
                self.effects.push(Effect::TriggerLater(t.clone()));
                self.pending.insert(t.id, t);
            } else {
                let _ = self.trigger(&down.name, cause, refs, inherited, now);
            }
        }
    }

    fn latest_passed(&self, pipeline: &str, stage: &str) -> Option<&Instance> {
        self.instances
            .values()
            .filter(|i| i.pipeline.eq_ignore_ascii_case(pipeline))
            .filter(|i| i.stages.iter().any(|s| s.name.eq_ignore_ascii_case(stage) && s.state == StageState::Passed))
            .max_by_key(|i| i.counter)
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

    /// Lets a stage held for manual approval start.
    pub fn approve(&mut self, pipeline: &str, counter: u32, stage: &str, by: &str, now: u64) -> Result<(), SchedError> {
        let id = self.find_instance(pipeline, counter)?;
        let si = self.find_stage(id, stage)?;
        let inst = self.instances.get_mut(&id).ok_or_else(|| SchedError::NotFound("instance".into()))?;
        let st = &mut inst.stages[si];
        if st.state != StageState::AwaitingApproval {
            return Err(SchedError::Conflict(format!(
                "stage {pipeline}/{counter}/{} is not awaiting approval (it is {})",
                st.name,
                st.state.word()
            )));
        }
        st.approved_by = Some(by.to_string());
        self.start_stage(id, si, now);
        self.refresh_instance(id, now);
        Ok(())
    }

    /// Re-runs a finished stage: all its jobs, one job, or the jobs that did not pass. The other
    /// jobs' results and artifacts stand; every attempt is kept.
    pub fn rerun(
        &mut self,
        pipeline: &str,
        counter: u32,
        stage: &str,
        job: Option<&str>,
        failed_only: bool,
        now: u64,
    ) -> Result<(), SchedError> {
        let id = self.find_instance(pipeline, counter)?;
        let si = self.find_stage(id, stage)?;
        let inst = &self.instances[&id];
        if inst.state == InstanceState::Queued {
            return Err(SchedError::Conflict(format!("{pipeline}/{counter} has not started yet")));
        }
        if let Some(active) = inst.stages.iter().find(|s| s.state.is_active()) {
            return Err(SchedError::Conflict(format!(
                "{pipeline}/{counter} is still running stage `{}`; wait for it or cancel it first",
                active.name
            )));
        }
        let st = &inst.stages[si];
        if !st.state.is_finished() {
            return Err(SchedError::Conflict(format!(
                "stage `{}` has not run in {pipeline}/{counter} (it is {})",
                st.name,
                st.state.word()
            )));
        }
        let selected: Vec<usize> = match job {
            Some(name) => {
                let ji = st.jobs.iter().position(|j| j.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
                    let names: Vec<&str> = st.jobs.iter().map(|j| j.name.as_str()).collect();
                    SchedError::NotFound(format!(
                        "stage `{}` has no job `{name}` (jobs: {})",
                        st.name,
                        names.join(", ")
                    ))
                })?;
                vec![ji]
            }
            None => (0..st.jobs.len()).filter(|&ji| !failed_only || st.jobs[ji].state() != JobState::Passed).collect(),
        };
        if selected.is_empty() && failed_only {
            return Err(SchedError::Conflict(format!("stage `{}` has no failed job to re-run", st.name)));
        }
        let env = plain_env(inst, &st.name);
        let inst = self.instances.get_mut(&id).ok_or_else(|| SchedError::NotFound("instance".into()))?;
        inst.cancelled = false;
        let stage_name = inst.stages[si].name.clone();
        let event = EventKind::StageStarted {
            pipeline: inst.pipeline.clone(),
            counter: inst.counter,
            stage: stage_name.clone(),
        };
        let st = &mut inst.stages[si];
        st.state = StageState::Running;
        st.reason = None;
        st.runs += 1;
        // A job whose `discover` failed is re-discovered rather than re-run.
        let mut rediscover = Vec::new();
        let mut plain = Vec::new();
        for &ji in &selected {
            match &st.jobs[ji].definition.discover {
                Some(d) => rediscover.push((ji, st.jobs[ji].name.clone(), d.command.clone())),
                None => plain.push(ji),
            }
        }
        for (ji, name, command) in rediscover.iter().rev() {
            st.jobs.remove(*ji);
            st.discovering.push(name.clone());
            self.effects.push(Effect::Discover {
                instance: id,
                stage: stage_name.clone(),
                job: name.clone(),
                command: command.clone(),
                env: env.clone(),
            });
            plain.iter_mut().for_each(|p| {
                if *p > *ji {
                    *p -= 1;
                }
            });
        }
        if !st.discovering.is_empty() {
            st.state = StageState::Discovering;
        }
        self.rebuild_slots(id);
        self.effects.push(Effect::Event(event));
        for ji in plain {
            self.new_attempt(id, si, ji, Vec::new(), false, now);
        }
        self.full.insert(id);
        self.refresh_instance(id, now);
        self.check_stage(id, si, now);
        Ok(())
    }

    fn rebuild_slots(&mut self, id: u64) {
        let Some(inst) = self.instances.get(&id) else { return };
        for (si, stage) in inst.stages.iter().enumerate() {
            for (ji, job) in stage.jobs.iter().enumerate() {
                for a in &job.attempts {
                    self.slots.insert(a.id, Slot { instance: id, stage: si, job: ji });
                }
            }
        }
    }

    /// Stops an instance: its waiting jobs are dropped, its running jobs stopped on their agents.
    pub fn cancel(&mut self, pipeline: &str, counter: u32, now: u64) -> Result<(), SchedError> {
        let id = self.find_instance(pipeline, counter)?;
        let inst = self.instances.get_mut(&id).ok_or_else(|| SchedError::NotFound("instance".into()))?;
        if inst.state.is_finished() {
            return Err(SchedError::Conflict(format!("{pipeline}/{counter} is already {}", inst.state.as_str())));
        }
        inst.cancelled = true;
        let stages: Vec<usize> = (0..inst.stages.len()).collect();
        for si in stages {
            let Some(st) = self.instances.get_mut(&id).map(|i| &mut i.stages[si]) else { continue };
            match st.state {
                StageState::AwaitingApproval => {
                    st.state = StageState::Cancelled;
                    st.reason = Some("cancelled".into());
                }
                StageState::Discovering | StageState::Running => {
                    st.reason = Some("cancelled".into());
                    self.cancel_stage_jobs(id, si, "cancelled", now);
                    self.check_stage(id, si, now);
                }
                _ => {}
            }
        }
        self.dirty.insert(id);
        self.refresh_instance(id, now);
        Ok(())
    }

    /// The values a `discover` command printed, or why it failed.
    pub(crate) fn discovered(
        &mut self,
        id: u64,
        stage: &str,
        job: &str,
        result: Result<Vec<String>, String>,
        now: u64,
    ) {
        let Some(si) = self.instances.get(&id).and_then(|i| i.stage_index(stage)) else { return };
        let Some(inst) = self.instances.get_mut(&id) else { return };
        let st = &mut inst.stages[si];
        let Some(pos) = st.discovering.iter().position(|j| j.eq_ignore_ascii_case(job)) else { return };
        st.discovering.remove(pos);
        let Some(def) = inst.definition.stages.get(si).and_then(|s| find_job(&s.jobs, job)).cloned() else { return };
        let Some(d) = def.discover.clone() else { return };
        let mut values: Vec<String> = Vec::new();
        let taken: Vec<String> = st.jobs.iter().map(|j| j.name.clone()).collect();
        let result = result.and_then(|lines| {
            let mut distinct = HashSet::new();
            for l in lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
                if distinct.insert(l) {
                    values.push(l.to_string());
                }
            }
            if values.is_empty() {
                return Err(format!("`{}` printed no values", d.command));
            }
            clashing_job_names(&def.name, &values, &taken)
        });
        let mut created = Vec::new();
        match result {
            Ok(()) => {
                for expanded in values.iter().filter_map(|v| def.expand(v)) {
                    st.jobs.push(JobRun { name: expanded.name.clone(), definition: expanded, attempts: Vec::new() });
                    created.push(st.jobs.len() - 1);
                }
            }
            Err(message) => {
                // The discover job stands as one failed job, so the stage fails with the reason
                // and a re-run discovers again.
                st.jobs.push(JobRun { name: def.name.clone(), definition: def.clone(), attempts: Vec::new() });
                created.push(st.jobs.len() - 1);
                let ji = st.jobs.len() - 1;
                let reason = format!("discover failed: {message}");
                if st.discovering.is_empty() {
                    st.state = StageState::Running;
                }
                self.full.insert(id);
                self.new_attempt_failed(id, si, ji, reason, now);
                self.check_stage(id, si, now);
                return;
            }
        }
        if st.discovering.is_empty() && st.state == StageState::Discovering {
            st.state = StageState::Running;
        }
        self.full.insert(id);
        for ji in created {
            self.new_attempt(id, si, ji, Vec::new(), false, now);
        }
        self.check_stage(id, si, now);
    }

    fn new_attempt_failed(&mut self, id: u64, si: usize, ji: usize, reason: String, now: u64) {
        if let Some((attempt_id, _)) = self.push_attempt((id, si, ji), Vec::new(), false, false, now) {
            self.finish_attempt(attempt_id, JobState::Failed, Some(reason), None, now);
        }
    }

    /// Where an artifact a job fetches comes from: this instance, or the upstream instance
    /// (direct or further up) that caused it.
    pub(crate) fn resolve_fetch(
        &self,
        attempt: u64,
        pipeline: &str,
        stage: &str,
        job: &str,
        artifact: &str,
    ) -> Result<ArtifactRef, SchedError> {
        let slot = self.slots.get(&attempt).ok_or_else(|| SchedError::NotFound(format!("no attempt {attempt}")))?;
        let mut seen = BTreeSet::new();
        let mut todo = vec![slot.instance];
        let mut source = None;
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            let Some(inst) = self.instances.get(&id) else { continue };
            if inst.pipeline.eq_ignore_ascii_case(pipeline) {
                source = Some(inst);
                break;
            }
            for up in &inst.upstreams {
                if let Some(&uid) = self.by_name.get(&(key(&up.pipeline), up.counter)) {
                    todo.push(uid);
                }
            }
        }
        let inst = source
            .ok_or_else(|| SchedError::NotFound(format!("no instance of `{pipeline}` is upstream of this one")))?;
        let st = inst.stages.iter().find(|s| s.name.eq_ignore_ascii_case(stage)).ok_or_else(|| {
            SchedError::NotFound(format!("{}/{} has no stage `{stage}`", inst.pipeline, inst.counter))
        })?;
        let j = st.jobs.iter().find(|j| j.name.eq_ignore_ascii_case(job)).ok_or_else(|| {
            SchedError::NotFound(format!("{}/{}/{} has no job `{job}`", inst.pipeline, inst.counter, st.name))
        })?;
        let best = j
            .attempts
            .iter()
            .rev()
            .filter_map(|a| a.artifacts.get(artifact).map(|r| (a.state == JobState::Passed, r)))
            .max_by_key(|(passed, _)| *passed);
        best.map(|(_, r)| r.clone()).ok_or_else(|| {
            SchedError::NotFound(format!(
                "{}/{}/{}/{} has not published artifact `{artifact}`",
                inst.pipeline, inst.counter, st.name, j.name
            ))
        })
    }

    /// Applies the clock: wait limits, timeouts and lost agents.
    pub(crate) fn tick(&mut self, now: u64) {
        let mut expired = Vec::new();
        for &id in &self.queue {
            let (Some(a), Some(slot)) = (self.attempt(id), self.slots.get(&id)) else { continue };
            let Some(job) = self.job_at(*slot) else { continue };
            let limit = job.definition.wait_limit_seconds.saturating_mul(1000);
            if now.saturating_sub(a.scheduled_ms) > limit {
                let reason = format!(
                    "waited {} for an agent with the resources [{}] (wait_limit)",
                    seconds(limit),
                    job.definition.resources.join(", ")
                );
                expired.push((id, reason));
            }
        }
        for &id in &self.running {
            let (Some(a), Some(slot)) = (self.attempt(id), self.slots.get(&id)) else { continue };
            let Some(job) = self.job_at(*slot) else { continue };
            let Some(timeout) = job.definition.timeout_seconds.map(|s| s.saturating_mul(1000)) else { continue };
            if now.saturating_sub(a.assigned_ms.unwrap_or(now)) > timeout + self.cfg.timeout_grace_ms {
                expired.push((id, format!("timed out after {} (the agent did not stop it)", seconds(timeout))));
            }
        }
        for (id, reason) in expired {
            self.finish_attempt(id, JobState::Failed, Some(reason), None, now);
        }
        let lost: Vec<(String, u64, String)> = self
            .agents
            .values()
            .filter(|a| now.saturating_sub(a.last_seen_ms) > self.cfg.lease_ms)
            .filter_map(|a| a.attempt.map(|at| (a.id.clone(), at, a.name.clone())))
            .collect();
        for (agent, attempt, name) in lost {
            if let Some(info) = self.agents.get_mut(&agent) {
                info.lost = true;
            }
            let reason = format!("agent `{name}` lost (silent for more than {})", seconds(self.cfg.lease_ms));
            self.lose_attempt(attempt, Some(&agent), &reason, now);
        }
    }

    /// Fails an attempt whose agent is gone, and retries it once: on another agent when `agent`
    /// (the one that lost it) is given.
    fn lose_attempt(&mut self, attempt: u64, agent: Option<&str>, reason: &str, now: u64) {
        let Some(a) = self.attempt(attempt) else { return };
        if a.state != JobState::Assigned {
            return;
        }
        let retry = !a.is_retry;
        let mut excluded = a.excluded_agents.clone();
        excluded.extend(agent.map(str::to_string));
        let Some(slot) = self.slots.get(&attempt).copied() else { return };
        let reason = match (retry, agent) {
            (true, Some(_)) => format!("{reason}; retrying on another agent"),
            (true, None) => format!("{reason}; retrying"),
            (false, _) => reason.to_string(),
        };
        self.finish_attempt_quietly(attempt, JobState::Failed, reason, now);
        if retry {
            self.new_attempt(slot.instance, slot.stage, slot.job, excluded, true, now);
        }
        self.check_stage(slot.instance, slot.stage, now);
    }

    /// Ends an attempt its agent gave up (the agent is stopping, through no fault of the job or
    /// of the agent) and schedules it again at once, on any agent, as often as it happens.
    fn give_up_attempt(&mut self, attempt: u64, reason: &str, now: u64) {
        let Some(a) = self.attempt(attempt) else { return };
        if a.state != JobState::Assigned {
            return;
        }
        let (excluded, is_retry) = (a.excluded_agents.clone(), a.is_retry);
        let Some(slot) = self.slots.get(&attempt).copied() else { return };
        self.finish_attempt_quietly(attempt, JobState::Failed, reason.to_string(), now);
        self.new_attempt(slot.instance, slot.stage, slot.job, excluded, is_retry, now);
        self.check_stage(slot.instance, slot.stage, now);
    }

    /// Ends an attempt without settling the stage (a retry follows).
    fn finish_attempt_quietly(&mut self, attempt: u64, state: JobState, reason: String, now: u64) {
        let Some(slot) = self.slots.get(&attempt).copied() else { return };
        if let Some(a) = self.attempt_mut(attempt) {
            a.state = state;
            a.reason = Some(reason.clone());
            a.finished_ms = Some(now);
        }
        self.running.remove(&attempt);
        self.queue.remove(&attempt);
        for info in self.agents.values_mut() {
            if info.attempt == Some(attempt) {
                info.attempt = None;
            }
        }
        self.dirty_jobs.insert((slot.instance, slot.stage, slot.job));
        self.effects.push(Effect::StopAttempt { attempt });
        if let Some(job) = self.job_key(attempt) {
            self.effects.push(Effect::Event(EventKind::JobFinished {
                job,
                state,
                reason: Some(reason),
                agent: None,
                agent_at_us: None,
            }));
        }
    }
}

/// What an agent registers with.
pub struct NewAgent<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub resources: Vec<String>,
    pub credential_sha256: &'a str,
    /// For a new agent: whether it may take jobs without `pw agent approve`.
    pub approved: bool,
}

impl<'a> NewAgent<'a> {
    /// An approved agent that no credential proves (for an agent inside the process).
    pub fn new(id: &'a str, name: &'a str, resources: Vec<String>) -> Self {
        NewAgent { id, name, resources, credential_sha256: "", approved: true }
    }
}

fn agent_write(agent: &AgentInfo) -> Write {
    Write::Agent {
        id: agent.id.clone(),
        name: agent.name.clone(),
        resources: agent.resources.clone(),
        credential_sha256: agent.credential_sha256.clone(),
        approved: agent.approved,
    }
}

/// Compares two secrets in a time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unknown_agent(agent: &str) -> SchedError {
    SchedError::NotFound(format!("unknown agent {agent}: register first"))
}

fn seconds(ms: u64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

fn find_job<'a>(jobs: &'a [plan::Job], name: &str) -> Option<&'a plan::Job> {
    jobs.iter().find(|j| j.name.eq_ignore_ascii_case(name))
}

fn checkout(m: &plan::Material, revision: String) -> MaterialCheckout {
    MaterialCheckout {
        name: m.name.clone(),
        git: m.git.clone(),
        branch: m.branch.clone(),
        path: m.path.clone(),
        revision,
    }
}

/// Builds the checkouts of a pipeline's materials from resolved revisions.
pub(crate) fn checkouts(materials: &[plan::Material], revisions: &BTreeMap<String, String>) -> Vec<MaterialCheckout> {
    materials.iter().filter_map(|m| revisions.get(&key(&m.name)).map(|r| checkout(m, r.clone()))).collect()
}

/// Whether upstream instances agree on the revisions of the materials they share.
fn consistent(upstreams: &[&Instance]) -> bool {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for inst in upstreams {
        for m in &inst.materials {
            match seen.get(&key(&m.name)) {
                Some(&r) if r != m.revision => return false,
                _ => {
                    seen.insert(key(&m.name), &m.revision);
                }
            }
        }
    }
    true
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

/// Why the jobs of a discover fan-out cannot be made, if they cannot: two values whose names
/// are the same once made name-safe (`web.1` and `web-1`), or a job name the stage has already.
fn clashing_job_names(base: &str, values: &[String], taken: &[String]) -> Result<(), String> {
    let taken: HashSet<String> = taken.iter().map(|t| t.to_ascii_lowercase()).collect();
    let mut seen: HashMap<String, &str> = HashMap::new();
    for v in values {
        let name = fan_out::instance_name(base, v);
        let key = name.to_ascii_lowercase();
        if let Some(first) = seen.get(&key) {
            return Err(format!("the values `{first}` and `{v}` both make the job `{name}`"));
        }
        if taken.contains(&key) {
            return Err(format!("the value `{v}` makes the job `{name}`, which the stage has already"));
        }
        seen.insert(key, v);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
