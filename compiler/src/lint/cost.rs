//! The cost model: what a stage boundary and a job cost, how long jobs and tasks take, and the
//! figures the findings quote.
//!
//! Defaults come from GoCD, the model Pipewright follows:
//! - **transition, 10 s**: GoCD agents ask the server for work every 5 to 10 seconds by default,
//!   so the next stage's jobs start 10 to 30 s after the previous stage passes; 10 s is the
//!   optimistic end. On Pipewright's own runtime a transition takes milliseconds: set it lower
//!   there.
//! - **job setup, 5 s**: a job gets an agent, a fresh workspace and a checkout of its materials
//!   before its first task; an incremental checkout of a warm clone takes a few seconds.
//! - **not worth splitting, 60 s**: the point of a separate job is that it can be re-run alone
//!   and shows on its own on the dashboard; for work under a minute, re-running its neighbours
//!   too costs less than the setup and the transition the split costs on every run.

use super::history::History;
use crate::model::{Approval, Job, Pipeline, Stage, Task, When};
use crate::parser::format_duration;

/// The settings of the cost model, in seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostModel {
    pub transition_secs: u64,
    pub setup_secs: u64,
    pub not_worth_splitting_secs: u64,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel { transition_secs: 10, setup_secs: 5, not_worth_splitting_secs: 60 }
    }
}

/// Where a duration comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// The median of the runs the runtime recorded.
    History { runs: u32 },
    /// An `estimate` field.
    Estimate,
}

/// A duration and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Secs {
    pub secs: u64,
    pub basis: Basis,
}

/// The cost model with the durations of one lint run.
#[derive(Clone, Copy)]
pub struct Costs<'a> {
    pub model: &'a CostModel,
    pub history: &'a History,
}

impl<'a> Costs<'a> {
    pub fn new(model: &'a CostModel, history: &'a History) -> Self {
        Costs { model, history }
    }

    /// How long a job's tasks take: its recorded median, else its `estimate`, else the sum of
    /// its tasks' when every task that runs on success has one.
    pub fn job(&self, pipeline: &Pipeline, stage: &Stage, job: &Job) -> Option<Secs> {
        if let Some(r) = self.history.job(&pipeline.name, &stage.name, &job.name) {
            return Some(Secs { secs: r.median_secs, basis: Basis::History { runs: r.runs } });
        }
        if let Some(secs) = job.estimate_secs {
            return Some(Secs { secs, basis: Basis::Estimate });
        }
        let mut total = 0;
        let mut basis = Basis::Estimate;
        let mut any = false;
        for (i, task) in job.tasks.iter().enumerate() {
            if task.when == When::Failed {
                continue;
            }
            let t = self.task(pipeline, stage, job, i, task)?;
            total += t.secs;
            any = true;
            if let Basis::History { runs } = t.basis {
                basis = Basis::History { runs };
            }
        }
        any.then_some(Secs { secs: total, basis })
    }

    /// How long a task takes: its recorded median, else its `estimate`.
    pub fn task(&self, pipeline: &Pipeline, stage: &Stage, job: &Job, index: usize, task: &Task) -> Option<Secs> {
        if let Some(r) = self.history.task(&pipeline.name, &stage.name, &job.name, index) {
            return Some(Secs { secs: r.median_secs, basis: Basis::History { runs: r.runs } });
        }
        task.estimate_secs.map(|secs| Secs { secs, basis: Basis::Estimate })
    }

    /// How long a stage's work takes once its jobs have started: its longest job, when every
    /// job's duration is known.
    pub fn stage(&self, pipeline: &Pipeline, stage: &Stage) -> Option<u64> {
        stage.jobs.iter().map(|j| self.job(pipeline, stage, j).map(|s| s.secs)).try_fold(0, |m, s| s.map(|s| m.max(s)))
    }

    /// A whole run of the pipeline: every stage's work, a job setup per stage and the
    /// transitions between stages (the wait for a manual approval is a person's, not one);
    /// `None` when a job's duration is unknown.
    pub fn run(&self, pipeline: &Pipeline) -> Option<u64> {
        let work: u64 = pipeline.stages.iter().map(|s| self.stage(pipeline, s)).sum::<Option<u64>>()?;
        let n = pipeline.stages.len() as u64;
        let transitions = pipeline.stages.iter().skip(1).filter(|s| s.approval == Approval::Success).count() as u64;
        Some(work + n * self.model.setup_secs + transitions * self.model.transition_secs)
    }
}

/// `about 1m30s` or `about 1m30s (recorded median of 12 runs)`.
pub fn about(secs: Secs) -> String {
    match secs.basis {
        Basis::Estimate => format!("about {}", format_duration(secs.secs)),
        Basis::History { runs } => format!("about {} (median of {runs} recorded runs)", format_duration(secs.secs)),
    }
}
