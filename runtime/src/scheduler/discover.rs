//! Discovered fan-outs: the jobs a stage's `discover` command makes from the values it printed,
//! or the failed job that stands for a command that failed.

use super::{find_job, Scheduler};
use crate::state::{JobRun, JobState, StageState};
use pw_compiler::runtime_api::fan_out;
use std::collections::{HashMap, HashSet};

impl Scheduler {
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
