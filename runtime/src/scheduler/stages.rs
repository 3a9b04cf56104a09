//! Instances and stages moving on: an instance starts (or waits under `max_instances`), a stage
//! starts or waits for approval, settles once its jobs are over, and the next one starts.

use super::{plain_env, Effect, Scheduler, Slot};
use crate::protocol::EventKind;
use crate::state::{InstanceState, JobRun, JobState, StageState};
use pw_compiler::runtime_api::plan::{StageApproval, StageOnFailure};

impl Scheduler {
    pub(super) fn has_slot(&self, pipeline: &str, max: Option<u32>) -> bool {
        let Some(max) = max else { return true };
        let active = self
            .instances
            .values()
            .filter(|i| i.pipeline == pipeline && i.state != InstanceState::Queued && !i.state.is_finished())
            .count();
        active < max as usize
    }

    pub(super) fn start_instance(&mut self, id: u64, now: u64) {
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

    pub(super) fn start_stage(&mut self, id: u64, si: usize, now: u64) {
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

    pub(super) fn on_failure_cancels(&self, slot: Slot) -> bool {
        self.instances
            .get(&slot.instance)
            .and_then(|i| i.definition.stages.get(slot.stage))
            .is_some_and(|s| s.on_failure == StageOnFailure::Cancel)
    }

    pub(super) fn cancel_stage_jobs(&mut self, id: u64, si: usize, reason: &str, now: u64) {
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
    pub(super) fn check_stage(&mut self, id: u64, si: usize, now: u64) {
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
    pub(super) fn refresh_instance(&mut self, id: u64, now: u64) {
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
}
