//! Triggers: a new instance of a pipeline, the pipelines that run `after` a stage that passed
//! (fan-in included), and the downstream triggers that wait for material revisions.

use super::{key, Effect, SchedError, Scheduler};
use crate::protocol::{EventKind, MaterialCheckout, PendingView};
use crate::state::{Cause, Instance, InstanceRef, InstanceState, PendingTrigger, StageRun, StageState};
use pw_compiler::runtime_api::plan;
use std::collections::{BTreeMap, HashMap};

/// How many failed downstream triggers the scheduler remembers.
const FAILED_TRIGGERS_KEPT: usize = 1000;

/// A downstream trigger that could not be carried out, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedTrigger {
    pub trigger: PendingTrigger,
    pub reason: String,
}

impl Scheduler {
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

    pub(crate) fn known_revision(&self, material: &str) -> Option<&str> {
        self.revisions.get(&key(material)).map(String::as_str)
    }

    pub(crate) fn set_revision(&mut self, material: &str, revision: &str) {
        self.revisions.insert(key(material), revision.to_string());
    }

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

    /// Triggers the pipelines that run `after` this stage. A pipeline with several upstreams
    /// starts only when each has a passed instance and all agree on the revisions of the
    /// materials they share.
    pub(super) fn trigger_downstream(&mut self, id: u64, stage: &str, now: u64) {
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
