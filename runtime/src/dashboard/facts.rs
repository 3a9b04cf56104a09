//! What pages derive from the recorded state: instances by pipeline, times of attempts, stages
//! and instances, and the instances one caused downstream. Nothing here decides anything.

use crate::scheduler::Scheduler;
use crate::state::{Attempt, Instance, StageRun};
use std::collections::HashMap;

/// Every pipeline's instances, newest first, by lower-case pipeline name.
pub(crate) fn by_pipeline(s: &Scheduler) -> HashMap<String, Vec<&Instance>> {
    let mut map: HashMap<String, Vec<&Instance>> = HashMap::new();
    for inst in s.instances() {
        map.entry(inst.pipeline.to_ascii_lowercase()).or_default().push(inst);
    }
    for list in map.values_mut() {
        list.sort_by_key(|i| std::cmp::Reverse(i.counter));
    }
    map
}

/// How long an attempt waited for an agent and how long it has run (so far, at `now`).
pub(crate) fn attempt_times(a: &Attempt, now: u64) -> (u64, Option<u64>) {
    let assigned = a.assigned_ms;
    let end = a.finished_ms.unwrap_or(now);
    let waited = assigned.unwrap_or(end).saturating_sub(a.scheduled_ms);
    (waited, assigned.map(|s| end.saturating_sub(s)))
}

/// When a stage's current attempts started and ended (the end is `now` while one runs).
pub(crate) fn stage_span(stage: &StageRun, now: u64) -> Option<(u64, u64)> {
    let current: Vec<&Attempt> = stage.jobs.iter().filter_map(|j| j.current()).collect();
    let start = current.iter().map(|a| a.scheduled_ms).min()?;
    let running = current.iter().any(|a| a.finished_ms.is_none());
    let end = if running { now } else { current.iter().filter_map(|a| a.finished_ms).max().unwrap_or(start) };
    Some((start, end))
}

/// How long an instance took (or has taken so far).
pub(crate) fn instance_duration(inst: &Instance, now: u64) -> u64 {
    inst.finished_ms.unwrap_or(now).saturating_sub(inst.created_ms)
}

/// The instances `inst` caused downstream (directly).
pub(crate) fn downstream<'a>(s: &'a Scheduler, inst: &Instance) -> Vec<&'a Instance> {
    s.instances()
        .filter(|i| {
            i.upstreams.iter().any(|u| u.pipeline.eq_ignore_ascii_case(&inst.pipeline) && u.counter == inst.counter)
        })
        .collect()
}
