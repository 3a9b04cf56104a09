//! The agent: registers with the server, long-polls it for a job, runs the job's tasks in a
//! fresh workspace (materials checked out at the instance's revisions, artifacts fetched and
//! verified), streams its log in numbered chunks, uploads its artifacts, and reports the end.
//! Every call is retried while the server is away, so a restarted server gets every report.

use crate::artifacts;
use crate::exec::{self, Outcome};
use crate::git;
use crate::masker::Patterns;
use crate::protocol::*;
use crate::state::TaskState;
use crate::task_env::{self, User};
use crate::{now_us, statedir};
use pw_compiler::runtime_api::plan::{Task, TaskAction, TaskWhen};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long an agent keeps retrying a report while the server is unreachable.
const REPORT_PATIENCE: Duration = Duration::from_secs(3600);
/// How long a stopping agent tries to tell the server that it gives its job up.
const LOST_PATIENCE: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct AgentOptions {
    pub server: String,
    pub token: String,
    pub name: String,
    pub resources: Vec<String>,
    pub workdir: PathBuf,
    /// Between SIGTERM and SIGKILL when a task is stopped.
    pub kill_grace: Duration,
    /// Say on standard error what the agent does: its registration, each job, a server that
    /// cannot be reached (`pw agent`; the local agents of `pw run` are quiet).
    pub announce: bool,
    /// Run tasks as this user (`pw agent --run-as`), who owns the workspaces and cannot read the
    /// agent's own files; by default tasks run with the agent's rights.
    pub run_as: Option<User>,
}

#[derive(Debug)]
pub enum CallError {
    /// The server answered with this status and message.
    Status(u16, String),
    /// The server could not be reached (in time).
    Network(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Status(s, m) => write!(f, "server answered {s}: {m}"),
            CallError::Network(m) => write!(f, "cannot reach the server: {m}"),
        }
    }
}

/// Whether the server can be reached, shared by every call of an agent, so that an outage is
/// told once when it starts, then at growing intervals (1 s, 2 s, 4 s ... at most a minute), and
/// once when it ends, however many calls retry meanwhile.
#[derive(Default)]
struct Reach {
    /// When the current outage started, and when it is next told.
    down: Option<(std::time::Instant, Duration)>,
}

/// Less than this between the first failed call and the next is not worth a line.
const FIRST_RETRY_LINE: Duration = Duration::from_secs(1);
/// The longest pause between two lines about one outage.
const RETRY_LINE_MAX: Duration = Duration::from_secs(60);

impl Reach {
    /// A call failed: the line to print, if one is due.
    fn failed(&mut self, server: &str, error: &str) -> Option<String> {
        let now = std::time::Instant::now();
        match &mut self.down {
            None => {
                self.down = Some((now, FIRST_RETRY_LINE));
                Some(format!("cannot reach the server at {server} ({error}); retrying"))
            }
            Some((since, next)) => {
                let elapsed = now.duration_since(*since);
                if elapsed < *next {
                    return None;
                }
                *next = (*next * 2).min(elapsed + RETRY_LINE_MAX);
                Some(format!(
                    "the server at {server} is still unreachable after {}s ({error}); still retrying",
                    elapsed.as_secs()
                ))
            }
        }
    }

    /// A call reached the server: the line to print when it had been unreachable.
    fn reached(&mut self, server: &str) -> Option<String> {
        let (since, _) = self.down.take()?;
        Some(format!("reached the server at {server} again after {}s", since.elapsed().as_secs()))
    }
}

/// What an attempt's calls carry: its id and its job token.
#[derive(Clone)]
pub struct Ticket {
    pub attempt: u64,
    token: String,
}

impl Ticket {
    pub fn of(job: &Assignment) -> Ticket {
        Ticket { attempt: job.attempt_id, token: job.job_token.clone() }
    }
}

/// The agent's side of the protocol.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    server: String,
    base: String,
    /// The registration token: used to register, and for nothing else.
    token: String,
    pub agent_id: String,
    /// The credential registration gave: carried by the agent's own calls.
    credential: String,
    /// The agent's name when it announces what it does.
    announce: Option<String>,
    reach: std::sync::Arc<std::sync::Mutex<Reach>>,
}

impl Api {
    pub fn new(server: &str, token: &str) -> Self {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build().unwrap_or_default();
        let server = server.trim_end_matches('/').to_string();
        Api {
            http,
            base: format!("{server}{API}"),
            server,
            token: token.to_string(),
            agent_id: String::new(),
            credential: String::new(),
            announce: None,
            reach: Default::default(),
        }
    }

    /// Prints what the agent does on standard error, as `pw agent NAME: ...`.
    pub(crate) fn announcing(mut self, name: &str) -> Self {
        self.announce = Some(name.to_string());
        self
    }

    /// Prints a line when the agent announces what it does.
    fn say(&self, line: &str) {
        if let Some(name) = &self.announce {
            eprintln!("pw agent {name}: {line}");
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder, bearer: &str) -> Result<reqwest::Response, CallError> {
        let sent = req.bearer_auth(bearer).send().await;
        let line = match self.reach.lock() {
            Ok(mut reach) => match &sent {
                Ok(_) => reach.reached(&self.server),
                // A long poll that outlives its timeout is not an outage.
                Err(e) if e.is_timeout() && !e.is_connect() => None,
                Err(e) => reach.failed(&self.server, &crate::client::cause(e)),
            },
            Err(_) => None,
        };
        if let Some(line) = line {
            self.say(&line);
        }
        let resp = sent.map_err(|e| CallError::Network(crate::client::cause(&e)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let msg = serde_json::from_str::<ErrorBody>(&text).map(|b| b.error).unwrap_or(text);
        Err(CallError::Status(status.as_u16(), msg))
    }

    /// Sends until the server answers (not with a 5xx), for up to `patience`.
    async fn send_retry(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
        bearer: &str,
        patience: Duration,
    ) -> Result<reqwest::Response, CallError> {
        let start = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            match self.send(build(), bearer).await {
                Err(CallError::Network(m)) if start.elapsed() < patience => {
                    let _ = m;
                }
                Err(CallError::Status(s, _)) if s >= 500 && start.elapsed() < patience => {}
                other => return other,
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    async fn post_json<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        bearer: &str,
        patience: Duration,
    ) -> Result<R, CallError> {
        let url = self.url(path);
        let build = || self.http.post(&url).json(body).timeout(Duration::from_secs(60));
        let resp = self.send_retry(build, bearer, patience).await?;
        resp.json().await.map_err(|e| CallError::Network(e.to_string()))
    }

    /// Posts an attempt's report with its job token, retrying while the server is away.
    async fn post_job<B: Serialize>(&self, t: &Ticket, what: &str, body: &B) -> Result<(), CallError> {
        let url = self.url(&format!("/attempts/{}/{what}", t.attempt));
        let build = || self.http.post(&url).json(body).timeout(Duration::from_secs(60));
        self.send_retry(build, &t.token, REPORT_PATIENCE).await.map(|_| ())
    }

    /// Registers with the registration token, as the agent `previous` names (its id and
    /// credential) when the server still knows it.
    pub async fn register(
        &mut self,
        name: &str,
        resources: &[String],
        previous: Option<(String, String)>,
    ) -> Result<RegisterResponse, CallError> {
        let (id, credential) = previous.unzip();
        let req = RegisterRequest { name: name.to_string(), resources: resources.to_vec(), id, credential };
        // Sent once: the caller retries, and keeps an eye on shutdown meanwhile.
        let r: RegisterResponse = self.post_json("/agents/register", &req, &self.token, Duration::ZERO).await?;
        self.agent_id = r.agent_id.clone();
        self.credential = r.credential.clone();
        Ok(r)
    }

    /// Waits for a job; `None` when the server had none within the wait.
    pub async fn work(&self, wait: Duration) -> Result<Option<Assignment>, CallError> {
        let url = self.url(&format!("/agents/{}/work?wait_ms={}", self.agent_id, wait.as_millis()));
        let req = self.http.post(&url).timeout(wait + Duration::from_secs(10));
        let resp = self.send(req, &self.credential).await?;
        if resp.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        resp.json().await.map(Some).map_err(|e| CallError::Network(e.to_string()))
    }

    pub async fn heartbeat(&self, t: &Ticket, wait: Duration) -> Result<bool, CallError> {
        let url = self.url(&format!("/attempts/{}/heartbeat", t.attempt));
        let body = HeartbeatRequest { wait_ms: wait.as_millis() as u64 };
        let req = self.http.post(&url).json(&body).timeout(wait + Duration::from_secs(10));
        let resp = self.send(req, &t.token).await?;
        let r: HeartbeatResponse = resp.json().await.map_err(|e| CallError::Network(e.to_string()))?;
        Ok(r.cancel)
    }

    async fn task(&self, t: &Ticket, index: usize, state: TaskState, exit_code: Option<i32>) -> Result<(), CallError> {
        let body = TaskReport { index, state, exit_code, at_us: now_us() };
        self.post_job(t, "tasks", &body).await
    }

    async fn log(&self, t: &Ticket, seq: u64, data: String) -> Result<(), CallError> {
        self.post_job(t, "logs", &LogChunk { seq, data }).await
    }

    /// Reports the end of an attempt, retrying for up to `patience` while the server is away.
    pub async fn complete(
        &self,
        t: &Ticket,
        result: JobResult,
        reason: Option<String>,
        at_us: u64,
        patience: Duration,
    ) -> Result<(), CallError> {
        let url = self.url(&format!("/attempts/{}/complete", t.attempt));
        let body = CompleteRequest { result, reason, at_us };
        let build = || self.http.post(&url).json(&body).timeout(Duration::from_secs(60));
        self.send_retry(build, &t.token, patience).await.map(|_| ())
    }

    async fn upload(&self, t: &Ticket, name: &str, file: &Path, r: &ArtifactRef) -> Result<(), CallError> {
        let url = self.url(&format!("/attempts/{}/artifacts/{name}?sha256={}", t.attempt, r.sha256));
        let start = tokio::time::Instant::now();
        loop {
            let f = tokio::fs::File::open(file).await.map_err(|e| CallError::Network(e.to_string()))?;
            let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(f));
            let req = self.http.put(&url).header(reqwest::header::CONTENT_LENGTH, r.size).body(body);
            match self.send(req, &t.token).await {
                Err(CallError::Network(_)) if start.elapsed() < REPORT_PATIENCE => {}
                Err(CallError::Status(s, _)) if s >= 500 && start.elapsed() < REPORT_PATIENCE => {}
                other => return other.map(|_| ()),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn resolve_fetch(&self, t: &Ticket, q: &FetchQuery) -> Result<ArtifactRef, CallError> {
        let url = self.url(&format!("/attempts/{}/fetch", t.attempt));
        let resp = self.send_retry(|| self.http.get(&url).query(q), &t.token, Duration::from_secs(300)).await?;
        resp.json().await.map_err(|e| CallError::Network(e.to_string()))
    }

    /// Downloads an archive into `dest`, checking its SHA-256 and size.
    async fn download(&self, t: &Ticket, r: &ArtifactRef, dest: &Path) -> Result<(), String> {
        use futures_util::StreamExt;
        let url = self.url(&format!("/artifacts/{}?attempt={}", r.sha256, t.attempt));
        let resp = self
            .send_retry(|| self.http.get(&url), &t.token, Duration::from_secs(300))
            .await
            .map_err(|e| e.to_string())?;
        let mut w = artifacts::HashingWriter::create(dest, u64::MAX).await.map_err(|e| e.to_string())?;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("download interrupted: {e}"))?;
            w.write(&chunk).await.map_err(|e| e.to_string())?;
        }
        let got = w.finish().await.map_err(|e| e.to_string())?;
        if got != *r {
            return Err(format!(
                "artifact corrupted in transit: expected SHA-256 {} ({} bytes), got {} ({} bytes)",
                r.sha256, r.size, got.sha256, got.size
            ));
        }
        Ok(())
    }
}

/// The first pause before calling an unreachable server again; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// Runs an agent until SIGTERM or SIGINT: then its tasks are stopped, the job it runs is given
/// up at once (the server runs it again elsewhere), and it returns.
pub async fn run_until_signalled(opts: AgentOptions) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("cannot watch for SIGTERM: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("cannot watch for SIGINT: {e}"))?;
    let (stop, rx) = watch::channel(false);
    let mut agent = tokio::spawn(run(opts, rx));
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        r = &mut agent => return r.unwrap_or_else(|e| Err(e.to_string())),
    }
    let _ = stop.send(true);
    agent.await.unwrap_or_else(|e| Err(e.to_string()))
}

/// Runs an agent until `shutdown` turns true (or forever).
pub async fn run(mut opts: AgentOptions, mut shutdown: watch::Receiver<bool>) -> Result<(), String> {
    std::fs::create_dir_all(&opts.workdir).map_err(|e| format!("cannot create {}: {e}", opts.workdir.display()))?;
    // Workspaces are handed to tasks (`PW_WORKSPACE`): absolute, whatever folder the agent
    // started in.
    opts.workdir =
        std::fs::canonicalize(&opts.workdir).map_err(|e| format!("cannot open {}: {e}", opts.workdir.display()))?;
    let mut api = Api::new(&opts.server, &opts.token);
    if opts.announce {
        api = api.announcing(&opts.name);
    }
    let mut heartbeat = Duration::from_secs(10);
    let mut registered = false;
    let mut pause = FIRST_PAUSE;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        if !registered {
            match api.register(&opts.name, &opts.resources, saved_identity(&opts.workdir)).await {
                Ok(r) => {
                    if let Err(e) = save_identity(&opts.workdir, &r) {
                        api.say(&format!("{e}; a restart will register as a new agent"));
                    }
                    heartbeat = Duration::from_millis(r.heartbeat_ms.max(100));
                    registered = true;
                    pause = FIRST_PAUSE;
                    let resources =
                        if opts.resources.is_empty() { "none".to_string() } else { opts.resources.join(", ") };
                    let waiting = if r.approved {
                        "waiting for jobs".to_string()
                    } else {
                        format!("waiting for approval (`pw agent approve {}` on the server's side)", r.agent_id)
                    };
                    api.say(&format!(
                        "registered with {} as agent {} (resources: {resources}); {waiting}",
                        api.server, r.agent_id
                    ));
                }
                Err(CallError::Status(401, m)) => return Err(format!("the server refused the agent token: {m}")),
                Err(CallError::Status(s, m)) if s < 500 => {
                    return Err(format!("the server refused to register the agent: {m}"))
                }
                Err(_) => {
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => {}
                    }
                    pause = (pause * 2).min(MAX_PAUSE);
                    continue;
                }
            }
        }
        let polled = tokio::select! {
            r = api.work(Duration::from_millis(MAX_WAIT_MS)) => r,
            _ = shutdown.changed() => continue,
        };
        match polled {
            Ok(Some(job)) => {
                pause = FIRST_PAUSE;
                let key = format!("{}/{}/{}/{}", job.pipeline, job.counter, job.stage, job.job);
                let key = if job.attempt > 1 { format!("{key} (attempt {})", job.attempt) } else { key };
                api.say(&format!("running {key}"));
                let started = std::time::Instant::now();
                let (result, reason) = run_job(&api, &opts, job, heartbeat, shutdown.clone()).await;
                let result = match result {
                    JobResult::Passed => "passed",
                    JobResult::Failed => "failed",
                    JobResult::Cancelled => "cancelled",
                    JobResult::Lost => "given up",
                };
                let reason = reason.filter(|r| r != result).map(|r| format!(": {r}")).unwrap_or_default();
                api.say(&format!("{key} {result} in {:.1}s{reason}", started.elapsed().as_secs_f64()));
            }
            Ok(None) => {}
            // Forgotten, or the credential is no longer known: register again as a new agent.
            Err(CallError::Status(404 | 401, _)) => {
                forget_identity(&opts.workdir);
                registered = false;
            }
            Err(_) => {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.changed() => {}
                }
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }
}

/// The file keeping the agent's id and credential across restarts (only its user can read it).
fn identity_file(workdir: &Path) -> PathBuf {
    workdir.join("agent-credential")
}

/// The id and credential of an earlier registration, if kept.
fn saved_identity(workdir: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(identity_file(workdir)).ok()?;
    let (id, credential) = text.trim().split_once(' ')?;
    Some((id.to_string(), credential.to_string()))
}

fn save_identity(workdir: &Path, r: &RegisterResponse) -> Result<(), String> {
    statedir::write_private(&identity_file(workdir), &format!("{} {}\n", r.agent_id, r.credential))
}

fn forget_identity(workdir: &Path) {
    let _ = std::fs::remove_file(identity_file(workdir));
}

/// The log of one job: output (masked by its sender), gathered and sent in numbered chunks every
/// second or every 64 KiB.
fn start_log(api: &Api, ticket: Ticket) -> (mpsc::UnboundedSender<String>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let api = api.clone();
    let handle = tokio::spawn(async move {
        let mut buf = String::new();
        let mut seq = 0u64;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let flush = tokio::select! {
                line = rx.recv() => match line {
                    Some(l) => {
                        buf.push_str(&l);
                        buf.len() >= 64 * 1024
                    }
                    None => {
                        if !buf.is_empty() {
                            let _ = api.log(&ticket, seq, std::mem::take(&mut buf)).await;
                        }
                        return;
                    }
                },
                _ = tick.tick() => !buf.is_empty(),
            };
            if flush {
                let data = std::mem::take(&mut buf);
                if let Err(CallError::Status(s, _)) = api.log(&ticket, seq, data).await {
                    if s == 410 || s == 404 {
                        // The attempt is gone: keep draining so the job can end, send nothing.
                        while rx.recv().await.is_some() {}
                        return;
                    }
                }
                seq += 1;
            }
        }
    });
    (tx, handle)
}

/// Renews the lease while the job runs; turns `stop` true when the server says to stop.
fn start_heartbeat(
    api: &Api,
    ticket: Ticket,
    every: Duration,
    stop: std::sync::Arc<watch::Sender<bool>>,
) -> tokio::task::JoinHandle<()> {
    let api = api.clone();
    tokio::spawn(async move {
        loop {
            match api.heartbeat(&ticket, every).await {
                Ok(true) => {
                    let _ = stop.send(true);
                    return;
                }
                Ok(false) => {}
                Err(CallError::Status(s, _)) if s == 404 || s == 410 => {
                    let _ = stop.send(true);
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
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

struct JobRun<'a> {
    api: &'a Api,
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

/// Runs one job to its end and reports it; returns its result. When the agent is told to stop
/// meanwhile, the job's tasks are stopped and the attempt is given up at once (reported lost, so
/// that the server runs it again without waiting for the lease).
async fn run_job(
    api: &Api,
    opts: &AgentOptions,
    job: Assignment,
    heartbeat: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> (JobResult, Option<String>) {
    let deadline = job.timeout_ms.map(|t| tokio::time::Instant::now() + Duration::from_millis(t));
    let stop_tx = std::sync::Arc::new(watch::channel(false).0);
    let stop_rx = stop_tx.subscribe();
    let ticket = Ticket::of(&job);
    let beat = start_heartbeat(api, ticket.clone(), heartbeat, stop_tx.clone());
    let agent_stopping = shutdown.clone();
    let stopping = tokio::spawn(async move {
        while !*shutdown.borrow_and_update() {
            if shutdown.changed().await.is_err() {
                return;
            }
        }
        let _ = stop_tx.send(true);
    });
    let (log, log_task) = start_log(api, ticket.clone());
    let secrets = Patterns::new(&job.secrets);
    let ws = workspace_dir(opts, &job);
    let mut run = JobRun {
        api,
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
    let (mut result, mut reason) = run.execute().await;
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
    let _ = log_task.await;
    beat.abort();
    let patience = if result == JobResult::Lost { LOST_PATIENCE } else { REPORT_PATIENCE };
    let _ = api.complete(&ticket, result, reason.clone(), at, patience).await;
    (result, reason)
}

impl JobRun<'_> {
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
            if !run || stopped_by.is_some() {
                let _ = self.api.task(&self.ticket, i, TaskState::Skipped, None).await;
                continue;
            }
            let label = task_label(task);
            let within = task.dir.as_ref().map(|d| format!(" (in {d})")).unwrap_or_default();
            self.say(format!("task {}/{}: {label}{within}", i + 1, job.tasks.len()));
            let _ = self.api.task(&self.ticket, i, TaskState::Running, None).await;
            let outcome = self.task(task).await;
            let state = if outcome.passed() { TaskState::Passed } else { TaskState::Failed };
            let code = match &outcome {
                Outcome::Exited(c) => Some(*c),
                _ => None,
            };
            let _ = self.api.task(&self.ticket, i, state, code).await;
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
        let r = self.api.resolve_fetch(&self.ticket, q).await.map_err(|e| match e {
            CallError::Status(_, m) => m,
            e => e.to_string(),
        })?;
        let tmp = self.opts.workdir.join("tmp").join(format!("fetch-{}", r.sha256));
        self.api.download(&self.ticket, &r, &tmp).await?;
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
                Ok(r) => match self.api.upload(&self.ticket, &a.name, &tmp, &r).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_told_when_it_starts_at_growing_intervals_and_when_it_ends() {
        let mut reach = Reach::default();
        assert_eq!(reach.reached("http://s"), None, "nothing to say while the server answers");
        let first = reach.failed("http://s", "Connection refused").expect("the first failure is told");
        assert_eq!(first, "cannot reach the server at http://s (Connection refused); retrying");
        assert_eq!(reach.failed("http://s", "Connection refused"), None, "retries right after it are not");
        // As if the outage had started 1.5 s ago.
        if let Some((since, _)) = &mut reach.down {
            *since -= Duration::from_millis(1500);
        }
        let again = reach.failed("http://s", "Connection refused").expect("told again after a second");
        assert!(again.starts_with("the server at http://s is still unreachable after 1s"), "{again}");
        assert_eq!(reach.down.map(|(_, next)| next), Some(Duration::from_secs(2)), "then after 2 s, 4 s ...");
        assert_eq!(reach.failed("http://s", "x"), None);
        let back = reach.reached("http://s").expect("the end is told");
        assert_eq!(back, "reached the server at http://s again after 1s");
        assert_eq!(reach.reached("http://s"), None);
    }
}
