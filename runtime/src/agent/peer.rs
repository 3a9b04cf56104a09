//! The one interface between an agent and its server: every call the agent makes. The agent's
//! loop and its job runner are written against [`Peer`]; [`super::HttpPeer`] is the
//! implementation that speaks HTTP, and the loop's unit tests use one in memory.

use crate::protocol::{ArtifactRef, Assignment, FetchQuery, JobResult, RegisterResponse};
use crate::state::TaskState;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

/// How long an agent keeps retrying a report while the server is unreachable.
pub(crate) const REPORT_PATIENCE: Duration = Duration::from_secs(3600);

/// Why a call to the server failed.
#[derive(Debug)]
pub enum CallError {
    /// The server answered with this status and message.
    Status(u16, String),
    /// The server could not be reached (in time).
    Network(String),
    /// Nothing listens at the server's address: its host answered, so the server is not running
    /// (and, while it is not, counts no agent lost).
    Refused(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Status(s, m) => write!(f, "server answered {s}: {m}"),
            CallError::Network(m) | CallError::Refused(m) => write!(f, "cannot reach the server: {m}"),
        }
    }
}

/// What an attempt's calls carry: its id and its job token.
#[derive(Clone)]
pub struct Ticket {
    pub attempt: u64,
    pub(super) token: String,
}

impl Ticket {
    pub fn of(job: &Assignment) -> Ticket {
        Ticket { attempt: job.attempt_id, token: job.job_token.clone() }
    }
}

/// The server as the agent sees it. Every report of an attempt carries its [`Ticket`]; a report
/// is retried while the server is away (a restarted server gets every report), for up to
/// [`REPORT_PATIENCE`] unless the call says otherwise. An answer 404 or 410 to an attempt's call
/// means that the attempt is no longer the agent's.
pub trait Peer: Clone + Send + Sync + 'static {
    /// Registers with the registration token, as the agent `previous` names (its id and
    /// credential) when the server still knows it; the agent's later calls carry the credential
    /// the answer gives. Sent once: the caller retries.
    fn register(
        &mut self,
        name: &str,
        resources: &[String],
        previous: Option<(String, String)>,
    ) -> impl Future<Output = Result<RegisterResponse, CallError>> + Send;

    /// Waits up to `wait` for a job; `None` when the server had none within the wait.
    fn work(&self, wait: Duration) -> impl Future<Output = Result<Option<Assignment>, CallError>> + Send;

    /// Renews the attempt's lease, waiting up to `wait` for news; `true` when the server says
    /// to stop the job (cancelled, or timed out on its side).
    fn heartbeat(&self, t: &Ticket, wait: Duration) -> impl Future<Output = Result<bool, CallError>> + Send;

    /// Reports a task starting (`Running`) or ending, at the agent's current time.
    fn task(
        &self,
        t: &Ticket,
        index: usize,
        state: TaskState,
        exit_code: Option<i32>,
    ) -> impl Future<Output = Result<(), CallError>> + Send;

    /// Sends the log chunk numbered `seq`.
    fn log(&self, t: &Ticket, seq: u64, data: String) -> impl Future<Output = Result<(), CallError>> + Send;

    /// Reports the end of an attempt, retrying for up to `patience` while the server is away.
    fn complete(
        &self,
        t: &Ticket,
        result: JobResult,
        reason: Option<String>,
        at_us: u64,
        patience: Duration,
    ) -> impl Future<Output = Result<(), CallError>> + Send;

    /// Uploads the archive `file` as artifact `name`.
    fn upload(
        &self,
        t: &Ticket,
        name: &str,
        file: &Path,
        r: &ArtifactRef,
    ) -> impl Future<Output = Result<(), CallError>> + Send;

    /// Where the artifact a `fetch` task asks for is.
    fn resolve_fetch(&self, t: &Ticket, q: &FetchQuery) -> impl Future<Output = Result<ArtifactRef, CallError>> + Send;

    /// Downloads an archive into `dest`, checking its SHA-256 and size.
    fn download(&self, t: &Ticket, r: &ArtifactRef, dest: &Path) -> impl Future<Output = Result<(), String>> + Send;
}
