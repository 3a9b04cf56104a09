//! The agent's [`Peer`] over HTTP: each call with the token it needs (the registration token,
//! the agent's credential, or the attempt's job token), reports retried while the server is away,
//! and outages told through `reach.rs`.

use super::peer::{CallError, Peer, Ticket, REPORT_PATIENCE};
use super::reach::Reach;
use crate::artifacts;
use crate::now_us;
use crate::protocol::*;
use crate::state::TaskState;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// The [`Peer`] that speaks HTTP: JSON under `/api/v1`, the attempt's job token on its calls,
/// and an outage told on standard error when the agent announces what it does.
#[derive(Clone)]
pub struct HttpPeer {
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

impl HttpPeer {
    pub fn new(server: &str, token: &str) -> Self {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build().unwrap_or_default();
        let server = server.trim_end_matches('/').to_string();
        HttpPeer {
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
        let resp = sent.map_err(|e| {
            let cause = crate::client::cause(&e);
            if refused(&e) {
                CallError::Refused(cause)
            } else {
                CallError::Network(cause)
            }
        })?;
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
                Err(CallError::Network(m) | CallError::Refused(m)) if start.elapsed() < patience => {
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
}

impl Peer for HttpPeer {
    async fn register(
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

    async fn work(&self, wait: Duration) -> Result<Option<Assignment>, CallError> {
        let url = self.url(&format!("/agents/{}/work?wait_ms={}", self.agent_id, wait.as_millis()));
        let req = self.http.post(&url).timeout(wait + Duration::from_secs(10));
        let resp = self.send(req, &self.credential).await?;
        if resp.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        resp.json().await.map(Some).map_err(|e| CallError::Network(e.to_string()))
    }

    async fn heartbeat(&self, t: &Ticket, wait: Duration) -> Result<bool, CallError> {
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

    async fn complete(
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
                Err(CallError::Network(_) | CallError::Refused(_)) if start.elapsed() < REPORT_PATIENCE => {}
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

/// Whether a call failed because nothing listens at the server's address.
fn refused(e: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused) {
            return true;
        }
        source = err.source();
    }
    false
}
