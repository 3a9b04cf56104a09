//! The agent's loop and job runner against a server in memory: a fake [`Peer`] that hands out
//! the assignments a test gives it, answers heartbeats as the test says, and tells the test every
//! call it receives. No HTTP; the tasks are real processes.

use super::*;
use crate::protocol::{ArtifactRef, Assignment, FetchQuery, RegisterResponse};
use crate::state::TaskState;
use pw_compiler::runtime_api::plan::{Source, Task, TaskAction};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A call the fake server received.
#[derive(Clone, Debug, PartialEq)]
enum Call {
    Register { previous: Option<(String, String)> },
    Task { index: usize, state: TaskState },
    Log(String),
    Complete { result: JobResult, reason: Option<String> },
}

/// What the fake server answers to a heartbeat.
#[derive(Clone, Copy)]
enum Beat {
    /// Nothing new: keep going.
    Running,
    /// The attempt is no longer the agent's (410), once its first task has started.
    Gone,
    /// No answer ever: the agent is cut off.
    Silent,
    /// Nothing listens: the server is down.
    Refused,
    /// The job is cancelled once its first task has passed, while that report is on its way.
    CancelAfterFirstTask,
    /// Heartbeats answer late, and a task's start is refused (410): the assignment reached
    /// the agent after the server had given the job to another.
    TakenBack,
}

#[derive(Clone)]
struct FakeServer {
    jobs: Arc<Mutex<VecDeque<Assignment>>>,
    beat: Beat,
    /// Work requests answered 404 (the server forgot the agent) before any job is handed out.
    forget: Arc<Mutex<u32>>,
    /// Set when the first task's start is reported (for [`Beat::Gone`]).
    first_started: Arc<std::sync::atomic::AtomicBool>,
    /// Set when the first task's end is reported (for [`Beat::CancelAfterFirstTask`]).
    first_done: Arc<std::sync::atomic::AtomicBool>,
    calls: mpsc::UnboundedSender<Call>,
}

impl FakeServer {
    fn new(jobs: Vec<Assignment>, beat: Beat) -> (FakeServer, mpsc::UnboundedReceiver<Call>) {
        let (calls, rx) = mpsc::unbounded_channel();
        let jobs = Arc::new(Mutex::new(jobs.into()));
        let first_started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let first_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        (FakeServer { jobs, beat, forget: Arc::new(Mutex::new(0)), first_started, first_done, calls }, rx)
    }

    fn tell(&self, call: Call) {
        let _ = self.calls.send(call);
    }
}

impl Peer for FakeServer {
    async fn register(
        &mut self,
        _name: &str,
        _resources: &[String],
        previous: Option<(String, String)>,
    ) -> Result<RegisterResponse, CallError> {
        self.tell(Call::Register { previous });
        Ok(RegisterResponse {
            agent_id: "a1".into(),
            credential: "c1".into(),
            approved: true,
            heartbeat_ms: 100,
            lease_ms: 1_000,
        })
    }

    async fn work(&self, _wait: Duration) -> Result<Option<Assignment>, CallError> {
        let forgotten = {
            let mut forget = self.forget.lock().unwrap();
            let forgotten = *forget > 0;
            *forget = forget.saturating_sub(1);
            forgotten
        };
        if forgotten {
            return Err(CallError::Status(404, "unknown agent a1: register first".into()));
        }
        let job = self.jobs.lock().unwrap().pop_front();
        if job.is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(job)
    }

    async fn heartbeat(&self, _t: &Ticket, wait: Duration) -> Result<bool, CallError> {
        match self.beat {
            Beat::Running => {
                tokio::time::sleep(wait).await;
                Ok(false)
            }
            Beat::TakenBack => {
                tokio::time::sleep(wait * 10).await;
                Ok(false)
            }
            Beat::Gone => {
                tokio::time::sleep(wait).await;
                if !self.first_started.load(std::sync::atomic::Ordering::SeqCst) {
                    return Ok(false);
                }
                Err(CallError::Status(410, "attempt 1 is over".into()))
            }
            Beat::Silent => std::future::pending().await,
            Beat::Refused => Err(CallError::Refused("Connection refused (os error 111)".into())),
            Beat::CancelAfterFirstTask => {
                tokio::time::sleep(wait).await;
                Ok(self.first_done.load(std::sync::atomic::Ordering::SeqCst))
            }
        }
    }

    async fn task(&self, _t: &Ticket, index: usize, state: TaskState, _code: Option<i32>) -> Result<(), CallError> {
        self.tell(Call::Task { index, state });
        if state == TaskState::Running && matches!(self.beat, Beat::TakenBack) {
            return Err(CallError::Status(410, "attempt 1 has ended: its tasks do not start".into()));
        }
        if index == 0 && state == TaskState::Running {
            self.first_started.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        if index == 0 && state == TaskState::Passed && matches!(self.beat, Beat::CancelAfterFirstTask) {
            // The cancel reaches the agent before this answer does.
            self.first_done.store(true, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
        Ok(())
    }

    async fn log(&self, _t: &Ticket, _seq: u64, data: String) -> Result<(), CallError> {
        self.tell(Call::Log(data));
        Ok(())
    }

    async fn complete(
        &self,
        _t: &Ticket,
        result: JobResult,
        reason: Option<String>,
        _at_us: u64,
        _patience: Duration,
    ) -> Result<(), CallError> {
        self.tell(Call::Complete { result, reason });
        Ok(())
    }

    async fn upload(&self, _t: &Ticket, _name: &str, _file: &Path, _r: &ArtifactRef) -> Result<(), CallError> {
        Err(CallError::Status(400, "no artifacts in these tests".into()))
    }

    async fn resolve_fetch(&self, _t: &Ticket, _q: &FetchQuery) -> Result<ArtifactRef, CallError> {
        Err(CallError::Status(404, "no artifacts in these tests".into()))
    }

    async fn download(&self, _t: &Ticket, _r: &ArtifactRef, _dest: &Path) -> Result<(), String> {
        Err("no artifacts in these tests".into())
    }
}

/// An assignment of one job running `scripts`, one task each.
fn assignment(id: u64, scripts: &[&str]) -> Assignment {
    let source = Source { file: "t.pw".into(), line: 1, column: 1 };
    Assignment {
        attempt_id: id,
        job_token: format!("job-token-{id}"),
        pipeline: "p".into(),
        counter: 1,
        stage: "s".into(),
        job: format!("j{id}"),
        attempt: 1,
        env: BTreeMap::new(),
        secrets: Vec::new(),
        materials: Vec::new(),
        tasks: scripts.iter().map(|s| Task::new(TaskAction::Shell { script: s.to_string() }, source.clone())).collect(),
        artifacts: Vec::new(),
        timeout_ms: None,
    }
}

fn options(workdir: &Path) -> AgentOptions {
    AgentOptions {
        server: "http://fake".into(),
        token: "agent-token".into(),
        name: "test-agent".into(),
        resources: Vec::new(),
        workdir: workdir.to_path_buf(),
        kill_grace: Duration::from_millis(500),
        announce: false,
        run_as: None,
    }
}

/// Stops an agent started with [`run_with`] and waits (up to 10 seconds) for it to end; what it
/// returned.
async fn stop_agent(
    stop: watch::Sender<bool>,
    agent: tokio::task::JoinHandle<Result<(), String>>,
) -> Result<(), String> {
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), agent).await.expect("the agent stops").expect("the agent's task")
}

/// Collects the calls until one satisfies `last` (within 20 seconds); returns them all.
async fn calls_until(rx: &mut mpsc::UnboundedReceiver<Call>, last: impl Fn(&Call) -> bool) -> Vec<Call> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(call)) => {
                let done = last(&call);
                seen.push(call);
                if done {
                    return seen;
                }
            }
            Ok(None) => panic!("the agent stopped calling; calls: {seen:#?}"),
            Err(_) => panic!("the expected call never came; calls: {seen:#?}"),
        }
    }
}

fn completed(call: &Call) -> bool {
    matches!(call, Call::Complete { .. })
}

fn log_of(calls: &[Call]) -> String {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Log(data) => Some(data.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignments_run_and_their_ends_are_reported_passed_or_failed() {
    let dir = tempfile::tempdir().unwrap();
    let mut passing = assignment(1, &["echo hello $TOKEN"]);
    passing.env.insert("TOKEN".into(), "s3cret-value".into());
    passing.secrets.push("s3cret-value".into());
    let (peer, mut calls) = FakeServer::new(vec![passing, assignment(2, &["exit 3", "echo never"])], Beat::Running);
    let (stop, shutdown) = watch::channel(false);
    let agent = tokio::spawn(run_with(peer, options(dir.path()), shutdown));

    let first = calls_until(&mut calls, completed).await;
    assert_eq!(first[0], Call::Register { previous: None });
    assert!(first.contains(&Call::Task { index: 0, state: TaskState::Running }), "{first:#?}");
    assert!(first.contains(&Call::Task { index: 0, state: TaskState::Passed }), "{first:#?}");
    assert_eq!(first.last(), Some(&Call::Complete { result: JobResult::Passed, reason: None }));
    let log = log_of(&first);
    assert!(log.contains("hello ****\n"), "the job's output reaches its log, its secret masked: {log}");
    assert!(!log.contains("s3cret-value"), "{log}");

    let second = calls_until(&mut calls, completed).await;
    assert!(second.contains(&Call::Task { index: 0, state: TaskState::Failed }), "{second:#?}");
    assert!(second.contains(&Call::Task { index: 1, state: TaskState::Skipped }), "{second:#?}");
    let reason = "task 1 (`exit 3`) exited with code 3".to_string();
    assert_eq!(second.last(), Some(&Call::Complete { result: JobResult::Failed, reason: Some(reason) }));

    assert_eq!(stop_agent(stop, agent).await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_agent_stops_its_task_and_reports_the_attempt_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (peer, mut calls) = FakeServer::new(vec![assignment(1, &["sleep 30"])], Beat::Running);
    let (stop, shutdown) = watch::channel(false);
    let agent = tokio::spawn(run_with(peer, options(dir.path()), shutdown));
    calls_until(&mut calls, |c| *c == Call::Task { index: 0, state: TaskState::Running }).await;

    let asked = std::time::Instant::now();
    stop.send(true).unwrap();
    let calls = calls_until(&mut calls, completed).await;
    let given_up = Call::Complete { result: JobResult::Lost, reason: Some("the agent is stopping".into()) };
    assert_eq!(calls.last(), Some(&given_up), "{calls:#?}");
    let ended = tokio::time::timeout(Duration::from_secs(10), agent).await.expect("the agent stops");
    assert_eq!(ended.unwrap(), Ok(()));
    assert!(asked.elapsed() < Duration::from_secs(10), "the task was stopped, not waited for: {:?}", asked.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_is_stopped_when_the_server_says_the_attempt_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("finished");
    let script = format!("sleep 30; touch {}", marker.display());
    let (peer, mut calls) = FakeServer::new(vec![assignment(1, &[&script])], Beat::Gone);
    let (stop, shutdown) = watch::channel(false);
    let agent = tokio::spawn(run_with(peer, options(dir.path()), shutdown));

    let started = std::time::Instant::now();
    let calls = calls_until(&mut calls, completed).await;
    assert!(started.elapsed() < Duration::from_secs(10), "stopped, not waited for: {:?}", started.elapsed());
    assert!(calls.contains(&Call::Task { index: 0, state: TaskState::Failed }), "{calls:#?}");
    let cancelled = Call::Complete { result: JobResult::Cancelled, reason: Some("cancelled".into()) };
    assert_eq!(calls.last(), Some(&cancelled));
    assert!(log_of(&calls).contains("stopped: the job was cancelled"), "{}", log_of(&calls));
    assert!(!marker.exists(), "the task did not run on");
    let _ = stop_agent(stop, agent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_agent_gives_its_identity_and_a_forgotten_one_registers_anew() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent-credential"), "old-id old-credential\n").unwrap();
    let (peer, mut calls) = FakeServer::new(Vec::new(), Beat::Running);
    *peer.forget.lock().unwrap() = 1;
    let (stop, shutdown) = watch::channel(false);
    let agent = tokio::spawn(run_with(peer, options(dir.path()), shutdown));

    let first = calls_until(&mut calls, |c| matches!(c, Call::Register { .. })).await;
    assert_eq!(first, [Call::Register { previous: Some(("old-id".into(), "old-credential".into())) }]);
    let again = calls_until(&mut calls, |c| matches!(c, Call::Register { .. })).await;
    assert_eq!(again, [Call::Register { previous: None }], "the forgotten identity is not offered again");
    let _ = stop_agent(stop, agent).await;
    let kept = std::fs::read_to_string(dir.path().join("agent-credential")).unwrap();
    assert_eq!(kept, "a1 c1\n", "the new identity is kept for a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cut_off_stops_its_job_before_its_lease_runs_out_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("finished");
    let script = format!("sleep 30; touch {}", marker.display());
    let (peer, mut calls) = FakeServer::new(vec![assignment(1, &[&script])], Beat::Silent);
    let (stop, shutdown) = watch::channel(false);
    let agent = tokio::spawn(run_with(peer, options(dir.path()), shutdown));

    calls_until(&mut calls, |c| *c == Call::Task { index: 0, state: TaskState::Running }).await;
    let started = std::time::Instant::now();
    let calls = calls_until(&mut calls, completed).await;
    // The lease is 1 s: the agent stops the job after 0.8 s without a renewal.
    assert!(started.elapsed() < Duration::from_secs(5), "stopped, not waited for: {:?}", started.elapsed());
    let reason = "no word from the server for 0.8s: the agent stopped the job, which the server gives to another agent";
    assert_eq!(calls.last(), Some(&Call::Complete { result: JobResult::Lost, reason: Some(reason.into()) }));
    assert!(!marker.exists(), "the task did not run on");
    let _ = stop_agent(stop, agent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_on_through_a_server_that_is_down_for_longer_than_a_lease() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("finished");
    let script = format!("sleep 2; touch {}", marker.display());
    let (peer, mut calls) = FakeServer::new(vec![assignment(1, &[&script])], Beat::Refused);
    let (stop, shutdown) = watch::channel(false);
    let agent = tokio::spawn(run_with(peer, options(dir.path()), shutdown));

    let calls = calls_until(&mut calls, completed).await;
    assert_eq!(calls.last(), Some(&Call::Complete { result: JobResult::Passed, reason: None }), "{calls:#?}");
    assert!(marker.exists(), "the task ran to its end");
    let _ = stop_agent(stop, agent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_that_comes_between_two_tasks_starts_no_other_task() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("second");
    let second = format!("touch {}", marker.display());
    let (peer, mut calls) = FakeServer::new(vec![assignment(1, &["true", &second])], Beat::CancelAfterFirstTask);
    let (stop, shutdown) = watch::channel(false);
    let agent = tokio::spawn(run_with(peer, options(dir.path()), shutdown));

    let calls = calls_until(&mut calls, completed).await;
    assert!(calls.contains(&Call::Task { index: 1, state: TaskState::Skipped }), "{calls:#?}");
    assert!(!calls.contains(&Call::Task { index: 1, state: TaskState::Running }), "{calls:#?}");
    let cancelled = Call::Complete { result: JobResult::Cancelled, reason: Some("cancelled".into()) };
    assert_eq!(calls.last(), Some(&cancelled));
    assert!(log_of(&calls).contains("the job was cancelled before task 2"), "{}", log_of(&calls));
    assert!(!marker.exists(), "the second task never ran");
    let _ = stop_agent(stop, agent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_the_server_took_back_runs_no_task() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let script = format!("touch {}", marker.display());
    let (peer, mut calls) = FakeServer::new(vec![assignment(1, &[&script, "true"])], Beat::TakenBack);
    let (stop, shutdown) = watch::channel(false);
    let agent = tokio::spawn(run_with(peer, options(dir.path()), shutdown));

    let calls = calls_until(&mut calls, completed).await;
    assert!(!marker.exists(), "the task never ran: {calls:#?}");
    assert!(calls.contains(&Call::Task { index: 1, state: TaskState::Skipped }), "{calls:#?}");
    let Some(Call::Complete { result, reason }) = calls.last() else { panic!("{calls:#?}") };
    assert_eq!(*result, JobResult::Cancelled);
    assert!(reason.as_deref().unwrap_or("").starts_with("the server took the job back"), "{reason:?}");
    assert!(log_of(&calls).contains("task 1 not started"), "{}", log_of(&calls));
    let _ = stop_agent(stop, agent).await;
}
