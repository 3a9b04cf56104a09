//! The agents: each one's state, resources and current job, and for every job waiting for an
//! agent, why it waits.

use super::layout::{self, ago, badge, job_url};
use crate::scheduler::Scheduler;
use crate::state::JobState;
use maud::{html, Markup};

pub(crate) fn render(s: &Scheduler, now: u64, seq: u64) -> Markup {
    let mut waiting = Vec::new();
    for inst in s.instances().filter(|i| !i.state.is_finished()) {
        for st in &inst.stages {
            for job in &st.jobs {
                if let Some(a) = job.current().filter(|a| a.state == JobState::Scheduled) {
                    let (_, why) = s.wait_reason(a, &job.definition.resources, now);
                    waiting.push((inst, st.name.as_str(), job, a.scheduled_ms, why));
                }
            }
        }
    }
    waiting.sort_by_key(|w| w.3);
    let body = html! {
        h1 { "Agents" }
        @if s.agents().next().is_none() { p.empty { "No agent has registered: start one with `pw agent`." } }
        @else {
            div.scroll { table.agents {
                thead { tr { th { "agent" } th { "state" } th { "resources" } th { "job" } th { "last heard" } } }
                tbody {
                    @for a in s.agents() {
                        @let state = s.agent_state(a, now);
                        tr {
                            td { (a.name) br; span.muted { (a.id) } }
                            td { (badge(state, &state.replace('_', " "))) }
                            td { @if a.resources.is_empty() { span.muted { "none" } } @else { (a.resources.join(", ")) } }
                            td {
                                @if let Some(k) = a.attempt.and_then(|at| s.job_key(at)) {
                                    a href=(job_url(&k.pipeline, k.counter, &k.stage, &k.job)) { (k.to_string()) }
                                }
                            }
                            td { (ago(a.last_seen_ms, now)) }
                        }
                    }
                }
            } }
        }
        h2 { "Jobs waiting for an agent" }
        @if waiting.is_empty() { p.empty { "none" } }
        @else {
            ul.waiting {
                @for (inst, stage, job, since, why) in &waiting {
                    li {
                        a href=(job_url(&inst.pipeline, inst.counter, stage, &job.name)) {
                            (inst.pipeline) "/" (inst.counter) "/" (stage) "/" (job.name)
                        }
                        @if !job.definition.resources.is_empty() { " [" (job.definition.resources.join(", ")) "]" }
                        " waiting for " (layout::duration(now.saturating_sub(*since))) ": " (why)
                    }
                }
            }
        }
    };
    layout::page_with("Agents", "*", seq, body)
}
