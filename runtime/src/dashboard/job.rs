//! A job's page: its attempts, its tasks, its artifacts with size and SHA-256, and its log folded
//! by task with colours turned into HTML. Of a long log only the tail is rendered, with a link to
//! the whole of it as text.

use super::ansi;
use super::layout::{self, action, badge, duration, instance_url, job_url, size, state_name};
use crate::protocol::task_label;
use crate::state::{Attempt, Instance, JobRun, TaskState};
use maud::{html, Markup, PreEscaped};

/// How much of the end of a log the page renders.
pub(crate) const TAIL_BYTES: usize = 256 * 1024;

/// What the page shows of one attempt of a job.
pub(crate) struct JobPage<'a> {
    pub(crate) inst: &'a Instance,
    pub(crate) stage: &'a str,
    pub(crate) job: &'a JobRun,
    pub(crate) attempt: &'a Attempt,
    /// The attempt's log chunks, in order: all of them, or the last ones.
    pub(crate) log: &'a [(u64, String)],
    /// The size of the whole log in bytes.
    pub(crate) log_bytes: u64,
    pub(crate) now: u64,
    pub(crate) seq: u64,
}

pub(crate) fn render(p: &JobPage<'_>) -> Markup {
    let (inst, a) = (p.inst, p.attempt);
    let url = job_url(&inst.pipeline, inst.counter, p.stage, &p.job.name);
    let state = state_name(a.state);
    let api = format!("{}/stages/{}/rerun", layout::api_instance(&inst.pipeline, inst.counter), layout::seg(p.stage));
    let rerun_body = serde_json::json!({ "job": p.job.name }).to_string();
    let title = format!("{}/{}/{}/{}", inst.pipeline, inst.counter, p.stage, p.job.name);
    let last_seq = p.log.last().map(|(s, _)| *s);
    let body = html! {
        h1 {
            a href=(instance_url(&inst.pipeline, inst.counter)) { (inst.pipeline) "/" (inst.counter) }
            " / " (p.stage) " / " (p.job.name) " "
            span data-job=(layout::key(&[&inst.pipeline, &inst.counter.to_string(), p.stage, &p.job.name])) {
                (badge(&state, a.state.word()))
            }
            @if a.state.is_finished() { " " (action("Rerun this job", "POST", &api, Some(&rerun_body))) }
        }
        @let (waited, ran) = super::facts::attempt_times(a, p.now);
        p.times {
            "attempt " (a.number) " · waited " (duration(waited))
            @if let Some(r) = ran { " · ran " (duration(r)) }
            @if let Some(agent) = a.agent_name.as_ref().or(a.agent.as_ref()) { " · on " (agent) }
        }
        @if let Some(r) = &a.reason { p.reason { (r) } }
        @if p.job.attempts.len() > 1 {
            p.attempts {
                "attempts: "
                @for other in &p.job.attempts {
                    @if other.number == a.number { strong { (other.number) } } @else {
                        a href={ (url) "?attempt=" (other.number) } { (other.number) }
                    }
                    " (" (other.state.word()) ") "
                }
            }
        }
        ol.tasks {
            @for (i, t) in p.job.definition.tasks.iter().enumerate() {
                @let ts = a.tasks.get(i).map(|t| state_name(*t)).unwrap_or_else(|| "pending".into());
                li class={ "task st-" (ts) } data-task=(format!("{}/{}/{}/{}/{i}", inst.pipeline, inst.counter, p.stage, p.job.name)) title=(ts) {
                    (task_label(t))
                }
            }
        }
        @if !a.artifacts.is_empty() {
            h2 { "Artifacts" }
            table.artifacts {
                thead { tr { th { "name" } th { "size" } th { "SHA-256" } } }
                tbody {
                    @for (name, r) in &a.artifacts {
                        tr {
                            td { a.download href={ (crate::protocol::API) "/artifacts/" (r.sha256) }
                                data-name={ (name) ".tar" } { (name) } }
                            td { (size(r.size)) }
                            td { code.sha { (r.sha256) } }
                        }
                    }
                }
            }
        }
        h2 { "Log " a.raw href={ (url) "/log.txt?attempt=" (a.number) } { "raw" } }
        (log(p.log, p.log_bytes, &a.tasks, !a.state.is_finished(), a.id, last_seq))
    };
    layout::page_with(&title, &inst.pipeline, p.seq, body)
}

/// The log folded by task (the agent starts each task with a `pw: task N/M: ...` line); the last
/// section is where live chunks are appended.
fn log(
    chunks: &[(u64, String)],
    total: u64,
    tasks: &[TaskState],
    live: bool,
    attempt: u64,
    last_seq: Option<u64>,
) -> Markup {
    let given: usize = chunks.iter().map(|(_, d)| d.len()).sum();
    let total = total.max(given as u64);
    let mut text = String::with_capacity(given.min(TAIL_BYTES * 2));
    let mut skipped = total - given as u64;
    for (_, d) in chunks {
        text.push_str(d);
        if text.len() > TAIL_BYTES * 2 {
            let cut = tail_start(&text, TAIL_BYTES);
            skipped += cut as u64;
            text.drain(..cut);
        }
    }
    if text.len() > TAIL_BYTES {
        let cut = tail_start(&text, TAIL_BYTES);
        skipped += cut as u64;
        text.drain(..cut);
    }
    let sections = sections(&text);
    let n = sections.len();
    // Open: the last part, the lines before the first task, and the tasks that did not pass.
    let open = |i: usize, sec: &Section<'_>| {
        i + 1 == n || sec.task.is_none_or(|t| tasks.get(t).is_some_and(|s| *s == TaskState::Failed))
    };
    html! {
        @if skipped > 0 {
            p.hint { "The first " (size(skipped)) " of " (size(total)) " are not shown: see the raw log." }
        }
        div.log data-attempt=(attempt) data-live=(live) data-after=[last_seq] {
            @if text.is_empty() { p.muted.log-empty { "no output yet" } }
            @for (i, sec) in sections.iter().enumerate() {
                details open[open(i, sec)] {
                    summary { @if sec.title.is_empty() { "before the first task" } @else { (sec.title) } }
                    pre.log-text.log-tail[i + 1 == n] { (PreEscaped(ansi::to_html(sec.text))) }
                }
            }
            @if sections.is_empty() { pre.log-text.log-tail {} }
        }
    }
}

/// Where the last `max` bytes of `text` start, moved to the next line start (or char boundary).
fn tail_start(text: &str, max: usize) -> usize {
    let mut at = text.len().saturating_sub(max);
    while !text.is_char_boundary(at) {
        at += 1;
    }
    match text[at..].find('\n') {
        Some(nl) if nl + 1 < text.len() - at => at + nl + 1,
        _ => at,
    }
}

/// The task a line of the agent starts, when it is one (`pw: task N/M: LABEL`): its index.
fn task_header(line: &str) -> Option<usize> {
    let rest = line.strip_prefix("pw: task ")?;
    let (n, rest) = rest.split_once('/')?;
    let (m, _) = rest.split_once(": ")?;
    if m.is_empty() || !m.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse::<usize>().ok()?.checked_sub(1)
}

/// One part of a log: the lines of one task (`task` is its index), or those before the first.
#[derive(Debug, PartialEq)]
pub(crate) struct Section<'a> {
    pub(crate) title: String,
    pub(crate) task: Option<usize>,
    pub(crate) text: &'a str,
}

/// The log cut at each task's first line.
pub(crate) fn sections(text: &str) -> Vec<Section<'_>> {
    let mut out = Vec::new();
    let (mut start, mut pos) = (0, 0);
    let mut current: Option<(String, usize)> = None;
    for line in text.split_inclusive('\n') {
        if let Some(task) = task_header(line) {
            if pos > start || current.is_some() {
                let (title, task) = current.take().map_or((String::new(), None), |(t, i)| (t, Some(i)));
                out.push(Section { title, task, text: &text[start..pos] });
            }
            current = Some((line.trim_end().trim_start_matches("pw: ").to_string(), task));
            start = pos + line.len();
        }
        pos += line.len();
    }
    if pos > start || current.is_some() {
        let (title, task) = current.map_or((String::new(), None), |(t, i)| (t, Some(i)));
        out.push(Section { title, task, text: &text[start..pos] });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_cut_at_each_task() {
        let text =
            "pw: preparing\npw: task 1/2: make\nok\npw: task 2/2: test\nfail\npw: task 2 (`test`) exited with code 1\n";
        let s = sections(text);
        let sec = |title: &str, task, text| Section { title: title.into(), task, text };
        assert_eq!(
            s,
            [
                sec("", None, "pw: preparing\n"),
                sec("task 1/2: make", Some(0), "ok\n"),
                sec("task 2/2: test", Some(1), "fail\npw: task 2 (`test`) exited with code 1\n"),
            ]
        );
    }

    #[test]
    fn a_long_log_renders_only_its_tail() {
        let line = "x".repeat(99) + "\n";
        let chunks: Vec<(u64, String)> = (0..600).map(|i| (i, line.repeat(100))).collect();
        let html = log(&chunks, 6_000_000, &[], false, 1, Some(599)).into_string();
        assert!(html.len() < TAIL_BYTES + 10_000, "{} bytes rendered", html.len());
        assert!(html.contains("are not shown: see the raw log"));
    }
}
