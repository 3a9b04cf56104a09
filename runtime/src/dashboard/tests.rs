//! The pages rendered from a fixed state at a fixed time (snapshots of their markup), escaping of
//! names and log text, and the live stream's ids and resumption.

use super::*;
use crate::protocol::{JobResult, TaskReport};
use crate::scheduler::{Config, NewAgent, Scheduler};
use crate::state::{Cause, TaskState};
use pw_compiler::runtime_api::plan::{
    Job, Pipeline, Plan, Source, Stage, StageApproval, Task, TaskAction, TaskWhen, Upstream, PLAN_VERSION,
};

const T0: u64 = 1_767_225_600_000;

fn src(file: &str) -> Source {
    Source { file: file.into(), line: 1, column: 1 }
}

fn job(file: &str, name: &str, scripts: &[&str], resources: &[&str]) -> Job {
    let tasks = scripts.iter().map(|s| Task::new(TaskAction::Shell { script: s.to_string() }, src(file))).collect();
    let mut j = Job::new(name, tasks, src(file));
    j.resources = resources.iter().map(|r| r.to_string()).collect();
    j
}

fn plan() -> Plan {
    let f = "app.pw";
    let build = Pipeline::new(
        "build",
        vec![
            Stage::new("compile", vec![job(f, "linux", &["make", "make check"], &["linux"])], src(f)),
            Stage::new("test", vec![job(f, "unit", &["./run-tests"], &["linux"])], src(f)),
        ],
        src(f),
    );
    let mut docs =
        Pipeline::new("docs", vec![Stage::new("site", vec![job(f, "html", &["make html"], &[])], src(f))], src(f));
    docs.after = vec![Upstream { pipeline: "build".into(), stage: "compile".into() }];
    let fetch = Task {
        action: TaskAction::Fetch {
            pipeline: "build".into(),
            stage: "compile".into(),
            job: "linux".into(),
            artifact: "bin".into(),
            into: ".".into(),
        },
        when: TaskWhen::Passed,
        dir: None,
        source: src("release.pw"),
    };
    let mut gate = Stage::new("deploy", vec![job("release.pw", "ship", &["./ship"], &[])], src("release.pw"));
    gate.approval = StageApproval::Manual;
    let package = Stage::new("package", vec![Job::new("tar", vec![fetch], src("release.pw"))], src("release.pw"));
    let release = Pipeline::new("release", vec![package, gate], src("release.pw"));
    let odd = Pipeline::new(
        "<script>",
        vec![Stage::new(
            "s",
            vec![job("odd.pw", "<script>alert(1)</script>", &["echo '<b>'"], &["gpu"])],
            src("odd.pw"),
        )],
        src("odd.pw"),
    );
    Plan { plan_version: PLAN_VERSION, materials: Vec::new(), pipelines: vec![build, docs, release, odd] }
}

fn run_task(s: &mut Scheduler, attempt: u64, agent: &str, index: usize, state: TaskState, at: u64) {
    let r = TaskReport { index, state, exit_code: None, at_us: at * 1000 };
    s.task_report(attempt, agent, &r, at).expect("task report");
}

fn manual(s: &mut Scheduler, p: &str, at: u64) -> u32 {
    s.trigger(p, Cause::Manual { by: "ann".into() }, Vec::new(), Vec::new(), at).expect("trigger").1
}

/// A server's state at `T0 + 300 s`: build/1 failed in test (after docs/1 started from it),
/// build/2 running its first task, release/1 waiting for approval, `<script>`/1 failed for want
/// of a `gpu` agent, and one agent of two lost.
pub(super) fn fixture() -> (Scheduler, u64) {
    let mut s = Scheduler::new(plan(), Config::default());
    s.register_agent(NewAgent::new("a1", "agent-1", vec!["linux".into()]), T0);
    s.register_agent(NewAgent::new("a2", "agent-2", Vec::new()), T0);
    manual(&mut s, "build", T0);
    let a = s.assign("a1", T0 + 2_000).unwrap().unwrap();
    run_task(&mut s, a, "a1", 0, TaskState::Running, T0 + 3_000);
    run_task(&mut s, a, "a1", 0, TaskState::Passed, T0 + 40_000);
    run_task(&mut s, a, "a1", 1, TaskState::Running, T0 + 40_000);
    run_task(&mut s, a, "a1", 1, TaskState::Passed, T0 + 60_000);
    s.complete(a, "a1", JobResult::Passed, None, 0, T0 + 60_000).unwrap();
    let pending: Vec<u64> = s.pending_triggers().map(|t| t.id).collect();
    for id in pending {
        s.complete_trigger(id, Ok(Vec::new()), T0 + 61_000);
    }
    let u = s.assign("a1", T0 + 62_000).unwrap().unwrap();
    run_task(&mut s, u, "a1", 0, TaskState::Running, T0 + 63_000);
    run_task(&mut s, u, "a1", 0, TaskState::Failed, T0 + 90_000);
    s.complete(u, "a1", JobResult::Failed, Some("task 1 exited with 2".into()), 0, T0 + 90_000).unwrap();
    let d = s.assign("a2", T0 + 95_000).unwrap().unwrap();
    s.complete(d, "a2", JobResult::Passed, None, 0, T0 + 99_000).unwrap();
    manual(&mut s, "release", T0 + 100_000);
    let r = s.assign("a2", T0 + 101_000).unwrap().unwrap();
    s.complete(r, "a2", JobResult::Passed, None, 0, T0 + 110_000).unwrap();
    manual(&mut s, "<script>", T0 + 200_000);
    manual(&mut s, "build", T0 + 250_000);
    let b = s.assign("a1", T0 + 255_000).unwrap().unwrap();
    run_task(&mut s, b, "a1", 0, TaskState::Running, T0 + 256_000);
    s.heartbeat("a1", Some(b), T0 + 290_000).unwrap();
    s.take_effects();
    (s, T0 + 300_000)
}

/// The markup with a line break between tags, so that a snapshot reads (and diffs) by element.
fn lines(html: &str) -> String {
    html.replace("><", ">\n<")
}

fn job_page(s: &Scheduler, p: &str, c: u32, stage: &str, name: &str, log: &[(u64, String)], now: u64) -> String {
    let inst = s.instance(p, c).expect("instance");
    let st = &inst.stages[inst.stage_index(stage).expect("stage")];
    let j = st.jobs.iter().find(|j| j.name == name).expect("job");
    let log_bytes = log.iter().map(|(_, d)| d.len() as u64).sum();
    let attempt = j.current().expect("attempt");
    let page = job::JobPage { inst, stage: &st.name, job: j, attempt, log, log_bytes, now, seq: 42 };
    job::render(&page).into_string()
}

#[test]
fn overview_puts_what_needs_a_person_first() {
    let (s, now) = fixture();
    let html = overview::render(&overview::gather(&s, now), 42).into_string();
    let attention = html.find("Needs a person").expect("attention section");
    assert!(attention < html.find("class=\"group\"").unwrap());
    insta::assert_snapshot!(lines(&html));
}

#[test]
fn history_lists_each_instance_with_its_stages() {
    let (s, now) = fixture();
    insta::assert_snapshot!(lines(&history::render(&s, "BUILD", now, 42).expect("page").into_string()));
    assert!(history::render(&s, "nope", now, 42).is_none());
}

#[test]
fn instance_page_shows_stages_jobs_tasks_and_progress() {
    let (s, now) = fixture();
    let medians: instance::Medians = [(("compile".to_string(), "linux".to_string()), 58_000)].into_iter().collect();
    let inst = s.instance("build", 2).expect("instance");
    let html = instance::render(&s, inst, &medians, now, 42).into_string();
    assert!(html.contains("about 13s left (median 58s)"), "{html}");
    insta::assert_snapshot!(lines(&html));
}

#[test]
fn job_page_folds_the_log_by_task_and_colours_it() {
    let (s, now) = fixture();
    let log = vec![
        (0, "pw: preparing the workspace\npw: task 1/1: ./run-tests\n".to_string()),
        (1, "\u{1b}[32mok\u{1b}[0m 1 <b>bold?</b>\n\u{1b}[1;31mFAIL\u{1b}[0m 2\n".to_string()),
    ];
    insta::assert_snapshot!(lines(&job_page(&s, "build", 1, "test", "unit", &log, now)));
}

#[test]
fn agents_page_says_why_each_job_waits() {
    let (mut s, now) = fixture();
    // A job for the busy linux agent waits for it.
    manual(&mut s, "build", now);
    let html = agents::render(&s, now, 42).into_string();
    assert!(html.contains("every agent that can run it is busy: agent-1"), "{html}");
    insta::assert_snapshot!(lines(&html));
}

#[test]
fn vsm_shows_the_downstream_instance_an_instance_caused() {
    let (s, _) = fixture();
    let inst = s.instance("build", 1).expect("instance");
    let html = vsm::render(&s, Some(inst), 42).into_string();
    assert!(html.contains("class=\"downstream\" href=\"/pipelines/docs/1\""), "{html}");
    insta::assert_snapshot!(lines(&html));
}

#[test]
fn names_and_log_text_stay_text() {
    let (s, now) = fixture();
    let log = vec![(0, "<b>not bold</b><script>alert(2)</script>\n".to_string())];
    let pages = [
        overview::render(&overview::gather(&s, now), 1).into_string(),
        history::render(&s, "<script>", now, 1).expect("page").into_string(),
        job_page(&s, "<script>", 1, "s", "<script>alert(1)</script>", &log, now),
        vsm::render(&s, None, 1).into_string(),
    ];
    for html in &pages {
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(!html.contains("<script>\""), "{html}");
        let scripts = html.matches("<script").count();
        assert_eq!(scripts, 1, "only the dashboard's own script tag: {html}");
    }
    assert!(pages[2].contains("&lt;b&gt;not bold&lt;/b&gt;"));
    assert!(pages[0].contains("href=\"/pipelines/%3Cscript%3E\""), "names in links are encoded");
}

#[test]
fn the_overview_counts_what_it_leaves_out_of_a_long_list() {
    let mut s = Scheduler::new(plan(), Config::default());
    for i in 0..25 {
        manual(&mut s, "docs", T0 + i);
    }
    let html = overview::render(&overview::gather(&s, T0 + 1_000), 1).into_string();
    assert_eq!(html.matches("no agent is registered yet").count(), 20);
    assert!(html.contains("and 5 more jobs no agent can run: <a href=\"/agents\">see them all</a>"), "{html}");
}
