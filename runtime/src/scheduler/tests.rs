use super::*;
use crate::protocol::{ArtifactRef, JobResult, MaterialCheckout, TaskReport};
use crate::state::{Cause, InstanceRef, InstanceState, TaskState};
use pw_compiler::runtime_api::plan::{
    Artifact, Discover, Job, Material, Pipeline, Source, Stage, StageApproval, StageOnFailure, Task, TaskAction,
    Upstream,
};

fn src() -> Source {
    Source { file: "t.pw".into(), line: 1, column: 1 }
}

fn job(name: &str, resources: &[&str]) -> Job {
    let mut job = Job::new(name, vec![Task::new(TaskAction::Shell { script: "true".into() }, src())], src());
    job.resources = resources.iter().map(|s| s.to_string()).collect();
    job
}

fn stage(name: &str, jobs: Vec<Job>) -> Stage {
    Stage::new(name, jobs, src())
}

fn pipeline(name: &str, stages: Vec<Stage>) -> Pipeline {
    Pipeline::new(name, stages, src())
}

fn plan_of(pipelines: Vec<Pipeline>) -> Plan {
    Plan { plan_version: plan::PLAN_VERSION, materials: Vec::new(), pipelines }
}

fn sched(pipelines: Vec<Pipeline>) -> Scheduler {
    let mut s = Scheduler::new(plan_of(pipelines), Config::default());
    s.register_agent(NewAgent::new("a1", "agent-1", Vec::new()), 0);
    s.take_effects();
    s
}

fn manual(s: &mut Scheduler, p: &str) -> u32 {
    s.trigger(p, Cause::Manual { by: "test".into() }, Vec::new(), Vec::new(), 0).expect("trigger").1
}

fn manual_at(s: &mut Scheduler, p: &str, now: u64) -> u32 {
    s.trigger(p, Cause::Manual { by: "test".into() }, Vec::new(), Vec::new(), now).expect("trigger").1
}

fn pass(s: &mut Scheduler, agent: &str, now: u64) -> u64 {
    let a = s.assign(agent, now).expect("agent").expect("work");
    s.complete(a, agent, JobResult::Passed, None, 0, now).expect("complete");
    a
}

fn report(index: usize) -> TaskReport {
    TaskReport { index, state: TaskState::Running, exit_code: None, at_us: 0 }
}

fn stage_state(s: &Scheduler, p: &str, c: u32, st: usize) -> StageState {
    s.instance(p, c).expect("instance").stages[st].state
}

fn inst_state(s: &Scheduler, p: &str, c: u32) -> InstanceState {
    s.instance(p, c).expect("instance").state
}

/// The parts of the state `take_dirty` lends to be saved, as far as these tests look at them.
#[derive(Debug)]
enum Saved {
    Instance { id: u64, pipeline: String, state: InstanceState },
    Pending(u64),
    PendingDone(u64),
    AgentGone(String),
    TaskTime(TaskTime),
    Other,
}

fn saved(s: &mut Scheduler) -> Vec<Saved> {
    let mut parts = Vec::new();
    s.take_dirty(|part| {
        parts.push(match part {
            Dirty::Instance(i) => Saved::Instance { id: i.id, pipeline: i.pipeline.clone(), state: i.state },
            Dirty::Pending(t) => Saved::Pending(t.id),
            Dirty::PendingDone { id } => Saved::PendingDone(id),
            Dirty::AgentGone { id } => Saved::AgentGone(id),
            Dirty::TaskTime(t) => Saved::TaskTime(t),
            _ => Saved::Other,
        })
    });
    parts
}

fn events(s: &mut Scheduler) -> Vec<EventKind> {
    s.take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Event(k) => Some(k),
            _ => None,
        })
        .collect()
}

#[test]
fn stages_run_in_sequence_and_the_next_starts_in_the_same_step() {
    let mut s =
        sched(vec![pipeline("build", vec![stage("compile", vec![job("a", &[])]), stage("test", vec![job("b", &[])])])]);
    s.register_agent(NewAgent::new("a2", "agent-2", Vec::new()), 0);
    let c = manual(&mut s, "build");
    assert_eq!(c, 1);
    assert_eq!(stage_state(&s, "build", 1, 0), StageState::Running);
    assert_eq!(s.assign("a2", 0).unwrap(), Some(1));
    assert_eq!(s.assign("a1", 0).unwrap(), None, "stage 2 must not start before stage 1 passes");
    s.complete(1, "a2", JobResult::Passed, None, 0, 5).unwrap();
    assert_eq!(stage_state(&s, "build", 1, 0), StageState::Passed);
    assert_eq!(stage_state(&s, "build", 1, 1), StageState::Running);
    pass(&mut s, "a1", 6);
    assert_eq!(inst_state(&s, "build", 1), InstanceState::Passed);
    let ev = events(&mut s);
    assert!(ev.iter().any(|e| matches!(e, EventKind::InstanceFinished { result, .. } if result == "passed")));
    assert_eq!(manual(&mut s, "build"), 2, "counters increase");
}

#[test]
fn a_failed_stage_fails_the_instance_and_stops_it() {
    let mut s = sched(vec![pipeline(
        "p",
        vec![stage("one", vec![job("a", &[]), job("b", &[])]), stage("two", vec![job("c", &[])])],
    )]);
    s.register_agent(NewAgent::new("a2", "agent-2", Vec::new()), 0);
    manual(&mut s, "p");
    let a = s.assign("a1", 0).unwrap().unwrap();
    let b = s.assign("a2", 0).unwrap().unwrap();
    s.complete(a, "a1", JobResult::Failed, Some("exit 1".into()), 0, 1).unwrap();
    assert_eq!(stage_state(&s, "p", 1, 0), StageState::Running, "the other job finishes (on_failure = finish)");
    s.complete(b, "a2", JobResult::Passed, None, 0, 2).unwrap();
    assert_eq!(stage_state(&s, "p", 1, 0), StageState::Failed);
    assert_eq!(stage_state(&s, "p", 1, 1), StageState::Pending);
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Failed);
    assert_eq!(s.instance("p", 1).unwrap().stages[0].reason.as_deref(), Some("failed jobs: a"));
}

#[test]
fn on_failure_cancel_stops_the_other_jobs() {
    let mut st = stage("one", vec![job("a", &[]), job("b", &[])]);
    st.on_failure = StageOnFailure::Cancel;
    let mut s = sched(vec![pipeline("p", vec![st])]);
    s.register_agent(NewAgent::new("a2", "agent-2", Vec::new()), 0);
    manual(&mut s, "p");
    let a = s.assign("a1", 0).unwrap().unwrap();
    let b = s.assign("a2", 0).unwrap().unwrap();
    s.take_effects();
    s.complete(a, "a1", JobResult::Failed, None, 0, 1).unwrap();
    assert_eq!(s.attempt(b).unwrap().state, JobState::Cancelled);
    assert!(s.take_effects().contains(&Effect::StopAttempt { attempt: b }));
    assert_eq!(s.heartbeat("a2", Some(b), 2), Ok(true));
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Failed);
}

#[test]
fn manual_approval_holds_the_stage_until_approved() {
    let mut two = stage("deploy", vec![job("d", &[])]);
    two.approval = StageApproval::Manual;
    let mut s = sched(vec![pipeline("p", vec![stage("build", vec![job("b", &[])]), two])]);
    manual(&mut s, "p");
    pass(&mut s, "a1", 1);
    assert_eq!(stage_state(&s, "p", 1, 1), StageState::AwaitingApproval);
    assert_eq!(inst_state(&s, "p", 1), InstanceState::AwaitingApproval);
    assert_eq!(s.assign("a1", 2).unwrap(), None);
    let err = s.approve("p", 1, "build", "me", 3).unwrap_err();
    assert!(err.to_string().contains("is not awaiting approval (it is passed)"), "{err}");
    s.approve("p", 1, "DEPLOY", "me", 3).unwrap();
    assert_eq!(stage_state(&s, "p", 1, 1), StageState::Running);
    pass(&mut s, "a1", 4);
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Passed);
    assert_eq!(s.instance("p", 1).unwrap().stages[1].approved_by.as_deref(), Some("me"));
}

#[test]
fn max_instances_queues_in_order() {
    let mut p = pipeline("p", vec![stage("s", vec![job("j", &[])])]);
    p.max_instances = Some(1);
    let mut s = sched(vec![p]);
    manual(&mut s, "p");
    manual(&mut s, "p");
    manual(&mut s, "p");
    assert_eq!(inst_state(&s, "p", 2), InstanceState::Queued);
    assert_eq!(inst_state(&s, "p", 3), InstanceState::Queued);
    pass(&mut s, "a1", 1);
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Passed);
    assert_eq!(inst_state(&s, "p", 2), InstanceState::Running);
    assert_eq!(inst_state(&s, "p", 3), InstanceState::Queued);
    s.cancel("p", 3, 2).unwrap();
    assert_eq!(inst_state(&s, "p", 3), InstanceState::Cancelled);
    pass(&mut s, "a1", 3);
    assert_eq!(inst_state(&s, "p", 2), InstanceState::Passed);
    assert_eq!(inst_state(&s, "p", 3), InstanceState::Cancelled, "a cancelled queued instance never starts");
}

#[test]
fn jobs_go_only_to_agents_with_their_resources() {
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("linux", &["linux"])])])]);
    s.register_agent(NewAgent::new("a2", "agent-2", vec!["Linux".into(), "docker".into()]), 0);
    manual(&mut s, "p");
    assert_eq!(s.assign("a1", 0).unwrap(), None);
    assert!(s.assign("a2", 0).unwrap().is_some(), "resources compare case-insensitively");
}

#[test]
fn a_job_no_agent_can_run_fails_at_once_naming_the_missing_resources() {
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("gpu", &["linux", "gpu"])])])]);
    s.register_agent(NewAgent::new("a2", "agent-2", vec!["linux".into()]), 0);
    manual(&mut s, "p");
    let inst = s.instance("p", 1).unwrap();
    let a = inst.stages[0].jobs[0].current().unwrap();
    assert_eq!(a.state, JobState::Failed);
    assert_eq!(a.reason.as_deref(), Some("no agent has the resources [gpu] (agents: agent-1 [none]; agent-2 [linux])"));
    assert_eq!(inst.state, InstanceState::Failed);
}

#[test]
fn with_no_agent_registered_jobs_wait_until_their_wait_limit() {
    let mut j = job("j", &[]);
    j.wait_limit_seconds = 5;
    let mut s = Scheduler::new(plan_of(vec![pipeline("p", vec![stage("s", vec![j])])]), Config::default());
    manual(&mut s, "p");
    s.tick(5_000);
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Running);
    s.tick(5_001);
    let a = s.instance("p", 1).unwrap().stages[0].jobs[0].current().cloned().unwrap();
    assert_eq!(a.state, JobState::Failed);
    assert_eq!(a.reason.as_deref(), Some("waited 5s for an agent with the resources [] (wait_limit)"));
}

#[test]
fn a_timeout_counts_from_assignment_and_the_server_enforces_it_as_a_backstop() {
    let mut j = job("j", &[]);
    j.timeout_seconds = Some(2);
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![j])])]);
    manual(&mut s, "p");
    s.tick(100_000);
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Running, "waiting does not count toward the timeout");
    let a = s.assign("a1", 100_000).unwrap().unwrap();
    assert_eq!(s.assignment(a, "job-token", &|_| None).unwrap().timeout_ms, Some(2000));
    s.heartbeat("a1", Some(a), 112_000).unwrap();
    s.tick(112_000);
    assert_eq!(s.attempt(a).unwrap().state, JobState::Assigned);
    s.heartbeat("a1", Some(a), 112_001).unwrap();
    s.tick(112_001);
    assert_eq!(s.attempt(a).unwrap().state, JobState::Failed);
    assert_eq!(s.heartbeat("a1", Some(a), 112_002), Ok(true), "the agent is told to stop");
}

#[test]
fn a_lost_agent_fails_its_job_which_is_retried_once_elsewhere() {
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("j", &[])])])]);
    s.register_agent(NewAgent::new("a2", "agent-2", Vec::new()), 0);
    s.register_agent(NewAgent::new("a3", "agent-3", Vec::new()), 0);
    manual(&mut s, "p");
    let first = s.assign("a1", 0).unwrap().unwrap();
    assert_eq!(s.heartbeat("a1", Some(first), 0), Ok(false), "the agent takes the job");
    s.heartbeat("a2", None, 40_000).unwrap();
    s.heartbeat("a3", None, 40_000).unwrap();
    s.tick(30_001);
    let job = &s.instance("p", 1).unwrap().stages[0].jobs[0];
    assert_eq!(job.attempts.len(), 2);
    assert_eq!(job.attempts[0].state, JobState::Failed);
    assert!(job.attempts[0].reason.as_deref().unwrap_or("").starts_with("agent `agent-1` lost"));
    assert!(s.agent("a1").unwrap().lost);
    assert_eq!(s.assign("a1", 30_002).unwrap(), None, "the retry avoids the lost agent");
    let second = s.assign("a2", 30_002).unwrap().unwrap();
    s.task_report(second, "a2", &report(0), 30_002).unwrap();
    assert_ne!(first, second);
    assert!(s.complete(first, "a1", JobResult::Passed, None, 0, 30_003).is_ok(), "a late report is ignored");
    assert_eq!(s.attempt(first).unwrap().state, JobState::Failed);
    s.heartbeat("a3", None, 80_000).unwrap();
    s.tick(70_000);
    let job = &s.instance("p", 1).unwrap().stages[0].jobs[0];
    assert_eq!(job.attempts.len(), 2, "retried once only");
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Failed);
}

#[test]
fn a_job_given_to_an_agent_lost_before_it_took_it_is_given_again_without_spending_the_retry() {
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("j", &[])])])]);
    s.register_agent(NewAgent::new("a2", "agent-2", Vec::new()), 0);
    s.register_agent(NewAgent::new("a3", "agent-3", Vec::new()), 0);
    manual(&mut s, "p");
    // a1 takes the job, and is lost: the retry goes to a2, which is cut off before the
    // assignment reaches it.
    let first = s.assign("a1", 0).unwrap().unwrap();
    s.heartbeat("a1", Some(first), 0).unwrap();
    s.heartbeat("a3", None, 30_000).unwrap();
    s.tick(30_001);
    let second = s.assign("a2", 30_001).unwrap().unwrap();
    s.heartbeat("a3", None, 60_000).unwrap();
    s.tick(60_002);
    let job = &s.instance("p", 1).unwrap().stages[0].jobs[0];
    assert_eq!(job.attempts.len(), 3, "given again: {:?}", job.attempts);
    assert_eq!(s.attempt(second).unwrap().state, JobState::Failed);
    let reason = job.attempts[1].reason.as_deref().unwrap_or("");
    assert!(reason.ends_with("before it took the job; given again"), "{reason}");
    assert_eq!(job.attempts[2].excluded_agents, ["a1"], "the agent that never took it may take it again");
    // The assignment reaches a2 after all, once its link is back: its tasks do not start.
    let started = s.task_report(second, "a2", &report(0), 60_002);
    assert!(matches!(started, Err(SchedError::Gone(_))), "{started:?}");
    let third = s.assign("a3", 60_002).unwrap().unwrap();
    assert!(s.attempt(third).unwrap().is_retry, "the one retry stays spent");
    assert_eq!(s.complete(third, "a3", JobResult::Passed, None, 0, 60_003), Ok(()));
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Passed);
}

#[test]
fn an_agent_asking_for_work_while_running_a_job_lost_it() {
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("j", &[])])])]);
    s.register_agent(NewAgent::new("a2", "agent-2", Vec::new()), 0);
    manual(&mut s, "p");
    let first = s.assign("a1", 0).unwrap().unwrap();
    s.heartbeat("a1", Some(first), 0).unwrap();
    assert_eq!(s.assign("a1", 1).unwrap(), None);
    assert_eq!(s.attempt(first).unwrap().state, JobState::Failed);
    assert!(s.assign("a2", 1).unwrap().is_some());
}

#[test]
fn rerun_keeps_every_attempt_and_the_other_results() {
    let mut s = sched(vec![pipeline(
        "p",
        vec![stage("s", vec![job("a", &[]), job("b", &[])]), stage("t", vec![job("c", &[])])],
    )]);
    s.register_agent(NewAgent::new("a2", "agent-2", Vec::new()), 0);
    manual(&mut s, "p");
    let a = s.assign("a1", 0).unwrap().unwrap();
    let b = s.assign("a2", 0).unwrap().unwrap();
    s.complete(b, "a2", JobResult::Passed, None, 0, 1).unwrap();
    let err = s.rerun("p", 1, "s", None, true, 1).unwrap_err();
    assert!(err.to_string().contains("still running stage `s`"), "{err}");
    s.complete(a, "a1", JobResult::Failed, None, 0, 1).unwrap();
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Failed);
    assert!(s.rerun("p", 1, "t", None, false, 2).unwrap_err().to_string().contains("has not run"));
    s.rerun("p", 1, "s", None, true, 2).unwrap();
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Running);
    let st = &s.instance("p", 1).unwrap().stages[0];
    assert_eq!(st.jobs[0].attempts.len(), 2);
    assert_eq!(st.jobs[1].attempts.len(), 1, "the passed job stands");
    pass(&mut s, "a1", 3);
    assert_eq!(stage_state(&s, "p", 1, 0), StageState::Passed);
    assert_eq!(stage_state(&s, "p", 1, 1), StageState::Running, "the next stage starts after a passing re-run");
    pass(&mut s, "a1", 4);
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Passed);
    s.rerun("p", 1, "s", Some("B"), false, 5).unwrap();
    assert_eq!(s.instance("p", 1).unwrap().stages[0].jobs[1].attempts.len(), 2);
    assert!(s.rerun("p", 1, "t", Some("nope"), false, 5).unwrap_err().to_string().contains("still running"));
}

#[test]
fn rerun_of_a_job_by_a_wrong_name_lists_the_jobs() {
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("a", &[])])])]);
    manual(&mut s, "p");
    pass(&mut s, "a1", 1);
    let err = s.rerun("p", 1, "s", Some("x"), false, 2).unwrap_err();
    assert_eq!(err, SchedError::NotFound("stage `s` has no job `x` (jobs: a)".into()));
    assert!(matches!(s.rerun("p", 9, "s", None, false, 2), Err(SchedError::NotFound(_))));
}

#[test]
fn cancel_drops_waiting_jobs_and_stops_running_ones() {
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("a", &[]), job("b", &[])])])]);
    manual(&mut s, "p");
    let a = s.assign("a1", 0).unwrap().unwrap();
    s.take_effects();
    s.cancel("p", 1, 1).unwrap();
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Cancelled);
    assert_eq!(stage_state(&s, "p", 1, 0), StageState::Cancelled);
    assert!(s.take_effects().contains(&Effect::StopAttempt { attempt: a }));
    assert_eq!(s.heartbeat("a1", Some(a), 2), Ok(true));
    assert!(s.complete(a, "a1", JobResult::Cancelled, None, 0, 3).is_ok(), "a late report is accepted quietly");
    assert_eq!(s.attempt(a).unwrap().state, JobState::Cancelled);
    assert!(matches!(s.cancel("p", 1, 4), Err(SchedError::Conflict(_))));
    assert_eq!(s.assign("a1", 5).unwrap(), None);
}

#[test]
fn reports_from_another_agent_are_refused() {
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("a", &[])])])]);
    s.register_agent(NewAgent::new("a2", "agent-2", Vec::new()), 0);
    manual(&mut s, "p");
    let a = s.assign("a1", 0).unwrap().unwrap();
    assert!(matches!(s.complete(a, "a2", JobResult::Passed, None, 0, 1), Err(SchedError::Gone(_))));
    assert!(matches!(s.task_report(a, "a2", &report(0), 1), Err(SchedError::Gone(_))));
    assert!(matches!(s.heartbeat("zz", None, 1), Err(SchedError::NotFound(_))));
    s.complete(a, "a1", JobResult::Passed, None, 0, 1).unwrap();
    s.complete(a, "a1", JobResult::Passed, None, 0, 2).unwrap();
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Passed);
}

fn with_artifact(mut j: Job, name: &str) -> Job {
    j.artifacts.push(Artifact { name: name.into(), path: "out".into() });
    j
}

fn art(sha: &str) -> ArtifactRef {
    ArtifactRef { sha256: sha.into(), size: 1 }
}

#[test]
fn after_triggers_downstream_which_fetches_from_the_exact_upstream_instance() {
    let up = pipeline("build", vec![stage("compile", vec![with_artifact(job("linux", &[]), "bin")])]);
    let mut down = pipeline("deploy", vec![stage("ship", vec![job("go", &[])])]);
    down.after = vec![Upstream { pipeline: "build".into(), stage: "compile".into() }];
    let mut s = sched(vec![up, down]);
    manual(&mut s, "build");
    manual(&mut s, "build");
    let a1 = s.assign("a1", 0).unwrap().unwrap();
    s.artifact_stored(a1, "a1", "bin", art("one")).unwrap();
    s.complete(a1, "a1", JobResult::Passed, None, 0, 1).unwrap();
    let d = s.instance("deploy", 1).expect("deploy triggered");
    assert_eq!(d.cause, Cause::Upstream { pipeline: "build".into(), counter: 1, stage: "compile".into() });
    assert_eq!(d.upstreams, vec![InstanceRef { pipeline: "build".into(), counter: 1 }]);
    let a2 = s.assign("a1", 2).unwrap().unwrap();
    assert_eq!(s.job_key(a2).unwrap().pipeline, "build");
    s.artifact_stored(a2, "a1", "bin", art("two")).unwrap();
    s.complete(a2, "a1", JobResult::Passed, None, 0, 3).unwrap();
    let d1 = s.assign("a1", 4).unwrap().unwrap();
    assert_eq!(s.job_key(d1).unwrap().counter, 1);
    assert_eq!(s.resolve_fetch(d1, "build", "compile", "linux", "bin").unwrap(), art("one"));
    let err = s.resolve_fetch(d1, "build", "compile", "linux", "nope").unwrap_err();
    assert_eq!(err.to_string(), "build/1/compile/linux has not published artifact `nope`");
    assert!(s.resolve_fetch(d1, "other", "compile", "linux", "bin").is_err());
}

fn material(name: &str) -> Material {
    Material {
        name: name.into(),
        git: "/repo".into(),
        branch: "main".into(),
        poll_seconds: 60,
        path: ".".into(),
        source: src(),
    }
}

fn rev(name: &str, r: &str) -> MaterialCheckout {
    MaterialCheckout {
        name: name.into(),
        git: "/repo".into(),
        branch: "main".into(),
        path: ".".into(),
        revision: r.into(),
    }
}

#[test]
fn fan_in_waits_for_every_upstream_with_consistent_revisions() {
    let mut a = pipeline("a", vec![stage("s", vec![job("j", &[])])]);
    a.materials = vec!["m".into()];
    let mut b = a.clone();
    b.name = "b".into();
    let mut d = pipeline("d", vec![stage("s", vec![job("j", &[])])]);
    d.materials = vec!["m".into()];
    d.after = vec![
        Upstream { pipeline: "a".into(), stage: "s".into() },
        Upstream { pipeline: "b".into(), stage: "s".into() },
    ];
    let mut plan = plan_of(vec![a, b, d]);
    plan.materials = vec![material("m")];
    let mut s = Scheduler::new(plan, Config::default());
    s.register_agent(NewAgent::new("a1", "agent-1", Vec::new()), 0);
    let by = || Cause::Manual { by: "t".into() };
    s.trigger("a", by(), Vec::new(), vec![rev("m", "r1")], 0).unwrap();
    pass(&mut s, "a1", 1);
    assert!(s.instance("d", 1).is_none(), "b has not passed yet");
    s.trigger("b", by(), Vec::new(), vec![rev("m", "r2")], 2).unwrap();
    pass(&mut s, "a1", 3);
    assert!(s.instance("d", 1).is_none(), "a and b disagree on m");
    s.trigger("a", by(), Vec::new(), vec![rev("m", "r2")], 4).unwrap();
    pass(&mut s, "a1", 5);
    let d = s.instance("d", 1).expect("consistent now");
    assert_eq!(d.materials, vec![rev("m", "r2")]);
    assert_eq!(d.upstreams.len(), 2);
}

/// `d` runs after `a`'s stage `s` and uses material `m`, whose revision `a` does not carry; `a`/1
/// is triggered, with one agent.
fn downstream_of_a_with_material_m() -> Scheduler {
    let a = pipeline("a", vec![stage("s", vec![job("j", &[])])]);
    let mut d = pipeline("d", vec![stage("s", vec![job("j", &[])])]);
    d.materials = vec!["m".into()];
    d.after = vec![Upstream { pipeline: "a".into(), stage: "s".into() }];
    let mut plan = plan_of(vec![a, d]);
    plan.materials = vec![material("m")];
    let mut s = Scheduler::new(plan, Config::default());
    s.register_agent(NewAgent::new("a1", "agent-1", Vec::new()), 0);
    manual(&mut s, "a");
    s
}

#[test]
fn downstream_with_an_unknown_material_revision_waits_for_resolution() {
    let mut s = downstream_of_a_with_material_m();
    s.take_dirty(|_| ());
    pass(&mut s, "a1", 1);
    let later = s.take_effects().into_iter().find_map(|e| match e {
        Effect::TriggerLater(t) => Some(t),
        _ => None,
    });
    let t = later.expect("a trigger waiting for the revision of m");
    assert_eq!((t.pipeline.as_str(), t.inherited.len()), ("d", 0));
    assert_eq!(t.upstreams, vec![InstanceRef { pipeline: "a".into(), counter: 1 }]);
    // The trigger is saved with the stage's result, in the same change.
    let writes = saved(&mut s);
    assert!(writes.iter().any(|w| matches!(w, Saved::Pending(id) if *id == t.id)), "{writes:?}");
    assert!(writes.iter().any(|w| matches!(w, Saved::Instance { id: 1, state: InstanceState::Passed, .. })));
    assert_eq!(s.pending_triggers().count(), 1);
    // `pw status` shows it, with the material it waits for.
    let view = s.pending_view(s.pending_triggers().next().unwrap());
    assert_eq!((view.pipeline.as_str(), view.cause.as_str()), ("d", "after a/1/s"));
    assert_eq!(view.materials, vec!["m".to_string()]);
    let created = s.complete_trigger(t.id, Ok(vec![rev("m", "r9")]), 2);
    assert_eq!(created, Some(Ok(("d".to_string(), 1))));
    assert_eq!(s.instance("d", 1).unwrap().materials, vec![rev("m", "r9")]);
    // The instance and the trigger's removal are saved together.
    let writes = saved(&mut s);
    assert!(writes.iter().any(|w| matches!(w, Saved::PendingDone(id) if *id == t.id)), "{writes:?}");
    assert!(writes.iter().any(|w| matches!(w, Saved::Instance { pipeline, .. } if pipeline == "d")));
    assert_eq!(s.complete_trigger(t.id, Ok(vec![rev("m", "r9")]), 3), None, "carried out once only");
    assert!(s.instance("d", 2).is_none());
}

#[test]
fn a_pending_trigger_that_cannot_be_carried_out_is_reported_and_forgotten() {
    let mut s = downstream_of_a_with_material_m();
    pass(&mut s, "a1", 1);
    let id = s.pending_triggers().next().expect("pending").id;
    s.take_effects();
    s.take_dirty(|_| ());
    let r = s.complete_trigger(id, Err("material `m`: git ls-remote failed".into()), 2);
    assert!(matches!(r, Some(Err(SchedError::Conflict(_)))), "{r:?}");
    assert_eq!(s.pending_triggers().count(), 0);
    assert!(matches!(&saved(&mut s)[..], [Saved::PendingDone(x)] if *x == id));
    let ev = events(&mut s);
    assert!(
        matches!(&ev[..], [EventKind::TriggerFailed { pipeline, cause, reason }]
            if pipeline == "d" && cause == "after a/1/s" && reason.contains("ls-remote failed")),
        "{ev:?}"
    );
    assert_eq!(s.failed_triggers().len(), 1);
}

#[test]
fn restored_pending_triggers_are_carried_out_again() {
    let mut s = sched(vec![pipeline("d", vec![stage("s", vec![job("j", &[])])])]);
    let t = PendingTrigger {
        id: 7,
        pipeline: "d".into(),
        cause: Cause::Upstream { pipeline: "a".into(), counter: 3, stage: "s".into() },
        upstreams: vec![InstanceRef { pipeline: "a".into(), counter: 3 }],
        inherited: Vec::new(),
        created_ms: 0,
    };
    s.restore_pending(vec![t.clone()]);
    assert_eq!(s.take_effects(), vec![Effect::TriggerLater(t)]);
    assert_eq!(s.complete_trigger(7, Ok(Vec::new()), 1), Some(Ok(("d".to_string(), 1))));
    assert_eq!(s.instance("d", 1).unwrap().cause.to_string(), "after a/3/s");
}

#[test]
fn discover_fans_out_with_interpolation_and_fails_on_no_values() {
    let mut j = job("deploy", &[]);
    j.tasks[0].action = TaskAction::Exec { argv: vec!["ship".into(), "#{ host }".into()] };
    j.tasks[0].dir = Some("hosts/#{host}".into());
    j.discover = Some(Discover { var: "host".into(), command: "list-hosts".into() });
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![j, job("other", &[])])])]);
    manual(&mut s, "p");
    assert_eq!(stage_state(&s, "p", 1, 0), StageState::Discovering);
    let eff = s.take_effects();
    assert!(eff.iter().any(|e| matches!(e, Effect::Discover { command, .. } if command == "list-hosts")));
    s.discovered(1, "s", "deploy", Ok(vec!["web 1".into(), "".into(), "db".into(), "db".into()]), 1);
    let st = &s.instance("p", 1).unwrap().stages[0];
    let names: Vec<&str> = st.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["other", "deploy-web-1", "deploy-db"], "named as the compiler names static fan-outs");
    let a = st.jobs[1].current().unwrap().id;
    let asg = s.assignment(a, "job-token", &|_| None).unwrap();
    assert_eq!(asg.tasks[0].action, TaskAction::Exec { argv: vec!["ship".into(), "web 1".into()] });
    assert_eq!(asg.tasks[0].dir.as_deref(), Some("hosts/web 1"), "a task's folder is a template too");
    for _ in 0..3 {
        pass(&mut s, "a1", 2);
    }
    assert_eq!(inst_state(&s, "p", 1), InstanceState::Passed);

    manual(&mut s, "p");
    s.discovered(2, "s", "deploy", Ok(vec![" ".into()]), 3);
    pass(&mut s, "a1", 4);
    assert_eq!(inst_state(&s, "p", 2), InstanceState::Failed);
    let st = &s.instance("p", 2).unwrap().stages[0];
    assert_eq!(
        st.jobs[1].current().unwrap().reason.as_deref(),
        Some("discover failed: `list-hosts` printed no values")
    );
    s.take_effects();
    s.rerun("p", 2, "s", None, true, 5).unwrap();
    assert_eq!(stage_state(&s, "p", 2, 0), StageState::Discovering);
    assert!(s.take_effects().iter().any(|e| matches!(e, Effect::Discover { .. })));
    s.discovered(2, "s", "deploy", Ok(vec!["x".into()]), 6);
    pass(&mut s, "a1", 7);
    assert_eq!(inst_state(&s, "p", 2), InstanceState::Passed);
}

#[test]
fn discovered_values_that_make_the_same_job_name_fail_the_stage() {
    let mut j = job("deploy", &[]);
    j.discover = Some(Discover { var: "host".into(), command: "list-hosts".into() });
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![j, job("deploy-db", &[])])])]);
    manual(&mut s, "p");
    s.discovered(1, "s", "deploy", Ok(vec!["web.1".into(), "web-1".into()]), 1);
    let st = &s.instance("p", 1).unwrap().stages[0];
    let reason = st.jobs.iter().find(|j| j.name == "deploy").and_then(|j| j.current()).and_then(|a| a.reason.clone());
    assert_eq!(
        reason.as_deref(),
        Some("discover failed: the values `web.1` and `web-1` both make the job `deploy-web-1`")
    );
    manual(&mut s, "p");
    s.discovered(2, "s", "deploy", Ok(vec!["DB".into()]), 2);
    let st = &s.instance("p", 2).unwrap().stages[0];
    let reason = st.jobs.iter().find(|j| j.name == "deploy").and_then(|j| j.current()).and_then(|a| a.reason.clone());
    assert_eq!(
        reason.as_deref(),
        Some("discover failed: the value `DB` makes the job `deploy-DB`, which the stage has already")
    );
}

#[test]
fn registered_agents_count_for_a_job_no_agent_can_run_even_when_silent() {
    let silent = Config::default().lease_ms + crate::protocol::MAX_WAIT_MS + 1;
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("gpu", &["gpu"])])])]);
    s.register_agent(NewAgent::new("a2", "agent-2", vec!["linux".into()]), 0);
    manual_at(&mut s, "p", silent);
    let a = s.instance("p", 1).unwrap().stages[0].jobs[0].current().cloned().unwrap();
    assert_eq!(a.reason.as_deref(), Some("no agent has the resources [gpu] (agents: agent-1 [none]; agent-2 [linux])"));
    // An agent that could run it, silent for now (restarting), keeps the job waiting for it.
    s.register_agent(NewAgent::new("a3", "agent-3", vec!["gpu".into()]), 0);
    manual_at(&mut s, "p", silent);
    let a = s.instance("p", 2).unwrap().stages[0].jobs[0].current().cloned().unwrap();
    assert_eq!(a.state, JobState::Scheduled);
}

#[test]
fn forgotten_agents_are_deleted_and_their_jobs_retried_on_any_agent() {
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("j", &[])])])]);
    s.register_agent(NewAgent::new("old", "local-1", vec!["gpu".into()]), 0);
    manual(&mut s, "p");
    let first = s.assign("old", 1).unwrap().expect("work");
    s.heartbeat("old", Some(first), 1).unwrap();
    s.take_dirty(|_| ());
    s.forget_agents(|a| a.name == "local-1", 2);
    assert!(s.agent("old").is_none());
    assert!(saved(&mut s).iter().any(|w| matches!(w, Saved::AgentGone(id) if id == "old")));
    let job = &s.instance("p", 1).unwrap().stages[0].jobs[0];
    assert_eq!(
        job.attempts[0].reason.as_deref(),
        Some("agent `local-1` of an earlier run is gone; retrying"),
        "attempt {first}"
    );
    assert_eq!(job.attempts[1].state, JobState::Scheduled);
    assert!(job.attempts[1].excluded_agents.is_empty(), "the agent that replaces it may run the retry");
    s.register_agent(NewAgent::new("old", "local-1", Vec::new()), 3);
    assert!(s.assign("old", 3).unwrap().is_some());
}

#[test]
fn assignments_resolve_secrets_and_name_a_missing_one() {
    let mut j = job("j", &[]);
    j.env.insert("TOKEN".into(), EnvValue::Secret("deploy-token".into()));
    j.env.insert("MODE".into(), EnvValue::Value("fast".into()));
    let mut p = pipeline("p", vec![stage("s", vec![j])]);
    p.env.insert("MODE".into(), EnvValue::Value("slow".into()));
    let mut s = sched(vec![p]);
    manual(&mut s, "p");
    let a = s.assign("a1", 0).unwrap().unwrap();
    let asg = s.assignment(a, "job-token", &|n| (n == "deploy-token").then(|| "hunter2".to_string())).unwrap();
    assert_eq!(asg.env["TOKEN"], "hunter2");
    assert_eq!(asg.env["MODE"], "fast", "the job's env overrides the pipeline's");
    assert_eq!(asg.env["PW_PIPELINE_COUNTER"], "1");
    assert_eq!(asg.secrets, vec!["hunter2".to_string()]);
    let err = s.assignment(a, "job-token", &|_| None).unwrap_err();
    assert!(
        err.starts_with("secret `deploy-token` is not set: set the environment variable PW_SECRET_DEPLOY_TOKEN"),
        "{err}"
    );
    let err = s.assignment(a, "job-token", &|_| Some("abc\n".to_string())).unwrap_err();
    assert!(err.starts_with("secret `deploy-token` has 3 characters: a secret must have at least 6"), "{err}");
}

#[test]
fn a_stage_s_env_overrides_the_pipeline_s_and_a_job_s_overrides_the_stage_s() {
    let mut j = job("j", &[]);
    j.env.insert("LEVEL".into(), EnvValue::Value("job".into()));
    let mut st = stage("s", vec![j, job("k", &[])]);
    st.env.insert("LEVEL".into(), EnvValue::Value("stage".into()));
    st.env.insert("REGION".into(), EnvValue::Value("eu".into()));
    st.env.insert("KEY".into(), EnvValue::Secret("stage-key".into()));
    let mut p = pipeline("p", vec![st, stage("t", vec![job("l", &[])])]);
    p.env.insert("LEVEL".into(), EnvValue::Value("pipeline".into()));
    p.env.insert("REGION".into(), EnvValue::Value("us".into()));
    let mut s = sched(vec![p]);
    s.register_agent(NewAgent::new("a2", "agent-2", Vec::new()), 0);
    manual(&mut s, "p");
    let secret = |n: &str| (n == "stage-key").then(|| "s3cr3t-value".to_string());
    let first = s.assign("a1", 0).unwrap().unwrap();
    let second = s.assign("a2", 0).unwrap().unwrap();
    let envs: Vec<_> = [first, second].map(|a| s.assignment(a, "job-token", &secret).unwrap().env).into();
    let of = |job: &str| envs.iter().find(|e| e["PW_JOB"] == job).unwrap();
    assert_eq!(of("j")["LEVEL"], "job", "the job's env overrides the stage's");
    assert_eq!(of("k")["LEVEL"], "stage", "the stage's env overrides the pipeline's");
    assert_eq!(of("k")["REGION"], "eu");
    assert_eq!(of("k")["KEY"], "s3cr3t-value", "a stage's secret is resolved");
    s.complete(first, "a1", JobResult::Passed, None, 0, 1).unwrap();
    s.complete(second, "a2", JobResult::Passed, None, 0, 1).unwrap();
    let third = s.assign("a1", 2).unwrap().unwrap();
    let env = s.assignment(third, "job-token", &secret).unwrap().env;
    assert_eq!((env["PW_STAGE"].as_str(), env["LEVEL"].as_str()), ("t", "pipeline"), "the next stage has its own env");
    assert!(!env.contains_key("KEY"), "{env:?}");
}

#[test]
fn restore_rebuilds_the_queue_and_running_jobs() {
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("a", &[]), job("b", &[])])])]);
    manual(&mut s, "p");
    let a = s.assign("a1", 0).unwrap().unwrap();
    let saved: Vec<Instance> = s.instances().cloned().collect();
    let json = serde_json::to_string(&saved).unwrap();
    let agents: Vec<AgentInfo> = s.agents().cloned().collect();
    let mut r = Scheduler::new(plan_of(vec![]), Config::default());
    r.restore(serde_json::from_str(&json).unwrap(), agents, BTreeMap::new(), 1000);
    assert!(r.take_effects().contains(&Effect::WorkReady));
    r.register_agent(NewAgent::new("a2", "agent-2", Vec::new()), 1000);
    let b = r.assign("a2", 1000).unwrap().unwrap();
    assert_ne!(a, b);
    r.complete(a, "a1", JobResult::Passed, None, 0, 1001).unwrap();
    r.complete(b, "a2", JobResult::Passed, None, 0, 1001).unwrap();
    assert_eq!(inst_state(&r, "p", 1), InstanceState::Passed);
    assert_eq!(
        r.trigger("p", Cause::Manual { by: "t".into() }, vec![], vec![], 1002),
        Err(SchedError::NotFound("no pipeline named `p`".into()))
    );
    r.set_plan(plan_of(vec![pipeline("p", vec![stage("s", vec![job("a", &[])])])]));
    assert_eq!(r.trigger("p", Cause::Manual { by: "t".into() }, vec![], vec![], 1002).unwrap().1, 2);
}

#[test]
fn task_reports_make_events_with_labels() {
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("a", &[])])])]);
    manual(&mut s, "p");
    let a = s.assign("a1", 0).unwrap().unwrap();
    s.take_effects();
    s.task_report(a, "a1", &TaskReport { at_us: 7, ..report(0) }, 1).unwrap();
    let ev = events(&mut s);
    assert!(
        matches!(&ev[..], [EventKind::TaskStarted { index: 0, total: 1, label, agent_at_us: 7, .. }] if label == "true")
    );
    assert_eq!(s.attempt(a).unwrap().tasks, vec![TaskState::Running]);
}

#[test]
fn task_starts_and_ends_are_saved_with_their_job_names() {
    let mut s = sched(vec![pipeline("p", vec![stage("s", vec![job("a", &[])])])]);
    manual(&mut s, "p");
    let a = s.assign("a1", 0).unwrap().unwrap();
    s.take_dirty(|_| ());
    s.task_report(a, "a1", &TaskReport { at_us: 7, ..report(0) }, 1).unwrap();
    let end = TaskReport { state: TaskState::Passed, exit_code: Some(0), at_us: 2_000_007, ..report(0) };
    s.task_report(a, "a1", &end, 2).unwrap();
    // Reports of tasks the job does not have are not saved.
    s.task_report(a, "a1", &TaskReport { at_us: 9, ..report(5) }, 3).unwrap();
    let times: Vec<(usize, TaskState, u64)> = saved(&mut s)
        .into_iter()
        .filter_map(|w| match w {
            Saved::TaskTime(TaskTime { attempt, index, pipeline, stage, job, state, at_us }) => {
                assert_eq!((attempt, pipeline.as_str(), stage.as_str(), job.as_str()), (a, "p", "s", "a"));
                Some((index, state, at_us))
            }
            _ => None,
        })
        .collect();
    assert_eq!(times, vec![(0, TaskState::Running, 7), (0, TaskState::Passed, 2_000_007)]);
}

/// The plan of one `deploy` job fanned out over `source`, with an escaped `#{host}` beside a real
/// one, written in the job itself and in a template the fan-out uses.
fn fan_out_plan(source: &str) -> Plan {
    let text = format!(
        "template job probe(target: string, tags: list) {{\n  resources = tags\n  run \"probe \\#{{host}} #{{target}}\"\n}}\n\
         pipeline p {{\n  stage s {{\n    job deploy for host in {source} {{\n      resources = [host]\n      \
         env {{ HOST = \"#{{host}}\" }}\n      run \"echo literal=\\#{{host}} value=#{{host}} \\\\#{{host}}\"\n      \
         artifact log = \"logs/#{{host}}.txt\"\n    }}\n    job check for host in {source} = probe(target = \"#{{host}}\", tags = [\"#{{host}}\"])\n  }}\n}}\n"
    );
    let mut ws = pw_compiler::Workspace::new();
    ws.add("fan.pw", text);
    let analysis = pw_compiler::analyze(&ws);
    analysis.plan(&ws).unwrap_or_else(|| panic!("{:?}", analysis.diagnostics))
}

fn script(job: &Job) -> &str {
    match &job.tasks[0].action {
        TaskAction::Shell { script } => script,
        other => panic!("{other:?}"),
    }
}

#[test]
fn static_and_discovered_fan_outs_make_the_same_jobs() {
    let fixed = fan_out_plan(r#"["a", "web.2"]"#);
    let mut s = sched(fan_out_plan(r#"discover("printf 'a\\nweb.2\\n'")"#).pipelines);
    manual(&mut s, "p");
    for job in ["deploy", "check"] {
        s.discovered(1, "s", job, Ok(vec!["a".into(), "web.2".into()]), 1);
    }
    let discovered: Vec<&Job> = s.instance("p", 1).unwrap().stages[0].jobs.iter().map(|j| &j.definition).collect();
    let fixed: Vec<&Job> = fixed.pipelines[0].stages[0].jobs.iter().collect();
    assert_eq!(discovered, fixed);
    assert_eq!(script(fixed[0]), r"echo literal=#{host} value=a \a");
    assert_eq!((fixed[1].name.as_str(), fixed[1].resources.as_slice()), ("deploy-web-2", &["web.2".to_string()][..]));
    assert_eq!(script(fixed[2]), "probe #{host} a", "a template's escape stays literal too");
    assert_eq!(fixed[2].resources, ["a"]);
}
