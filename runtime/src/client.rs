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
    /// Where the server's URL came from, for messages: empty for `--server`.
    server_from: String,
    /// The API token and where it came from (for messages).
    token: Option<(String, String)>,
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

/// Checks that `text` is a server URL (`http://HOST:PORT`); `from` says where it was given.
pub fn server_url(text: &str, from: &str) -> Result<String, String> {
    let text = text.trim();
    let bad = || format!("`{text}`{from} is not a server URL; write it as http://HOST:PORT");
    let url = reqwest::Url::parse(text).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// The deepest cause of an HTTP error (`Connection refused (os error 111)`), which says more
/// than the outer "error sending request".
pub fn cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

/// Why no server was found, and what to do.
fn no_server(state: &std::path::Path) -> String {
    if state.join("pw.db").exists() {
        format!(
            "no server is running on `{0}`: `pw run` stops its server when the run ends; \
             start one with `pw server PATH... --state {0}`, or pass --server URL",
            state.display()
        )
    } else {
        format!(
            "no server given: pass --server URL, set PW_SERVER, or run where `{}` holds a server's state \
             (or give that folder with --state DIR)",
            state.display()
        )
    }
}

/// Where a client finds the API token, for messages.
fn token_advice(state: &std::path::Path) -> String {
    format!(
        "the server writes it to `api-token` in its state folder: pass --token-file FILE or set PW_API_TOKEN, \
         or give that folder with --state DIR (`{}` has no `api-token`)",
        state.display()
    )
}

impl Client {
    pub fn new(opts: &ClientOptions) -> Result<Client, ClientError> {
        let state = state_dir(opts);
        let (server, from) = match (&opts.server, std::env::var("PW_SERVER").ok().filter(|s| !s.trim().is_empty())) {
            (Some(s), _) => (s.clone(), String::new()),
            (None, Some(s)) => (s, " (from PW_SERVER)".to_string()),
            (None, None) => {
                let file = state.join("server-url");
                let url = std::fs::read_to_string(&file)
                    .map(|s| s.trim().to_string())
                    .map_err(|_| ClientError::Failed(no_server(&state)))?;
                (url, format!(" (from `{}`)", file.display()))
            }
        };
        let server = server_url(&server, &from).map_err(ClientError::Failed)?;
        let token = match &opts.token_file {
            Some(f) => Some((
                std::fs::read_to_string(f)
                    .map_err(|e| ClientError::Failed(format!("cannot read the token file `{}`: {e}", f.display())))?
                    .trim()
                    .to_string(),
                format!("`{}`", f.display()),
            )),
            None => std::env::var("PW_API_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .map(|t| (t, "PW_API_TOKEN".into()))
                .or_else(|| {
                    let file = state.join("api-token");
                    std::fs::read_to_string(&file).ok().map(|t| (t.trim().to_string(), format!("`{}`", file.display())))
                }),
        };
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build().unwrap_or_default();
        Ok(Client { http, base: format!("{server}{API}"), server_from: from, token, json: opts.json })
    }

    /// Fails before sending when a call that needs the API token has none.
    fn need_token(&self, opts: &ClientOptions) -> Result<(), ClientError> {
        match &self.token {
            Some(_) => Ok(()),
            None => Err(ClientError::Failed(format!(
                "no API token: commands that change the server's state need the server's API token; {}",
                token_advice(&state_dir(opts))
            ))),
        }
    }

    async fn call<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<Option<T>, ClientError> {
        let req = match &self.token {
            Some((t, _)) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await.map_err(|e| {
            ClientError::Failed(format!(
                "cannot reach the server at {}{}: {}",
                self.server(),
                self.server_from,
                cause(&e)
            ))
        })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| ClientError::Failed(e.to_string()))?;
        if !status.is_success() {
            let msg = serde_json::from_str::<ErrorBody>(&text).map(|b| b.error).unwrap_or(text);
            if status == reqwest::StatusCode::UNAUTHORIZED {
                let from = self.token.as_ref().map_or("no token".to_string(), |(_, f)| format!("the token from {f}"));
                return Err(ClientError::Refused(format!(
                    "the server refused {from} ({msg}); it needs the API token, which it writes to `api-token` in its state folder"
                )));
            }
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

    /// The server's URL, without the API prefix.
    pub fn server(&self) -> &str {
        self.base.strip_suffix(API).unwrap_or(&self.base)
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

/// A client for a command that changes the server's state: one with an API token.
fn mutating(opts: &ClientOptions) -> Result<Client, ClientError> {
    let c = Client::new(opts)?;
    c.need_token(opts)?;
    Ok(c)
}

pub async fn trigger(opts: &ClientOptions, pipeline: &str) -> u8 {
    let c = match mutating(opts) {
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

/// `pw agent approve ID`: lets an agent waiting for approval take jobs.
pub async fn approve_agent(opts: &ClientOptions, id: &str) -> u8 {
    simple(opts, &format!("/agents/{id}/approve"), None, format!("approved agent {id}")).await
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
    let c = match mutating(opts) {
        Ok(c) => c,
        Err(e) => return fail(opts.json, &e),
    };
    match c.post(path, body).await {
        Ok(()) => done(opts.json, what),
        Err(e) => fail(opts.json, &e),
    }
}

pub async fn status(opts: &ClientOptions, pipeline: Option<&str>) -> u8 {
    let (name, counter) = match pipeline.map(|p| p.split_once('/').map_or((p, None), |(a, b)| (a, Some(b)))) {
        Some((n, c)) => (Some(n), c.map(str::parse::<u32>)),
        None => (None, None),
    };
    let counter = match counter.transpose() {
        Ok(c) => c,
        Err(_) => return fail(opts.json, &ClientError::Failed("the counter after `/` must be a number".into())),
    };
    let answer = match Client::new(opts) {
        Ok(c) => c.status(name).await,
        Err(e) => recorded_status(opts, name).unwrap_or(Err(e)),
    };
    match answer {
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

/// What the state folder records, when no server runs on it (as after `pw run`): `None` when
/// there is no such folder or a server is meant to run on it.
fn recorded_status(opts: &ClientOptions, pipeline: Option<&str>) -> Option<Result<StatusResponse, ClientError>> {
    let state = state_dir(opts);
    let db = state.join("pw.db");
    if opts.server.is_some() || state.join("server-url").exists() || !db.exists() {
        return None;
    }
    let loaded = match crate::store::read_recorded(&db) {
        Ok(l) => l,
        Err(e) => return Some(Err(ClientError::Failed(e))),
    };
    if !opts.json {
        eprintln!("no server is running on `{}`: as recorded when it stopped", state.display());
    }
    let instances = loaded
        .instances
        .iter()
        .filter(|i| pipeline.is_none_or(|p| i.pipeline.eq_ignore_ascii_case(p)))
        .map(|i| i.view())
        .collect();
    // The materials a pending trigger waits for depend on the plan, which only a server holds.
    let pending = loaded
        .pending
        .iter()
        .filter(|t| pipeline.is_none_or(|p| t.pipeline.eq_ignore_ascii_case(p)))
        .map(|t| PendingView {
            pipeline: t.pipeline.clone(),
            cause: t.cause.to_string(),
            materials: Vec::new(),
            since_ms: t.created_ms,
        })
        .collect();
    Some(Ok(StatusResponse { instances, pending, agents: Vec::new() }))
}

/// The human form of `pw status`.
pub fn render_status(s: &StatusResponse) -> String {
    let mut out = String::new();
    if s.instances.is_empty() {
        out.push_str("no pipeline instances\n");
    }
    for i in &s.instances {
        out.push_str(&format!("{}/{}  {}  ({})\n", i.pipeline, i.counter, i.state.replace('_', " "), i.cause));
        for (m, r) in &i.revisions {
            out.push_str(&format!("  material {m} at {}\n", &r[..r.len().min(12)]));
        }
        for st in &i.stages {
            let state = st.state.word();
            // A reason that only repeats the state (`cancelled`) says nothing more.
            let reason = st.reason.as_deref().filter(|r| *r != state).map(|r| format!("  {r}")).unwrap_or_default();
            out.push_str(&format!("  {:<14} {state}{reason}\n", st.name));
            for j in &st.jobs {
                let Some(a) = j.attempts.last() else { continue };
                let state = a.state.word();
                let mut line = format!("    {:<16} {state}", j.name);
                if let Some(agent) = &a.agent {
                    line.push_str(&format!("  on {agent}"));
                }
                if j.attempts.len() > 1 {
                    line.push_str(&format!("  (attempt {})", a.number));
                }
                if let Some(r) = a.reason.as_deref().filter(|r| *r != state) {
                    line.push_str(&format!("  {r}"));
                }
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    for p in &s.pending {
        let what = match p.materials.as_slice() {
            [] => "looking up material revisions".to_string(),
            [one] => format!("looking up the revision of material {one}"),
            many => format!("looking up the revisions of materials {}", many.join(", ")),
        };
        out.push_str(&format!("{}: waiting to start ({}): {what}\n", p.pipeline, p.cause));
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
    use crate::state::{JobState, StageState};

    #[test]
    fn targets() {
        let t = Target::parse("build/7/test/unit", 4, 4, "x").unwrap();
        assert_eq!((t.pipeline.as_str(), t.counter, t.job.as_deref()), ("build", 7, Some("unit")));
        assert!(Target::parse("build/7", 3, 4, "`p/c/s`").unwrap_err().contains("is not `p/c/s`"));
        assert!(Target::parse("build/x/test", 3, 3, "s").unwrap_err().contains("`x` is not an instance counter"));
        assert!(Target::parse("build//test", 3, 3, "s").is_err());
    }

    #[test]
    fn server_urls_are_checked_before_use() {
        assert_eq!(server_url("http://ci.example.com:8150/", ""), Ok("http://ci.example.com:8150".to_string()));
        assert_eq!(server_url(" https://ci ", ""), Ok("https://ci".to_string()));
        let err = server_url("not-a-url", "").unwrap_err();
        assert_eq!(err, "`not-a-url` is not a server URL; write it as http://HOST:PORT");
        assert!(server_url("ftp://ci:21", "").is_err());
        assert!(server_url("localhost:8150", "").is_err(), "a scheme is needed");
        let err = server_url("ci:x", " (from PW_SERVER)").unwrap_err();
        assert_eq!(err, "`ci:x` (from PW_SERVER) is not a server URL; write it as http://HOST:PORT");
    }

    #[test]
    fn a_command_that_needs_the_api_token_says_where_to_find_it_before_sending() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ClientOptions {
            server: Some("http://127.0.0.1:9".into()),
            state: Some(dir.path().join("no-state")),
            ..Default::default()
        };
        let e = match mutating(&opts) {
            Err(e) => e,
            Ok(_) => panic!("no token was found, yet the client was made"),
        };
        assert_eq!(e.code(), CANNOT_RUN);
        assert!(e.message().starts_with("no API token:"), "{}", e.message());
        assert!(e.message().contains("--token-file FILE or set PW_API_TOKEN"), "{}", e.message());
    }

    fn attempt(number: u32, state: JobState, agent: Option<&str>, reason: Option<&str>) -> AttemptView {
        AttemptView {
            number,
            state,
            agent: agent.map(String::from),
            reason: reason.map(String::from),
            artifacts: Default::default(),
        }
    }

    #[test]
    fn status_for_people() {
        let job = |name: &str, attempts: Vec<AttemptView>| JobView { name: name.into(), attempts };
        let s = StatusResponse {
            instances: vec![
                InstanceView {
                    pipeline: "build".into(),
                    counter: 7,
                    state: "running".into(),
                    cause: "triggered by pw run".into(),
                    revisions: [("app".to_string(), "0123456789abcdef0123".to_string())].into(),
                    stages: vec![
                        StageView {
                            name: "test".into(),
                            state: StageState::Running,
                            reason: None,
                            jobs: vec![
                                job("unit", vec![attempt(1, JobState::Assigned, Some("local-1"), None)]),
                                job("lint", vec![attempt(1, JobState::Scheduled, None, None)]),
                                job(
                                    "e2e",
                                    vec![
                                        attempt(1, JobState::Failed, Some("local-2"), Some("agent `local-2` lost")),
                                        attempt(2, JobState::Passed, Some("local-1"), None),
                                    ],
                                ),
                            ],
                        },
                        StageView { name: "ship".into(), state: StageState::Pending, reason: None, jobs: vec![] },
                    ],
                },
                InstanceView {
                    pipeline: "build".into(),
                    counter: 6,
                    state: "cancelled".into(),
                    cause: "triggered by pw run".into(),
                    revisions: Default::default(),
                    stages: vec![StageView {
                        name: "test".into(),
                        state: StageState::Cancelled,
                        reason: Some("cancelled".into()),
                        jobs: vec![job(
                            "unit",
                            vec![attempt(1, JobState::Cancelled, Some("local-1"), Some("cancelled"))],
                        )],
                    }],
                },
            ],
            pending: vec![PendingView {
                pipeline: "deploy".into(),
                cause: "after build/5/test".into(),
                materials: vec!["infra".into()],
                since_ms: 0,
            }],
            agents: vec![AgentView {
                id: "x".into(),
                name: "local-1".into(),
                resources: vec!["linux".into()],
                state: "building".into(),
                job: Some("build/7/test/unit".into()),
            }],
        };
        insta::assert_snapshot!(render_status(&s));
    }
}
