//! The overview: what needs a person first (failed runs, stages waiting for approval, jobs no
//! agent can run), then every pipeline grouped by the file it is written in, with its latest
//! instances as rows of stage cells.

use super::facts;
use super::layout::{self, action, badge, instance_url, key, pipeline_url, state_name};
use crate::scheduler::Scheduler;
use crate::state::{Instance, InstanceState, JobState, StageState};
use maud::{html, Markup};
use std::collections::BTreeMap;

/// How many instances of each pipeline the overview shows.
const LATEST: usize = 5;

/// How many items of each kind the "needs a person" list shows; the rest are counted.
const ATTENTION_SHOWN: usize = 20;

pub(crate) fn render(s: &Scheduler, now: u64, seq: u64) -> Markup {
    let by_pipeline = facts::by_pipeline(s);
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in &s.plan().pipelines {
        groups.entry(p.source.file.as_str()).or_default().push(p.name.as_str());
    }
    let body = html! {
        (attention(s, &by_pipeline, now))
        @if groups.is_empty() {
            p.empty { "No pipelines: the server's workspace defines none." }
        }
        @for (file, names) in &groups {
            section.group {
                h2 { (file) }
                @for name in names {
                    @let list = by_pipeline.get(&name.to_ascii_lowercase()).map(Vec::as_slice).unwrap_or(&[]);
                    (pipeline_block(name, list))
                }
            }
        }
    };
    layout::page_with("Overview", "*", seq, body)
}

fn pipeline_block(name: &str, instances: &[&Instance]) -> Markup {
    let trigger = format!("{}/pipelines/{}/trigger", crate::protocol::API, layout::seg(name));
    html! {
        div.pipeline data-pipeline=(name) {
            div.pipeline-head {
                a.pname href=(pipeline_url(name)) { (name) }
                (action("Trigger", "POST", &trigger, None))
            }
            @if instances.is_empty() {
                p.empty { "never run" }
            }
            @for inst in instances.iter().take(LATEST) {
                (instance_row(inst))
            }
        }
    }
}

/// One instance as a row of stage cells, the whole row a link to the instance.
fn instance_row(inst: &Instance) -> Markup {
    let counter = inst.counter.to_string();
    html! {
        a.irow href=(instance_url(&inst.pipeline, inst.counter)) title=(inst.cause.to_string()) {
            span.counter { (counter) }
            span.cells {
                @for st in &inst.stages {
                    span class={ "cell st-" (state_name(st.state)) } title=(st.state.word())
                        data-stage=(key(&[&inst.pipeline, &counter, &st.name])) {
                        (st.name)
                    }
                }
            }
            span.when { (layout::at(inst.created_ms)) }
        }
    }
}

/// Failed latest runs, stages waiting for approval and jobs no agent can run.
fn attention(s: &Scheduler, by_pipeline: &std::collections::HashMap<String, Vec<&Instance>>, now: u64) -> Markup {
    let mut failed: Vec<&Instance> = by_pipeline
        .values()
        .filter_map(|list| list.iter().find(|i| i.state.is_finished()).copied())
        .filter(|i| i.state == InstanceState::Failed)
        .collect();
    failed.sort_by(|a, b| (&a.pipeline, a.counter).cmp(&(&b.pipeline, b.counter)));
    let mut approvals = Vec::new();
    let mut stuck = Vec::new();
    for inst in s.instances().filter(|i| !i.state.is_finished()) {
        for st in &inst.stages {
            if st.state == StageState::AwaitingApproval {
                approvals.push((inst, st.name.as_str()));
            }
            for job in &st.jobs {
                let Some(a) = job.current().filter(|a| a.state == JobState::Scheduled) else { continue };
                let (needs_person, why) = s.wait_reason(a, &job.definition.resources, now);
                if needs_person {
                    stuck.push((inst, st.name.as_str(), job.name.as_str(), why));
                }
            }
        }
    }
    if failed.is_empty() && approvals.is_empty() && stuck.is_empty() {
        return html! {};
    }
    html! {
        section.attention {
            h2 { "Needs a person" }
            ul {
                @for inst in failed.iter().take(ATTENTION_SHOWN) {
                    li {
                        (badge("failed", "failed"))
                        " " a href=(instance_url(&inst.pipeline, inst.counter)) { (inst.pipeline) "/" (inst.counter) }
                        @if let Some(st) = inst.stages.iter().find(|st| st.state == StageState::Failed) {
                            " in stage " (st.name)
                            @if let Some(r) = &st.reason { ": " (r) }
                        }
                    }
                }
                (more(failed.len(), "failed runs", "/"))
                @for (inst, stage) in approvals.iter().take(ATTENTION_SHOWN) {
                    @let path = format!("{}/stages/{}/approve", layout::api_instance(&inst.pipeline, inst.counter), layout::seg(stage));
                    li {
                        (badge("awaiting_approval", "awaiting approval"))
                        " " a href=(instance_url(&inst.pipeline, inst.counter)) { (inst.pipeline) "/" (inst.counter) }
                        " stage " (stage) " "
                        (action("Approve", "POST", &path, None))
                    }
                }
                (more(approvals.len(), "stages waiting for approval", "/"))
                @for (inst, stage, job, why) in stuck.iter().take(ATTENTION_SHOWN) {
                    li {
                        (badge("scheduled", "no agent"))
                        " " a href=(layout::job_url(&inst.pipeline, inst.counter, stage, job)) {
                            (inst.pipeline) "/" (inst.counter) "/" (stage) "/" (job)
                        }
                        ": " (why)
                    }
                }
                (more(stuck.len(), "jobs no agent can run", "/agents"))
            }
        }
    }
}

/// The line that counts what a list of `n` leaves out.
fn more(n: usize, what: &str, see: &str) -> Markup {
    html! {
        @if n > ATTENTION_SHOWN {
            li.muted { "and " (n - ATTENTION_SHOWN) " more " (what) @if see != "/" { ": " a href=(see) { "see them all" } } }
        }
    }
}
