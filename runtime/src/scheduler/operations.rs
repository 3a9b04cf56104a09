//! What people ask for: approving a stage held for manual approval, re-running a finished stage
//! (all its jobs, one, or those that did not pass), cancelling an instance.

use super::{plain_env, Effect, SchedError, Scheduler, Slot};
use crate::protocol::EventKind;
use crate::state::{InstanceState, JobState, StageState};

impl Scheduler {
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
}
