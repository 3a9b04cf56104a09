//! The overview: what needs a person first (failed runs, stages waiting for approval, jobs no
//! agent can run), then every pipeline grouped by the file it is written in, with its latest
//! instances as rows of stage cells. What it shows is taken from the scheduler under its lock
//! ([`gather`]) and drawn after the lock is released ([`render`]).

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

/// One instance as the overview shows it.
struct Row {
    pipeline: String,
    counter: u32,
    cause: String,
    created_ms: u64,
    stages: Vec<(String, StageState)>,
}

/// Some of a list, with how many there are in all.
struct Listed<T> {
    shown: Vec<T>,
    total: usize,
}

impl<T> Listed<T> {
    fn of(mut all: Vec<T>) -> Self {
        let total = all.len();
        all.truncate(ATTENTION_SHOWN);
        Listed { shown: all, total }
    }
}

/// The stage of a run that failed, with its reason.
type FailedStage = Option<(String, Option<String>)>;

/// What the overview shows.
pub(crate) struct Overview {
    /// Files, each with its pipelines and their latest instances, newest first.
    groups: BTreeMap<String, Vec<(String, Vec<Row>)>>,
    /// Latest finished runs that failed: pipeline, counter, the failed stage and its reason.
    failed: Listed<(String, u32, FailedStage)>,
    /// Stages waiting for approval: pipeline, counter, stage.
    approvals: Listed<(String, u32, String)>,
    /// Jobs no agent can run: pipeline, counter, stage, job, why.
    stuck: Listed<(String, u32, String, String, String)>,
}

fn row(inst: &Instance) -> Row {
    Row {
        pipeline: inst.pipeline.clone(),
        counter: inst.counter,
        cause: inst.cause.to_string(),
        created_ms: inst.created_ms,
        stages: inst.stages.iter().map(|st| (st.name.clone(), st.state)).collect(),
    }
}

/// Takes what the overview shows from the scheduler (keep it short: the lock is held).
pub(crate) fn gather(s: &Scheduler, now: u64) -> Overview {
    let by_pipeline = facts::by_pipeline(s);
    let mut groups: BTreeMap<String, Vec<(String, Vec<Row>)>> = BTreeMap::new();
    for p in &s.plan().pipelines {
        let latest = by_pipeline.get(&p.name.to_ascii_lowercase()).map(Vec::as_slice).unwrap_or(&[]);
        let rows = latest.iter().take(LATEST).map(|i| row(i)).collect();
        groups.entry(p.source.file.clone()).or_default().push((p.name.clone(), rows));
    }
    let mut failed: Vec<&Instance> = by_pipeline
        .values()
        .filter_map(|list| list.iter().find(|i| i.state.is_finished()).copied())
        .filter(|i| i.state == InstanceState::Failed)
        .collect();
    failed.sort_by(|a, b| (&a.pipeline, a.counter).cmp(&(&b.pipeline, b.counter)));
    let failed = failed
        .iter()
        .map(|i| {
            let stage = i.stages.iter().find(|st| st.state == StageState::Failed);
            (i.pipeline.clone(), i.counter, stage.map(|st| (st.name.clone(), st.reason.clone())))
        })
        .collect();
    let mut approvals = Vec::new();
    let mut stuck = Vec::new();
    for inst in s.instances().filter(|i| !i.state.is_finished()) {
        for st in &inst.stages {
            if st.state == StageState::AwaitingApproval {
                approvals.push((inst.pipeline.clone(), inst.counter, st.name.clone()));
            }
            for job in &st.jobs {
                let Some(a) = job.current().filter(|a| a.state == JobState::Scheduled) else { continue };
                let (needs_person, why) = s.wait_reason(a, &job.definition.resources, now);
                if needs_person {
                    stuck.push((inst.pipeline.clone(), inst.counter, st.name.clone(), job.name.clone(), why));
                }
            }
        }
    }
    Overview { groups, failed: Listed::of(failed), approvals: Listed::of(approvals), stuck: Listed::of(stuck) }
}

pub(crate) fn render(o: &Overview, seq: u64) -> Markup {
    let body = html! {
        (attention(o))
        @if o.groups.is_empty() {
            p.empty { "No pipelines: the server's workspace defines none." }
        }
        @for (file, pipelines) in &o.groups {
            section.group {
                h2 { (file) }
                @for (name, rows) in pipelines { (pipeline_block(name, rows)) }
            }
        }
    };
    layout::page_with("Overview", "*", seq, body)
}

fn pipeline_block(name: &str, rows: &[Row]) -> Markup {
    let trigger = format!("{}/pipelines/{}/trigger", crate::protocol::API, layout::seg(name));
    html! {
        div.pipeline data-pipeline=(name) {
            div.pipeline-head {
                a.pname href=(pipeline_url(name)) { (name) }
                (action("Trigger", "POST", &trigger, None))
            }
            @if rows.is_empty() {
                p.empty { "never run" }
            }
            @for r in rows { (instance_row(r)) }
        }
    }
}

/// One instance as a row of stage cells, the whole row a link to the instance.
fn instance_row(r: &Row) -> Markup {
    let counter = r.counter.to_string();
    html! {
        a.irow href=(instance_url(&r.pipeline, r.counter)) title=(r.cause) {
            span.counter { (counter) }
            span.cells {
                @for (name, state) in &r.stages {
                    span class={ "cell st-" (state_name(state)) } title=(state.word())
                        data-stage=(key(&[&r.pipeline, &counter, name])) {
                        (name)
                    }
                }
            }
            span.when { (layout::at(r.created_ms)) }
        }
    }
}

/// Failed latest runs, stages waiting for approval and jobs no agent can run.
fn attention(o: &Overview) -> Markup {
    if o.failed.total == 0 && o.approvals.total == 0 && o.stuck.total == 0 {
        return html! {};
    }
    html! {
        section.attention {
            h2 { "Needs a person" }
            ul {
                @for (pipeline, counter, stage) in &o.failed.shown {
                    li {
                        (badge("failed", "failed"))
                        " " a href=(instance_url(pipeline, *counter)) { (pipeline) "/" (counter) }
                        @if let Some((name, reason)) = stage {
                            " in stage " (name)
                            @if let Some(r) = reason { ": " (r) }
                        }
                    }
                }
                (more(o.failed.total, "failed runs", "/"))
                @for (pipeline, counter, stage) in &o.approvals.shown {
                    @let path = format!("{}/stages/{}/approve", layout::api_instance(pipeline, *counter), layout::seg(stage));
                    li {
                        (badge("awaiting_approval", "awaiting approval"))
                        " " a href=(instance_url(pipeline, *counter)) { (pipeline) "/" (counter) }
                        " stage " (stage) " "
                        (action("Approve", "POST", &path, None))
                    }
                }
                (more(o.approvals.total, "stages waiting for approval", "/"))
                @for (pipeline, counter, stage, job, why) in &o.stuck.shown {
                    li {
                        (badge("scheduled", "no agent"))
                        " " a href=(layout::job_url(pipeline, *counter, stage, job)) {
                            (pipeline) "/" (counter) "/" (stage) "/" (job)
                        }
                        ": " (why)
                    }
                }
                (more(o.stuck.total, "jobs no agent can run", "/agents"))
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
