//! An instance: its stages as columns and their jobs as cards with each task's live state,
//! waiting time apart from running time (and a waterfall of both), progress against the median
//! of past passing runs, its material revisions, and the instances upstream and downstream.

use super::facts;
use super::history::cause;
use super::layout::{self, action, badge, duration, instance_url, job_url, key, state_name};
use crate::protocol::task_label;
use crate::scheduler::Scheduler;
use crate::state::{Instance, JobRun, JobState, StageRun, StageState};
use maud::{html, Markup};
use std::collections::HashMap;

/// Medians of past passing runs in milliseconds, by lower-case `(stage, job)`.
pub(crate) type Medians = HashMap<(String, String), u64>;

pub(crate) fn render(s: &Scheduler, inst: &Instance, medians: &Medians, now: u64, seq: u64) -> Markup {
    let api = layout::api_instance(&inst.pipeline, inst.counter);
    let downstream = facts::downstream(s, inst);
    let title = format!("{}/{}", inst.pipeline, inst.counter);
    let body = html! {
        h1 {
            a href=(layout::pipeline_url(&inst.pipeline)) { (inst.pipeline) } " / " (inst.counter) " "
            (badge(inst.state.as_str(), inst.state.as_str()))
            @if !inst.state.is_finished() { " " (action("Cancel", "POST", &format!("{api}/cancel"), None)) }
        }
        dl.facts {
            dt { "cause" } dd { (cause(inst)) }
            dt { "took" } dd { (duration(facts::instance_duration(inst, now))) }
            @for m in &inst.materials {
                dt { "material " (m.name) } dd { code { (short(&m.revision)) } " " span.muted { (m.branch) } }
            }
            @for u in &inst.upstreams {
                dt { "upstream" } dd { a href=(instance_url(&u.pipeline, u.counter)) { (u.pipeline) "/" (u.counter) } }
            }
            @for d in &downstream {
                dt { "downstream" } dd {
                    a href=(instance_url(&d.pipeline, d.counter)) { (d.pipeline) "/" (d.counter) }
                    " " (badge(d.state.as_str(), d.state.as_str()))
                }
            }
            dt { "value stream" } dd { a href={ "/vsm/" (layout::seg(&inst.pipeline)) "/" (inst.counter) } { "map of this run" } }
        }
        div.stages {
            @for st in &inst.stages { (stage_column(s, inst, st, medians, now)) }
        }
        (waterfall(inst, now))
    };
    layout::page_with(&title, &inst.pipeline, seq, body)
}

fn short(revision: &str) -> &str {
    &revision[..revision.len().min(12)]
}

fn stage_column(s: &Scheduler, inst: &Instance, st: &StageRun, medians: &Medians, now: u64) -> Markup {
    let state = state_name(st.state);
    let api = format!("{}/stages/{}", layout::api_instance(&inst.pipeline, inst.counter), layout::seg(&st.name));
    let any_failed = st.jobs.iter().any(|j| j.state() == JobState::Failed);
    html! {
        section class={ "stage st-" (state) } data-stage=(key(&[&inst.pipeline, &inst.counter.to_string(), &st.name])) {
            h2 { (st.name) " " (badge(&state, st.state.word())) }
            @if let Some(r) = &st.reason { p.reason { (r) } }
            @if let Some(by) = &st.approved_by { p.muted { "approved by " (by) } }
            div.stage-actions {
                @if st.state == StageState::AwaitingApproval { (action("Approve", "POST", &format!("{api}/approve"), None)) }
                @if st.state.is_finished() && !inst.cancelled {
                    (action("Rerun stage", "POST", &format!("{api}/rerun"), None))
                    @if any_failed { (action("Rerun failed jobs", "POST", &format!("{api}/rerun"), Some(r#"{"failed_only":true}"#))) }
                }
            }
            @for job in &st.jobs { (job_card(s, inst, st, job, medians, now)) }
            @if !st.discovering.is_empty() { p.muted { "discovering jobs: " (st.discovering.join(", ")) } }
        }
    }
}

fn job_card(s: &Scheduler, inst: &Instance, st: &StageRun, job: &JobRun, medians: &Medians, now: u64) -> Markup {
    let state = state_name(job.state());
    let jkey = key(&[&inst.pipeline, &inst.counter.to_string(), &st.name, &job.name]);
    let median = medians.get(&(st.name.to_ascii_lowercase(), job.name.to_ascii_lowercase())).copied();
    html! {
        article class={ "job st-" (state) } data-job=(jkey) {
            h3 {
                a href=(job_url(&inst.pipeline, inst.counter, &st.name, &job.name)) { (job.name) }
                " " (badge(&state, job.state().word()))
            }
            @if let Some(a) = job.current() {
                @let (waited, ran) = facts::attempt_times(a, now);
                p.times {
                    "waited " (duration(waited))
                    @if let Some(r) = ran { " · ran " (duration(r)) }
                    @if a.number > 1 { " · attempt " (a.number) }
                    @if let Some(agent) = a.agent_name.as_ref().or(a.agent.as_ref()) { " · on " (agent) }
                }
                @if a.state == JobState::Scheduled {
                    p.reason { (s.wait_reason(a, &job.definition.resources, now).1) }
                }
                @if let (Some(m), Some(r), false) = (median, ran, a.state.is_finished()) {
                    (progress(r, m))
                }
                @if let Some(r) = &a.reason { p.reason { (r) } }
                ol.tasks {
                    @for (i, t) in job.definition.tasks.iter().enumerate() {
                        @let ts = a.tasks.get(i).map(|t| state_name(*t)).unwrap_or_else(|| "pending".into());
                        li class={ "task st-" (ts) } data-task=(format!("{jkey}/{i}")) title=(ts) { (task_label(t)) }
                    }
                }
            }
        }
    }
}

/// Elapsed time against the median of past passing runs, with the time left.
fn progress(ran: u64, median: u64) -> Markup {
    let left = median.saturating_sub(ran);
    html! {
        div.progress {
            progress max=(median.max(1)) value=(ran.min(median)) {}
            span.muted {
                @if left > 0 { "about " (duration(left)) " left (median " (duration(median)) ")" }
                @else { "over the median of " (duration(median)) }
            }
        }
    }
}

/// Each job's wait and run as bars on one time axis, from the instance's creation.
fn waterfall(inst: &Instance, now: u64) -> Markup {
    let start = inst.created_ms;
    let total = facts::instance_duration(inst, now).max(1) as f64;
    let pct = |ms: u64| format!("{:.2}%", (ms as f64 / total * 100.0).min(100.0));
    html! {
        section.waterfall {
            h2 { "Waiting and running" }
            @for st in &inst.stages {
                @for job in &st.jobs {
                    @if let Some(a) = job.current() {
                        @let (waited, ran) = facts::attempt_times(a, now);
                        div.wf-row {
                            span.wf-name { (st.name) " / " (job.name) }
                            span.wf-track {
                                span.wf-wait style={ "margin-left:" (pct(a.scheduled_ms.saturating_sub(start))) ";width:" (pct(waited)) } {}
                                @if let Some(r) = ran { span.wf-run style={ "width:" (pct(r)) } {} }
                            }
                        }
                    }
                }
            }
            p.muted { span.wf-key-wait {} " waiting for an agent · " span.wf-key-run {} " running" }
        }
    }
}
