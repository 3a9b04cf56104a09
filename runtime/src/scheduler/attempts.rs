//! Attempts: what their agents report (tasks, artifacts, the end), the artifacts they fetch,
//! their end on the server's side, retries after a lost or stopping agent, and the clock (wait
//! limits, timeouts, lost agents).

use super::{key, Effect, Record, SchedError, Scheduler, Slot, TaskTime};
use crate::protocol::{task_label, ArtifactRef, EventKind, JobResult, TaskReport};
use crate::state::{Attempt, JobState, TaskState};
use std::collections::{BTreeMap, BTreeSet};

impl Scheduler {
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
        let owned = self.check_owner(attempt, agent)?;
        // A task starts only while its attempt is the job's: an assignment that reached its
        // agent after the server gave the job to another (a long poll answered across a
        // partition) runs nothing.
        if state == TaskState::Running && owned.state != JobState::Assigned {
            return Err(SchedError::Gone(format!("attempt {attempt} has ended: its tasks do not start")));
        }
        if let Some(info) = self.agents.get_mut(agent) {
            info.last_seen_ms = now;
        }
        if let Some(a) = self.attempt_mut(attempt) {
            a.taken = true;
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
            self.records.push(Record::TaskTime(TaskTime {
                attempt,
                index,
                pipeline: job.pipeline.clone(),
                stage: job.stage.clone(),
                job: job.job.clone(),
                state,
                at_us,
            }));
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

    pub(super) fn new_attempt(
        &mut self,
        id: u64,
        si: usize,
        ji: usize,
        excluded: Vec<String>,
        is_retry: bool,
        now: u64,
    ) {
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
    pub(super) fn push_attempt(
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
            taken: false,
        });
        let resources = job.definition.resources.clone();
        self.slots.insert(attempt_id, Slot { instance: id, stage: si, job: ji });
        Some((attempt_id, resources))
    }

    /// Ends an attempt and moves its stage and instance on.
    pub(super) fn finish_attempt(
        &mut self,
        attempt: u64,
        state: JobState,
        reason: Option<String>,
        at_us: Option<u64>,
        now: u64,
    ) {
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
    pub(super) fn lose_attempt(&mut self, attempt: u64, agent: Option<&str>, reason: &str, now: u64) {
        let Some(a) = self.attempt(attempt) else { return };
        if a.state != JobState::Assigned {
            return;
        }
        // An attempt its agent never took did not run: it is given again without spending the
        // retry.
        let (taken, was_retry) = (a.taken, a.is_retry);
        let retry = !was_retry || !taken;
        // An agent that lost a job it ran may be what failed it, and does not get it again; one
        // cut off before it took the job may, once it is back.
        let mut excluded = a.excluded_agents.clone();
        excluded.extend(agent.filter(|_| taken).map(str::to_string));
        let Some(slot) = self.slots.get(&attempt).copied() else { return };
        let reason = match (taken, retry, agent) {
            (false, ..) => format!("{reason} before it took the job; given again"),
            (true, true, Some(_)) => format!("{reason}; retrying on another agent"),
            (true, true, None) => format!("{reason}; retrying"),
            (true, false, _) => reason.to_string(),
        };
        self.finish_attempt_quietly(attempt, JobState::Failed, reason, now);
        if retry {
            self.new_attempt(slot.instance, slot.stage, slot.job, excluded, was_retry || taken, now);
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

fn seconds(ms: u64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}
