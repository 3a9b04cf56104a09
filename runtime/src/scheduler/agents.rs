//! Agents: registration (new, returning, awaiting approval), their credentials and the job
//! tokens of their attempts, their leases, and the work handed to them with what it needs.

use super::{declared_env, plain_env, Effect, Record, SchedError, Scheduler};
use crate::protocol::{Assignment, EventKind};
use crate::state::{AgentInfo, Attempt, JobState};
use pw_compiler::runtime_api::plan::EnvValue;
use std::collections::BTreeSet;

impl Scheduler {
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
        let record = Record::Agent(agent.clone());
        self.records.push(record);
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
        let record = Record::Agent(agent.clone());
        self.records.push(record);
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
            self.records.push(Record::AgentGone(agent.id.clone()));
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
        let Some(a) = attempt else { return Ok(false) };
        match self.attempt_mut(a) {
            Some(a) if a.state == JobState::Assigned && a.agent.as_deref() == Some(agent) => {
                a.taken = true;
                Ok(false)
            }
            _ => Ok(true),
        }
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

    /// Why no registered agent could ever run a job with these resources, if none can. An agent
    /// silent for now (restarting, cut off) still counts: it may come back. With no agent
    /// registered at all, jobs wait (for their wait limit) for the first one.
    pub(super) fn unrunnable(&self, resources: &[String], excluded: &[String]) -> Option<String> {
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

/// Compares two secrets in a time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unknown_agent(agent: &str) -> SchedError {
    SchedError::NotFound(format!("unknown agent {agent}: register first"))
}
