//! The live view of `pw run`: on a terminal, a spinner per running job showing its agent and
//! task, with finished jobs, stages and instances printed above; elsewhere, one plain line per
//! event.

use crate::protocol::{Event, EventKind};
use crate::state::{JobState, TaskState};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub struct Progress {
    start: Instant,
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
    agents: HashMap<String, String>,
    /// What client commands need to reach this server from the current folder (` --state DIR`).
    client_args: String,
}

/// A state's word, failures shouted so that they stand out in a scrolling log.
fn shout(word: &'static str) -> &'static str {
    if word == "failed" {
        "FAILED"
    } else {
        word
    }
}

/// The plain line of an event.
pub fn line(kind: &EventKind) -> String {
    line_for(kind, "")
}

/// The plain line of an event; `client_args` completes the client commands it suggests, so that
/// they work as shown (` --state run/.pw`).
pub(crate) fn line_for(kind: &EventKind, client_args: &str) -> String {
    match kind {
        EventKind::InstanceQueued { pipeline, counter } => {
            format!("{pipeline}/{counter} queued (max_instances reached)")
        }
        EventKind::InstanceStarted { pipeline, counter, cause } => format!("{pipeline}/{counter} started ({cause})"),
        EventKind::InstanceFinished { pipeline, counter, result } => {
            let result = if result == "failed" { "FAILED" } else { result.as_str() };
            format!("{pipeline}/{counter} {result}")
        }
        EventKind::StageStarted { pipeline, counter, stage } => format!("{pipeline}/{counter}/{stage} started"),
        EventKind::StageAwaitingApproval { pipeline, counter, stage } => {
            format!(
                "{pipeline}/{counter}/{stage} awaits approval: run `pw approve {pipeline}/{counter}/{stage}{client_args}`"
            )
        }
        EventKind::StageFinished { pipeline, counter, stage, result, reason } => {
            let reason = reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            format!("{pipeline}/{counter}/{stage} {}{reason}", shout(result.word()))
        }
        EventKind::JobScheduled { job } => format!("{job} waiting for an agent"),
        EventKind::JobAssigned { job, agent } => format!("{job} assigned to {agent}"),
        EventKind::TaskStarted { job, index, total, label, .. } => format!("{job} task {}/{total}: {label}", index + 1),
        EventKind::TaskFinished { job, index, state, exit_code, .. } => {
            let state = match state {
                TaskState::Passed => "passed",
                TaskState::Failed => "failed",
                TaskState::Skipped => "skipped",
                TaskState::Running => "running",
                TaskState::Pending => "pending",
            };
            let code = exit_code.filter(|c| *c != 0).map(|c| format!(" (exit code {c})")).unwrap_or_default();
            format!("{job} task {} {state}{code}", index + 1)
        }
        EventKind::JobFinished { job, state, reason, .. } => {
            let reason = reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            format!("{job} {}{reason}", shout(state.word()))
        }
        EventKind::TriggerFailed { pipeline, cause, reason } => {
            format!("{pipeline} could not start ({cause}): {reason}")
        }
    }
}

impl Progress {
    /// `live`: draw spinners (on a terminal).
    pub fn new(live: bool) -> Self {
        let bars = live.then(|| (MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), HashMap::new()));
        Progress { start: Instant::now(), bars, agents: HashMap::new(), client_args: String::new() }
    }

    /// Completes the client commands the progress suggests (` --state DIR`).
    pub fn with_client_args(mut self, args: String) -> Self {
        self.client_args = args;
        self
    }

    /// Prints a line above the spinners (or plainly).
    pub fn println(&self, text: &str) {
        match &self.bars {
            Some((mp, _)) => {
                let _ = mp.println(text);
            }
            None => println!("{text}"),
        }
    }

    pub fn event(&mut self, e: &Event) {
        let Some((mp, bars)) = &mut self.bars else {
            println!("{:>7.2}s  {}", self.start.elapsed().as_secs_f64(), line_for(&e.kind, &self.client_args));
            return;
        };
        match &e.kind {
            EventKind::JobScheduled { .. } | EventKind::TaskFinished { .. } | EventKind::StageStarted { .. } => {}
            EventKind::JobAssigned { job, agent } => {
                let bar = mp.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                bar.set_message(format!("{job} on {agent}"));
                self.agents.insert(job.to_string(), agent.clone());
                bars.insert(job.to_string(), bar);
            }
            EventKind::TaskStarted { job, index, total, label, .. } => {
                if let Some(bar) = bars.get(&job.to_string()) {
                    let agent = self.agents.get(&job.to_string()).cloned().unwrap_or_default();
                    bar.set_message(format!("{job} on {agent} · task {}/{total}: {label}", index + 1));
                }
            }
            EventKind::JobFinished { job, state, .. } => {
                if let Some(bar) = bars.remove(&job.to_string()) {
                    bar.finish_and_clear();
                    mp.remove(&bar);
                }
                let mark = if *state == JobState::Passed { "✓" } else { "✗" };
                let _ = mp.println(format!("{mark} {}", line(&e.kind)));
            }
            other => {
                let _ = mp.println(format!("  {}", line_for(other, &self.client_args)));
            }
        }
    }

    pub fn finish(&mut self) {
        if let Some((mp, bars)) = &mut self.bars {
            for (_, bar) in bars.drain() {
                bar.finish_and_clear();
            }
            let _ = mp.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_approval_line_suggests_a_command_that_works_as_shown() {
        let e = EventKind::StageAwaitingApproval { pipeline: "g".into(), counter: 2, stage: "two".into() };
        assert_eq!(line(&e), "g/2/two awaits approval: run `pw approve g/2/two`");
        assert_eq!(
            line_for(&e, " --state appr/.pw"),
            "g/2/two awaits approval: run `pw approve g/2/two --state appr/.pw`"
        );
    }
}
