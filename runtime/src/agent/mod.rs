//! The agent: registers with the server, long-polls it for a job, runs the job's tasks in a
//! fresh workspace (materials checked out at the instance's revisions, artifacts fetched and
//! verified), streams its log in numbered chunks, uploads its artifacts, and reports the end.
//! Every call is retried while the server is away, so a restarted server gets every report.
//!
//! The agent talks to its server only through a [`Peer`], so its loop and its job runner are
//! unit-tested with a fake server in memory; [`HttpPeer`] is the one that speaks HTTP. One file
//! per concern:
//! - this file: the loop (register, poll, run, again) and stopping on a signal;
//! - `peer.rs`: the [`Peer`] trait, every call an agent makes;
//! - `http.rs`: [`HttpPeer`], and `reach.rs`: telling an outage once, not once per retry;
//! - `job.rs`: one job run to its end, with its lease renewed; `log.rs`: its log in chunks;
//! - [`exec`]: one task's process; [`task_env`]: the environment and user it runs with;
//! - `identity.rs`: the agent's id and credential, kept across restarts.

pub mod exec;
mod http;
mod identity;
mod job;
mod log;
mod peer;
mod reach;
pub mod task_env;
#[cfg(test)]
mod tests;

pub use http::HttpPeer;
pub use peer::{CallError, Peer, Ticket};
pub use task_env::User;

use crate::protocol::{JobResult, MAX_WAIT_MS};
use identity::{forget_identity, save_identity, saved_identity};
use job::{run_job, Lease};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

/// How an agent runs.
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

/// Runs an agent until `shutdown` turns true (or forever), talking to its server over HTTP.
pub async fn run(opts: AgentOptions, shutdown: watch::Receiver<bool>) -> Result<(), String> {
    let mut peer = HttpPeer::new(&opts.server, &opts.token);
    if opts.announce {
        peer = peer.announcing(&opts.name);
    }
    run_with(peer, opts, shutdown).await
}

/// The agent's loop, over any [`Peer`]: registers (again, as a new agent, when the server has
/// forgotten it), long-polls for a job, runs it to its end, and so on until `shutdown` turns
/// true (or forever).
pub async fn run_with<P: Peer>(
    mut peer: P,
    mut opts: AgentOptions,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    std::fs::create_dir_all(&opts.workdir).map_err(|e| format!("cannot create {}: {e}", opts.workdir.display()))?;
    // Workspaces are handed to tasks (`PW_WORKSPACE`): absolute, whatever folder the agent
    // started in.
    opts.workdir =
        std::fs::canonicalize(&opts.workdir).map_err(|e| format!("cannot open {}: {e}", opts.workdir.display()))?;
    let mut lease = Lease::default();
    let mut registered = false;
    let mut pause = FIRST_PAUSE;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        if !registered {
            match peer.register(&opts.name, &opts.resources, saved_identity(&opts.workdir)).await {
                Ok(r) => {
                    if let Err(e) = save_identity(&opts.workdir, &r) {
                        say(&opts, &format!("{e}; a restart will register as a new agent"));
                    }
                    lease = Lease::of(&r);
                    registered = true;
                    pause = FIRST_PAUSE;
                    let resources =
                        if opts.resources.is_empty() { "none".to_string() } else { opts.resources.join(", ") };
                    let waiting = if r.approved {
                        "waiting for jobs".to_string()
                    } else {
                        format!("waiting for approval (`pw agent approve {}` on the server's side)", r.agent_id)
                    };
                    let (server, id) = (opts.server.trim_end_matches('/'), &r.agent_id);
                    say(&opts, &format!("registered with {server} as agent {id} (resources: {resources}); {waiting}"));
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
            r = peer.work(Duration::from_millis(MAX_WAIT_MS)) => r,
            _ = shutdown.changed() => continue,
        };
        match polled {
            Ok(Some(job)) => {
                pause = FIRST_PAUSE;
                let key = format!("{}/{}/{}/{}", job.pipeline, job.counter, job.stage, job.job);
                let key = if job.attempt > 1 { format!("{key} (attempt {})", job.attempt) } else { key };
                say(&opts, &format!("running {key}"));
                let started = std::time::Instant::now();
                let (result, reason) = run_job(&peer, &opts, job, lease, shutdown.clone()).await;
                let result = match result {
                    JobResult::Passed => "passed",
                    JobResult::Failed => "failed",
                    JobResult::Cancelled => "cancelled",
                    JobResult::Lost => "given up",
                };
                let reason = reason.filter(|r| r != result).map(|r| format!(": {r}")).unwrap_or_default();
                say(&opts, &format!("{key} {result} in {:.1}s{reason}", started.elapsed().as_secs_f64()));
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

/// Prints a line on standard error, as `pw agent NAME: ...`, when the agent announces what it
/// does.
fn say(opts: &AgentOptions, line: &str) {
    if opts.announce {
        eprintln!("pw agent {}: {line}", opts.name);
    }
}
