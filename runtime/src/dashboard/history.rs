//! A pipeline's history: one row per instance, one column per stage with its state and duration,
//! the cause, and links to the last passed and the last failed run.

use super::facts;
use super::layout::{self, badge, duration, instance_url, key, state_name};
use crate::scheduler::Scheduler;
use crate::state::{Instance, InstanceState};
use maud::{html, Markup};

/// How many instances the page lists, newest first.
const SHOWN: usize = 100;

/// The page, or `None` when no such pipeline is known.
pub(crate) fn render(s: &Scheduler, name: &str, now: u64, seq: u64) -> Option<Markup> {
    let by = facts::by_pipeline(s);
    let instances = by.get(&name.to_ascii_lowercase()).cloned().unwrap_or_default();
    let planned = s.plan().pipeline(name);
    let shown_name = planned.map(|p| p.name.as_str()).or(instances.first().map(|i| i.pipeline.as_str()))?;
    let stages: Vec<&str> = match planned {
        Some(p) => p.stages.iter().map(|st| st.name.as_str()).collect(),
        None => instances[0].stages.iter().map(|st| st.name.as_str()).collect(),
    };
    let last = |state: InstanceState| instances.iter().find(|i| i.state == state).copied();
    let trigger = format!("{}/pipelines/{}/trigger", crate::protocol::API, layout::seg(shown_name));
    let body = html! {
        h1 { (shown_name) " " (layout::action("Trigger", "POST", &trigger, None)) }
        p.links {
            (last_link("Last passed", last(InstanceState::Passed)))
            " · "
            (last_link("Last failed", last(InstanceState::Failed)))
            " · " a href={ "/vsm#" (layout::seg(shown_name)) } { "Value stream map" }
        }
        @if instances.is_empty() { p.empty { "never run" } }
        @else {
            div.scroll {
                table.history {
                    thead { tr {
                        th { "#" } th { "state" } th { "cause" } th { "started" } th { "took" }
                        @for st in &stages { th { (st) } }
                    } }
                    tbody {
                        @for inst in instances.iter().take(SHOWN) { (row(inst, &stages, now)) }
                    }
                }
            }
        }
    };
    Some(layout::page_with(shown_name, shown_name, seq, body))
}

fn last_link(label: &str, inst: Option<&Instance>) -> Markup {
    html! {
        @match inst {
            Some(i) => { a href=(instance_url(&i.pipeline, i.counter)) { (label) ": " (i.counter) } }
            None => { span.muted { (label) ": none" } }
        }
    }
}

fn row(inst: &Instance, stages: &[&str], now: u64) -> Markup {
    html! {
        tr {
            td { a href=(instance_url(&inst.pipeline, inst.counter)) { (inst.counter) } }
            td { (badge(inst.state.as_str(), inst.state.as_str())) }
            td {
                (cause(inst))
                @let reruns: u32 = inst.stages.iter().map(|st| st.runs.saturating_sub(1)).sum();
                @if reruns > 0 { " · " span.muted { "rerun " (reruns) "×" } }
            }
            td { (layout::at(inst.created_ms)) }
            td { (duration(facts::instance_duration(inst, now))) }
            @for name in stages {
                @match inst.stages.iter().find(|st| st.name.eq_ignore_ascii_case(name)) {
                    Some(st) => {
                        @let state = state_name(st.state);
                        td class={ "cell st-" (state) } title=(st.state.word())
                            data-stage=(key(&[&inst.pipeline, &inst.counter.to_string(), &st.name])) {
                            @if let Some((a, b)) = facts::stage_span(st, now) { (duration(b - a)) } @else { (st.state.word()) }
                        }
                    }
                    None => { td.muted { "-" } }
                }
            }
        }
    }
}

/// Why an instance exists, with a link to the upstream instance that caused it.
pub(crate) fn cause(inst: &Instance) -> Markup {
    html! {
        @match &inst.cause {
            crate::state::Cause::Upstream { pipeline, counter, stage } => {
                "after " a href=(instance_url(pipeline, *counter)) { (pipeline) "/" (counter) } "/" (stage)
            }
            other => { (other.to_string()) }
        }
    }
}
