//! One job, run to its end and reported: a fresh workspace with the materials checked out at the
//! instance's revisions, the tasks in order (honouring `when`), artifacts fetched and verified,
//! artifacts published, the lease renewed meanwhile, and the end reported. A job whose agent is
//! stopping is given up at once, a job the server stops is stopped.

use super::exec::{self, Outcome};
use super::log::start_log;
use super::peer::{CallError, Peer, Ticket, REPORT_PATIENCE};
use super::task_env;
use super::AgentOptions;
use crate::artifacts;
use crate::git;
use crate::masker::Patterns;
use crate::now_us;
use crate::protocol::{task_label, Assignment, FetchQuery, JobResult, RegisterResponse};
use crate::state::TaskState;
use pw_compiler::runtime_api::plan::{Task, TaskAction, TaskWhen};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long a stopping agent tries to tell the server that it gives its job up.
const LOST_PATIENCE: Duration = Duration::from_secs(10);

/// Runs one job to its end and reports it; returns its result. When the agent is told to stop
/// meanwhile, the job's tasks are stopped and the attempt is given up at once (reported lost, so
/// that the server runs it again without waiting for the lease).
pub(super) async fn run_job<P: Peer>(
    peer: &P,
    opts: &AgentOptions,
    job: Assignment,
    lease: Lease,
    mut shutdown: watch::Receiver<bool>,
) -> (JobResult, Option<String>) {
    let deadline = job.timeout_ms.map(|t| tokio::time::Instant::now() + Duration::from_millis(t));
    let stop_tx = std::sync::Arc::new(watch::channel(false).0);
    let stop_rx = stop_tx.subscribe();
    let ticket = Ticket::of(&job);
    let (fence_tx, mut fenced) = watch::channel(false);
    let beat = start_heartbeat(peer, ticket.clone(), lease, stop_tx.clone(), fence_tx);
    let agent_stopping = shutdown.clone();
    let stopping = tokio::spawn(async move {
        while !*shutdown.borrow_and_update() {
            if shutdown.changed().await.is_err() {
                return;
            }
        }
        let _ = stop_tx.send(true);
    });
    let (log, log_task) = start_log(peer, ticket.clone());
    let secrets = Patterns::new(&job.secrets);
    let ws = workspace_dir(opts, &job);
    let mut run = JobRun {
        peer,
        opts,
        job: &job,
        ticket: ticket.clone(),
        secrets,
        ws,
        log,
        stop: stop_rx,
        deadline,
        groups: Vec::new(),
    };
    // A job fenced off is dropped where it stands: its reports could not reach the server, and
    // its processes are killed below.
    let (mut result, mut reason) = tokio::select! {
        r = run.execute() => r,
        // (The renewals may end without a fence, when the server stops the job: then the
        // branch is off.)
        Ok(_) = fenced.wait_for(|f| *f) => (JobResult::Lost, Some(fenced_reason(lease))),
    };
    let fenced = *fenced.borrow();
    reason = reason.map(|r| run.secrets.mask(&r));
    stopping.abort();
    if *agent_stopping.borrow() && result == JobResult::Cancelled {
        (result, reason) = (JobResult::Lost, Some("the agent is stopping".to_string()));
    }
    for g in std::mem::take(&mut run.groups) {
        exec::kill_group(g, libc::SIGKILL);
    }
    let at = now_us();
    let JobRun { log, .. } = run;
    drop(log);
    if fenced {
        log_task.abort();
    } else {
        let _ = log_task.await;
    }
    beat.abort();
    let patience = if result == JobResult::Lost { LOST_PATIENCE } else { REPORT_PATIENCE };
    let _ = peer.complete(&ticket, result, reason.clone(), at, patience).await;
    (result, reason)
}

/// The lease an agent holds on the job it runs: renewed every `every`, lost on the server's side
/// after `length` without a word from the agent.
#[derive(Clone, Copy, Debug)]
pub(super) struct Lease {
    pub(super) every: Duration,
    pub(super) length: Duration,
}

impl Default for Lease {
    fn default() -> Lease {
        Lease { every: Duration::from_secs(10), length: Duration::from_secs(30) }
    }
}

impl Lease {
    pub(super) fn of(r: &RegisterResponse) -> Lease {
        Lease {
            every: Duration::from_millis(r.heartbeat_ms.max(100)),
            length: Duration::from_millis(r.lease_ms.max(500)),
        }
    }

    /// How long after the last renewal was sent the agent stops its job itself: a fifth of the
    /// lease before the server can count the agent lost and give the job to another, so that two
    /// copies of a job never run at once when the network between them fails.
    fn fence(self) -> Duration {
        self.length - self.length / 5
    }

    /// How long a renewal is held by the server: at most half the fence, so that a renewal
    /// answered late still lands before it.
    fn hold(self) -> Duration {
        self.every.min(self.fence() / 2)
    }
}

fn fenced_reason(lease: Lease) -> String {
    format!(
        "no word from the server for {:.1}s: the agent stopped the job, which the server gives to another agent",
        lease.fence().as_secs_f64()
    )
}

/// Renews the lease while the job runs. Turns `stop` true when the server says to stop, and
/// `fenced` true when no renewal got through for [`Lease::fence`].
fn start_heartbeat<P: Peer>(
    peer: &P,
    ticket: Ticket,
    lease: Lease,
    stop: std::sync::Arc<watch::Sender<bool>>,
    fenced: watch::Sender<bool>,
) -> tokio::task::JoinHandle<()> {
    let peer = peer.clone();
    tokio::spawn(async move {
        // The assignment has just arrived: the server counted the agent alive a moment ago.
        let mut renewed = tokio::time::Instant::now();
        loop {
            let sent = tokio::time::Instant::now();
            if sent >= renewed + lease.fence() {
                let _ = fenced.send(true);
                return;
            }
            let answer = tokio::select! {
                r = peer.heartbeat(&ticket, lease.hold()) => r,
                _ = tokio::time::sleep_until(renewed + lease.fence()) => {
                    let _ = fenced.send(true);
                    return;
                }
            };
            match answer {
                Ok(true) => {
                    let _ = stop.send(true);
                    return;
                }
                Ok(false) => renewed = sent,
                Err(CallError::Status(s, _)) if s == 404 || s == 410 => {
                    let _ = stop.send(true);
                    return;
                }
                Err(e) => {
                    // A server that is not running counts nobody lost, and on its start gives
                    // every agent a fresh lease: a refusal renews as well as an answer does.
                    if matches!(e, CallError::Refused(_)) {
                        renewed = sent;
                    }
                    tokio::time::sleep(Duration::from_millis(500).min(lease.hold())).await
                }
            }
        }
    })
}

fn workspace_dir(opts: &AgentOptions, job: &Assignment) -> PathBuf {
    let parts = [&job.pipeline, &job.stage, &job.job];
    if parts.iter().all(|p| artifacts::valid_name(p)) {
        opts.workdir.join("pipelines").join(&job.pipeline).join(&job.stage).join(&job.job)
    } else {
        opts.workdir.join("pipelines").join(format!("attempt-{}", job.attempt_id))
    }
}

/// One job being run.
struct JobRun<'a, P: Peer> {
    peer: &'a P,
    opts: &'a AgentOptions,
    job: &'a Assignment,
    ticket: Ticket,
    /// The job's secrets: masked in everything sent about the job.
    secrets: Patterns,
    ws: PathBuf,
    log: mpsc::UnboundedSender<String>,
    stop: watch::Receiver<bool>,
    deadline: Option<tokio::time::Instant>,
    groups: Vec<u32>,
}

impl<P: Peer> JobRun<'_, P> {
    fn say(&self, line: String) {
        let _ = self.log.send(self.secrets.mask(&format!("pw: {line}\n")));
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    async fn execute(&mut self) -> (JobResult, Option<String>) {
        let job = self.job;
        self.say(format!(
            "{}/{}/{}/{} attempt {} on agent {}",
            job.pipeline, job.counter, job.stage, job.job, job.attempt, self.opts.name
        ));
        if let Err(e) = self.prepare().await {
            self.say(e.clone());
            return (JobResult::Failed, Some(e));
        }
        let mut failed: Option<String> = None;
        let mut stopped_by: Option<(JobResult, String)> = None;
        for (i, task) in job.tasks.iter().enumerate() {
            let run = match task.when {
                TaskWhen::Passed => failed.is_none(),
                TaskWhen::Failed => failed.is_some(),
                TaskWhen::Always => true,
            };
            // A stop that came while the last task ended or was reported starts no other task.
            if stopped_by.is_none() && self.stopped() {
                self.say(format!("the job was cancelled before task {}", i + 1));
                stopped_by = Some((JobResult::Cancelled, "cancelled".into()));
            }
            if !run || stopped_by.is_some() {
                let _ = self.peer.task(&self.ticket, i, TaskState::Skipped, None).await;
                continue;
            }
            let label = task_label(task);
            let within = task.dir.as_ref().map(|d| format!(" (in {d})")).unwrap_or_default();
            self.say(format!("task {}/{}: {label}{within}", i + 1, job.tasks.len()));
            // The server confirms the attempt is still this agent's before any task starts: an
            // assignment that arrived after the server gave the job to another runs nothing.
            if let Err(CallError::Status(404 | 410, m)) =
                self.peer.task(&self.ticket, i, TaskState::Running, None).await
            {
                self.say(format!("task {} not started: {m}", i + 1));
                stopped_by = Some((JobResult::Cancelled, format!("the server took the job back: {m}")));
                continue;
            }
            let outcome = self.task(task).await;
            let state = if outcome.passed() { TaskState::Passed } else { TaskState::Failed };
            let code = match &outcome {
                Outcome::Exited(c) => Some(*c),
                _ => None,
            };
            let _ = self.peer.task(&self.ticket, i, state, code).await;
            let what = match &outcome {
                Outcome::Exited(0) => continue,
                Outcome::Exited(c) => format!("task {} (`{label}`) exited with code {c}", i + 1),
                Outcome::Signalled(s) => format!("task {} (`{label}`) was killed by signal {s}", i + 1),
                Outcome::FailedToStart(m) => format!("task {} (`{label}`): {m}", i + 1),
                Outcome::TimedOut => {
                    let secs = job.timeout_ms.unwrap_or(0) / 1000;
                    stopped_by = Some((JobResult::Failed, format!("timed out after {secs}s")));
                    format!("task {} (`{label}`) stopped: the job timed out after {secs}s", i + 1)
                }
                Outcome::Cancelled => {
                    stopped_by = Some((JobResult::Cancelled, "cancelled".into()));
                    format!("task {} (`{label}`) stopped: the job was cancelled", i + 1)
                }
            };
            self.say(what.clone());
            failed.get_or_insert(what);
        }
        if let Some((result, reason)) = stopped_by {
            return (result, Some(reason));
        }
        if let Some(e) = self.upload_artifacts(failed.is_none()).await {
            failed.get_or_insert(e);
        }
        match failed {
            None => (JobResult::Passed, None),
            Some(reason) => (JobResult::Failed, Some(reason)),
        }
    }

    /// A fresh workspace with the materials checked out.
    async fn prepare(&mut self) -> Result<(), String> {
        let _ = std::fs::remove_dir_all(&self.ws);
        std::fs::create_dir_all(&self.ws).map_err(|e| format!("cannot create workspace {}: {e}", self.ws.display()))?;
        for m in &self.job.materials {
            let rel = artifacts::safe_relative(&m.path)?;
            let cache = self.opts.workdir.join("git").join(&artifacts::hex(&sha2_of(&m.git))[..16]);
            let log = git::checkout(&m.git, &m.branch, &m.revision, &cache, &self.ws.join(rel))
                .await
                .map_err(|e| format!("material `{}`: {e}", m.name))?;
            for line in log.lines() {
                self.say(format!("{}: {line}", m.name));
            }
        }
        self.hand_over(&self.ws)
    }

    /// Gives what the agent wrote in the workspace to the user tasks run as, if any.
    fn hand_over(&self, path: &Path) -> Result<(), String> {
        match &self.opts.run_as {
            Some(user) => task_env::give_to(path, user),
            None => Ok(()),
        }
    }

    async fn task(&mut self, task: &Task) -> Outcome {
        let argv = match &task.action {
            TaskAction::Shell { script } => vec!["sh".to_string(), "-c".to_string(), script.clone()],
            TaskAction::Exec { argv } => argv.clone(),
            TaskAction::Fetch { pipeline, stage, job, artifact, into } => {
                let q = FetchQuery {
                    pipeline: pipeline.clone(),
                    stage: stage.clone(),
                    job: job.clone(),
                    artifact: artifact.clone(),
                };
                return match self.fetch(&q, into).await {
                    Ok(()) => Outcome::Exited(0),
                    Err(e) => Outcome::FailedToStart(e),
                };
            }
        };
        let cwd = match exec::task_dir(&self.ws, task.dir.as_deref()) {
            Ok(cwd) => cwd,
            Err(e) => return Outcome::FailedToStart(e),
        };
        let mut job_env = self.job.env.clone();
        job_env.insert("PW_WORKSPACE".into(), self.ws.to_string_lossy().into_owned());
        let user = self.opts.run_as.as_ref();
        let env = task_env::task_env(&job_env, user);
        let spec = exec::Spec { argv: &argv, cwd: &cwd, env: &env, user, secrets: &self.secrets };
        let (outcome, group) =
            exec::run(spec, self.log.clone(), self.stop.clone(), self.deadline, self.opts.kill_grace).await;
        self.groups.extend(group);
        outcome
    }

    async fn fetch(&mut self, q: &FetchQuery, into: &str) -> Result<(), String> {
        let dest = self.ws.join(artifacts::safe_relative(into)?);
        let r = self.peer.resolve_fetch(&self.ticket, q).await.map_err(|e| match e {
            CallError::Status(_, m) => m,
            e => e.to_string(),
        })?;
        let tmp = self.opts.workdir.join("tmp").join(format!("fetch-{}", r.sha256));
        self.peer.download(&self.ticket, &r, &tmp).await?;
        let unpacked = tokio::task::spawn_blocking({
            let (tmp, dest) = (tmp.clone(), dest.clone());
            move || artifacts::unpack(&tmp, &dest)
        })
        .await
        .map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(&tmp);
        unpacked?;
        self.hand_over(&self.ws)?;
        self.say(format!(
            "fetched {}.{}.{}.{} ({} bytes, sha256 {}) into {into}",
            q.pipeline,
            q.stage,
            q.job,
            q.artifact,
            r.size,
            &r.sha256[..12]
        ));
        Ok(())
    }

    /// Uploads every declared artifact that exists; a missing one fails a passing job.
    async fn upload_artifacts(&mut self, passing: bool) -> Option<String> {
        let mut error = None;
        for a in &self.job.artifacts {
            if self.stopped() {
                break;
            }
            let tmp = self.opts.workdir.join("tmp").join(format!("upload-{}-{}", self.job.attempt_id, a.name));
            let _ = std::fs::create_dir_all(self.opts.workdir.join("tmp"));
            let packed = tokio::task::spawn_blocking({
                let (ws, path, tmp) = (self.ws.clone(), a.path.clone(), tmp.clone());
                move || artifacts::pack(&ws, &path, &tmp)
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            match packed {
                Ok(r) => match self.peer.upload(&self.ticket, &a.name, &tmp, &r).await {
                    Ok(()) => self.say(format!(
                        "published artifact {} ({} bytes, sha256 {})",
                        a.name,
                        r.size,
                        &r.sha256[..12]
                    )),
                    Err(e) => {
                        let msg = format!("cannot upload artifact `{}`: {e}", a.name);
                        self.say(msg.clone());
                        error.get_or_insert(msg);
                    }
                },
                Err(e) if passing => {
                    let msg = format!("artifact `{}`: {e}", a.name);
                    self.say(msg.clone());
                    error.get_or_insert(msg);
                }
                Err(_) => {}
            }
            let _ = std::fs::remove_file(&tmp);
        }
        error
    }
}

fn sha2_of(text: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).to_vec()
}
