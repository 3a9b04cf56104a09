//! What a change altered, for the engine to save: an instance's own fields and each changed job
//! apart (so a change to one job of a wide stage stays small), the pending triggers added or
//! carried out, agents' records and task timings. The scheduler knows nothing of how they are
//! saved: it lends each part to the engine, which turns it into a store write.

use super::Scheduler;
use crate::state::{AgentInfo, Instance, JobRun, PendingTrigger, TaskState};

/// A task started (`Running`) or ended, at `at_us` on its agent's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskTime {
    pub attempt: u64,
    pub index: usize,
    pub pipeline: String,
    pub stage: String,
    pub job: String,
    pub state: TaskState,
    pub at_us: u64,
}

/// One part of the state that a change altered, lent by [`Scheduler::take_dirty`].
#[derive(Debug)]
pub enum Dirty<'a> {
    /// An instance's own fields, to be saved without its jobs. Lent mutably so that it can be
    /// saved without them and without a copy: what is taken out must be put back.
    Instance(&'a mut Instance),
    /// The instance's list of jobs changed: its saved jobs are forgotten, and each of its jobs
    /// follows.
    ClearJobs {
        instance: u64,
    },
    /// One job (with its attempts) of an instance.
    Job {
        instance: u64,
        stage: usize,
        idx: usize,
        job: &'a JobRun,
    },
    /// A downstream trigger waiting for material revisions.
    Pending(&'a PendingTrigger),
    /// A pending trigger carried out (or given up).
    PendingDone {
        id: u64,
    },
    /// An agent's record, as the change left it.
    Agent(AgentInfo),
    /// An agent forgotten.
    AgentGone {
        id: String,
    },
    TaskTime(TaskTime),
}

/// What is saved apart from instances and pending triggers, in the order it happened.
#[derive(Clone, Debug)]
pub(super) enum Record {
    Agent(AgentInfo),
    AgentGone(String),
    TaskTime(TaskTime),
}

impl Scheduler {
    /// Hands what changed since the last call to `save`, part by part: instances (with all
    /// their jobs when their list of jobs changed), then the other changed jobs, the pending
    /// triggers, and the records of agents and task timings in the order they changed.
    pub fn take_dirty(&mut self, mut save: impl FnMut(Dirty<'_>)) {
        let full = std::mem::take(&mut self.full);
        let mut heads = std::mem::take(&mut self.dirty);
        let jobs = std::mem::take(&mut self.dirty_jobs);
        heads.extend(full.iter().copied());
        for id in heads {
            let Some(inst) = self.instances.get_mut(&id) else { continue };
            save(Dirty::Instance(inst));
            if full.contains(&id) {
                save(Dirty::ClearJobs { instance: id });
                for (si, stage) in inst.stages.iter().enumerate() {
                    for (ji, job) in stage.jobs.iter().enumerate() {
                        save(Dirty::Job { instance: id, stage: si, idx: ji, job });
                    }
                }
            }
        }
        for (id, si, ji) in jobs {
            if full.contains(&id) {
                continue;
            }
            if let Some(job) = self.instances.get(&id).and_then(|i| i.stages.get(si)).and_then(|s| s.jobs.get(ji)) {
                save(Dirty::Job { instance: id, stage: si, idx: ji, job });
            }
        }
        for id in std::mem::take(&mut self.dirty_pending) {
            save(match self.pending.get(&id) {
                Some(t) => Dirty::Pending(t),
                None => Dirty::PendingDone { id },
            });
        }
        for record in std::mem::take(&mut self.records) {
            save(match record {
                Record::Agent(agent) => Dirty::Agent(agent),
                Record::AgentGone(id) => Dirty::AgentGone { id },
                Record::TaskTime(t) => Dirty::TaskTime(t),
            });
        }
    }
}
