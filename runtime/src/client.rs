//! The client commands (`pw trigger`, `status`, `approve`, `rerun`, `cancel`, `logs`): HTTP calls
//! to a server, found through `--server` or the `server-url` file of a state folder, printed for
//! people or as JSON.

use crate::protocol::*;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    pub server: Option<String>,
    /// Where `server-url` and `api-token` are read from when not given otherwise.
    pub state: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    pub json: bool,
}

/// Exit codes: the command did what was asked, the server refused, the command could not run.
pub const OK: u8 = 0;
pub const REFUSED: u8 = 1;
pub const CANNOT_RUN: u8 = 2;

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    json: bool,
}

#[derive(Debug)]
pub enum ClientError {
    /// The server refused (4xx) with this message.
    Refused(String),
    /// No server, or a broken answer.
    Failed(String),
}

impl ClientError {
    pub fn code(&self) -> u8 {
        match self {
            ClientError::Refused(_) => REFUSED,
            ClientError::Failed(_) => CANNOT_RUN,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ClientError::Refused(m) | ClientError::Failed(m) => m,
        }
    }
}

fn state_dir(opts: &ClientOptions) -> PathBuf {
    opts.state.clone().unwrap_or_else(|| PathBuf::from(".pw"))
}

impl Client {
    pub fn new(opts: &ClientOptions) -> Result<Client, ClientError> {
        let state = state_dir(opts);
        let server = match opts.server.clone().or_else(|| std::env::var("PW_SERVER").ok()) {
            Some(s) => s,
            None => std::fs::read_to_string(state.join("server-url")).map(|s| s.trim().to_string()).map_err(|_| {
                ClientError::Failed(format!(
                    "no server given: pass --server URL, set PW_SERVER, or run where `{}` holds a server's state",
                    state.display()
                ))
            })?,
        };
        let token = match &opts.token_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| ClientError::Failed(format!("cannot read token file `{}`: {e}", f.display())))?
                    .trim()
                    .to_string(),
            ),
            None => std::env::var("PW_API_TOKEN")
                .ok()
                .or_else(|| std::fs::read_to_string(state.join("api-token")).ok().map(|s| s.trim().to_string())),
        };
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build().unwrap_or_default();
        Ok(Client { http, base: format!("{}{API}", server.trim_end_matches('/')), token, json: opts.json })
    }

    async fn call<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<Option<T>, ClientError> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::Failed(format!("cannot reach the server at {}: {e}", self.base)))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| ClientError::Failed(e.to_string()))?;
        if !status.is_success() {
            let msg = serde_json::from_str::<ErrorBody>(&text).map(|b| b.error).unwrap_or(text);
            return Err(if status.is_client_error() { ClientError::Refused(msg) } else { ClientError::Failed(msg) });
        }
        if text.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text).map(Some).map_err(|e| ClientError::Failed(format!("unexpected answer: {e}")))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn trigger(&self, pipeline: &str) -> Result<TriggerResponse, ClientError> {
        let r: Option<TriggerResponse> =
            self.call(self.http.post(self.url(&format!("/pipelines/{pipeline}/trigger")))).await?;
        r.ok_or_else(|| ClientError::Failed("empty answer".into()))
    }

    pub async fn status(&self, pipeline: Option<&str>) -> Result<StatusResponse, ClientError> {
        let mut req = self.http.get(self.url("/status"));
        if let Some(p) = pipeline {
            req = req.query(&[("pipeline", p)]);
        }
        self.call::<StatusResponse>(req).await?.ok_or_else(|| ClientError::Failed("empty answer".into()))
    }

    pub async fn post(&self, path: &str, body: Option<serde_json::Value>) -> Result<(), ClientError> {
        let mut req = self.http.post(self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.call::<serde_json::Value>(req).await.map(|_| ())
    }

    pub async fn logs(
        &self,
        t: &Target,
        attempt: Option<u32>,
        after: Option<u64>,
    ) -> Result<LogsResponse, ClientError> {
        let (stage, job) = (t.stage.as_deref().unwrap_or(""), t.job.as_deref().unwrap_or(""));
        let mut req =
            self.http.get(self.url(&format!("/instances/{}/{}/stages/{stage}/jobs/{job}/logs", t.pipeline, t.counter)));
        if let Some(a) = attempt {
            req = req.query(&[("attempt", a)]);
        }
        if let Some(a) = after {
            req = req.query(&[("after", a)]);
        }
        self.call::<LogsResponse>(req).await?.ok_or_else(|| ClientError::Failed("empty answer".into()))
    }

    pub fn json(&self) -> bool {
        self.json
    }
}

/// `pipeline/counter[/stage[/job]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub pipeline: String,
    pub counter: u32,
    pub stage: Option<String>,
    pub job: Option<String>,
}

impl Target {
    /// Parses a target with between `min` and `max` parts.
    pub fn parse(text: &str, min: usize, max: usize, shape: &str) -> Result<Target, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let bad = || format!("`{text}` is not {shape}");
        if parts.len() < min || parts.len() > max || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        let counter = parts[1].parse().map_err(|_| format!("{}: `{}` is not an instance counter", bad(), parts[1]))?;
        Ok(Target {
            pipeline: parts[0].to_string(),
            counter,
            stage: parts.get(2).map(|s| s.to_string()),
            job: parts.get(3).map(|s| s.to_string()),
        })
    }
}

fn fail(client_json: bool, e: &ClientError) -> u8 {
    if client_json {
        println!("{}", serde_json::json!({ "error": e.message() }));
    }
    eprintln!("error: {}", e.message());
    e.code()
}

fn done(json: bool, what: String) -> u8 {
    if json {
        println!("{}", serde_json::json!({ "ok": true, "message": what }));
    } else {
        println!("{what}");
    }
    OK
}

pub async fn trigger(opts: &ClientOptions, pipeline: &str) -> u8 {
    let c = match Client::new(opts) {
        Ok(c) => c,
        Err(e) => return fail(opts.json, &e),
    };
    match c.trigger(pipeline).await {
        Ok(r) if opts.json => {
            println!("{}", serde_json::to_string(&r).unwrap_or_default());
            OK
        }
        Ok(r) => done(false, format!("triggered {}/{}", r.pipeline, r.counter)),
        Err(e) => fail(opts.json, &e),
    }
}

pub async fn approve(opts: &ClientOptions, target: &str) -> u8 {
    let t = match Target::parse(target, 3, 3, "`pipeline/counter/stage`") {
        Ok(t) => t,
        Err(m) => return fail(opts.json, &ClientError::Failed(m)),
    };
    let path = format!("/instances/{}/{}/stages/{}/approve", t.pipeline, t.counter, t.stage.as_deref().unwrap_or(""));
    simple(opts, &path, None, format!("approved {target}")).await
}

pub async fn rerun(opts: &ClientOptions, target: &str, failed_only: bool) -> u8 {
    let t = match Target::parse(target, 3, 4, "`pipeline/counter/stage` or `pipeline/counter/stage/job`") {
        Ok(t) => t,
        Err(m) => return fail(opts.json, &ClientError::Failed(m)),
    };
    let path = format!("/instances/{}/{}/stages/{}/rerun", t.pipeline, t.counter, t.stage.as_deref().unwrap_or(""));
    let body = serde_json::json!({ "job": t.job, "failed_only": failed_only });
    simple(opts, &path, Some(body), format!("re-running {target}{}", if failed_only { " (failed jobs)" } else { "" }))
        .await
}

pub async fn cancel(opts: &ClientOptions, target: &str) -> u8 {
    let t = match Target::parse(target, 2, 2, "`pipeline/counter`") {
        Ok(t) => t,
        Err(m) => return fail(opts.json, &ClientError::Failed(m)),
    };
    simple(opts, &format!("/instances/{}/{}/cancel", t.pipeline, t.counter), None, format!("cancelled {target}")).await
}

async fn simple(opts: &ClientOptions, path: &str, body: Option<serde_json::Value>, what: String) -> u8 {
    let c = match Client::new(opts) {
        Ok(c) => c,
        Err(e) => return fail(opts.json, &e),
    };
    match c.post(path, body).await {
        Ok(()) => done(opts.json, what),
        Err(e) => fail(opts.json, &e),
    }
}

pub async fn status(opts: &ClientOptions, pipeline: Option<&str>) -> u8 {
    let c = match Client::new(opts) {
        Ok(c) => c,
        Err(e) => return fail(opts.json, &e),
    };
    let (name, counter) = match pipeline.map(|p| p.split_once('/').map_or((p, None), |(a, b)| (a, Some(b)))) {
        Some((n, c)) => (Some(n), c.map(str::parse::<u32>)),
        None => (None, None),
    };
    let counter = match counter.transpose() {
        Ok(c) => c,
        Err(_) => return fail(opts.json, &ClientError::Failed("the counter after `/` must be a number".into())),
    };
    match c.status(name).await {
        Ok(mut s) => {
            if let Some(c) = counter {
                s.instances.retain(|i| i.counter == c);
            }
            if opts.json {
                println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            } else {
                print!("{}", render_status(&s));
            }
            OK
        }
        Err(e) => fail(opts.json, &e),
    }
}

/// The human form of `pw status`.
pub fn render_status(s: &StatusResponse) -> String {
    let mut out = String::new();
    if s.instances.is_empty() {
        out.push_str("no pipeline instances\n");
    }
    for i in &s.instances {
        out.push_str(&format!("{}/{}  {}  ({})\n", i.pipeline, i.counter, i.state, i.cause));
        for (m, r) in &i.revisions {
            out.push_str(&format!("  material {m} at {}\n", &r[..r.len().min(12)]));
        }
        for st in &i.stages {
            let state =
                serde_json::to_value(st.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            let reason = st.reason.as_deref().map(|r| format!("  {r}")).unwrap_or_default();
            out.push_str(&format!("  {:<14} {state}{reason}\n", st.name));
            for j in &st.jobs {
                let Some(a) = j.attempts.last() else { continue };
                let state =
                    serde_json::to_value(a.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
                let mut line = format!("    {:<16} {state}", j.name);
                if let Some(agent) = &a.agent {
                    line.push_str(&format!("  on {agent}"));
                }
                if j.attempts.len() > 1 {
                    line.push_str(&format!("  (attempt {})", a.number));
                }
                if let Some(r) = &a.reason {
                    line.push_str(&format!("  {r}"));
                }
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    if !s.agents.is_empty() {
        out.push_str("agents:\n");
        for a in &s.agents {
            let job = a.job.as_deref().map(|j| format!("  {j}")).unwrap_or_default();
            out.push_str(&format!("  {:<16} {:<8} [{}]{job}\n", a.name, a.state, a.resources.join(", ")));
        }
    }
    out
}

pub async fn logs(opts: &ClientOptions, target: &str, attempt: Option<u32>, follow: bool) -> u8 {
    let t = match Target::parse(target, 4, 4, "`pipeline/counter/stage/job`") {
        Ok(t) => t,
        Err(m) => return fail(opts.json, &ClientError::Failed(m)),
    };
    let c = match Client::new(opts) {
        Ok(c) => c,
        Err(e) => return fail(opts.json, &e),
    };
    let mut after = None;
    let mut attempt = attempt;
    loop {
        let r = match c.logs(&t, attempt, after).await {
            Ok(r) => r,
            Err(e) => return fail(opts.json, &e),
        };
        attempt.get_or_insert(r.attempt);
        for ch in &r.chunks {
            if opts.json {
                println!("{}", serde_json::json!({ "attempt": r.attempt, "seq": ch.seq, "data": ch.data }));
            } else {
                print!("{}", ch.data);
            }
            after = Some(ch.seq);
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        if !follow || (r.finished && r.chunks.is_empty()) {
            return OK;
        }
        if r.chunks.is_empty() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("build/7/test/unit", 4, 4, "x").unwrap();
        assert_eq!((t.pipeline.as_str(), t.counter, t.job.as_deref()), ("build", 7, Some("unit")));
        assert!(Target::parse("build/7", 3, 4, "`p/c/s`").unwrap_err().contains("is not `p/c/s`"));
        assert!(Target::parse("build/x/test", 3, 3, "s").unwrap_err().contains("`x` is not an instance counter"));
        assert!(Target::parse("build//test", 3, 3, "s").is_err());
    }
}
