//! The HTTP client of the client commands (`pw trigger`, `status`, `approve`, `rerun`, `cancel`,
//! `logs`): a server found through `--server` or the `server-url` file of a state folder, and
//! what its state folder recorded when no server runs on it.

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
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    /// Where the server's URL came from, for messages: empty for `--server`.
    server_from: String,
    /// The API token and where it came from (for messages).
    token: Option<(String, String)>,
}

#[derive(Debug)]
pub enum ClientError {
    /// The server refused (4xx) with this message.
    Refused(String),
    /// No server, or a broken answer.
    Failed(String),
}

impl ClientError {
    pub fn message(&self) -> &str {
        match self {
            ClientError::Refused(m) | ClientError::Failed(m) => m,
        }
    }
}

pub fn state_dir(opts: &ClientOptions) -> PathBuf {
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
        // A server that stops answering fails the command instead of hanging it: no call waits
        // longer than the longest long-poll and a margin.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_millis(crate::protocol::MAX_WAIT_MS) + Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Ok(Client { http, base: format!("{server}{API}"), server_from: from, token })
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

/// A client for a command that changes the server's state: one with an API token.
pub fn mutating(opts: &ClientOptions) -> Result<Client, ClientError> {
    let c = Client::new(opts)?;
    c.need_token(opts)?;
    Ok(c)
}

/// What the state folder records, when no server runs on it (as after `pw run`): `None` when
/// there is no such folder or a server is meant to run on it.
pub fn recorded_status(opts: &ClientOptions, pipeline: Option<&str>) -> Option<Result<StatusResponse, ClientError>> {
    let state = state_dir(opts);
    let db = state.join("pw.db");
    if opts.server.is_some() || state.join("server-url").exists() || !db.exists() {
        return None;
    }
    let loaded = match crate::store::read_recorded(&db) {
        Ok(l) => l,
        Err(e) => return Some(Err(ClientError::Failed(e))),
    };
    let instances = loaded
        .instances
        .iter()
        .filter(|i| pipeline.is_none_or(|p| i.pipeline.eq_ignore_ascii_case(p)))
        .map(InstanceView::from)
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
        assert!(matches!(e, ClientError::Failed(_)), "found before sending, the command cannot run");
        assert!(e.message().starts_with("no API token:"), "{}", e.message());
        assert!(e.message().contains("--token-file FILE or set PW_API_TOKEN"), "{}", e.message());
    }
}
