//! The HTTP server: axum routes over the [`Engine`]. The agent token only registers agents; an
//! agent's own calls carry the credential registration gave it, and each attempt's calls (log,
//! tasks, artifacts, heartbeat, completion) the job token of that attempt. Mutating client calls
//! carry the API token; reads are open. Every error is a JSON body `{"error": "..."}` with
//! a 4xx status for bad requests, so no input can take the server down. The dashboard's pages
//! ([`crate::dashboard`]) are served beside the API, outside `/api/v1`.

use crate::artifacts::{self, HashingWriter};
#[cfg(doc)]
use crate::engine::EngineConfig;
use crate::engine::{Engine, EngineError};
use crate::protocol::*;
use crate::scheduler::{same_secret, SchedError};
use crate::state::Cause;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

type App = State<Arc<Engine>>;

pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Sched(SchedError::NotFound(m)) => ApiError(StatusCode::NOT_FOUND, m),
            EngineError::Sched(SchedError::Conflict(m)) => ApiError(StatusCode::CONFLICT, m),
            EngineError::Sched(SchedError::Gone(m)) => ApiError(StatusCode::GONE, m),
            EngineError::Sched(SchedError::Refused(m)) => ApiError(StatusCode::UNAUTHORIZED, m),
            EngineError::Internal(m) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, m),
        }
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

type Res<T> = Result<T, ApiError>;

fn parse<T: DeserializeOwned>(body: &Bytes) -> Res<T> {
    serde_json::from_slice(body).map_err(|e| bad(format!("malformed request body: {e}")))
}

fn query<T: DeserializeOwned>(uri: &Uri) -> Res<T> {
    Query::<T>::try_from_uri(uri).map(|q| q.0).map_err(|e| bad(format!("malformed query: {}", e.body_text())))
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Res<T> {
    text.parse().map_err(|_| bad(format!("`{text}` is not a valid {what}")))
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    /// The agent token: registers agents, nothing else.
    Register,
    Api,
}

/// The token of the `Authorization: Bearer <token>` header (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Res<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "missing `Authorization: Bearer <token>` header".into()))
}

/// Checks the bearer token for one of the roles.
fn authorize(engine: &Engine, headers: &HeaderMap, roles: &[Role]) -> Res<()> {
    let token = bearer(headers)?;
    let ok = roles.iter().any(|r| match r {
        Role::Register => same_secret(token, &engine.tokens.agent),
        Role::Api => same_secret(token, &engine.tokens.api),
    });
    if ok {
        Ok(())
    } else {
        let which = if roles.contains(&Role::Api) { "the API token" } else { "the agent token" };
        Err(ApiError(StatusCode::UNAUTHORIZED, format!("invalid token: this call needs {which}")))
    }
}

/// Checks that the bearer token is agent `id`'s credential.
fn authorize_agent(engine: &Engine, headers: &HeaderMap, id: &str) -> Res<()> {
    Ok(engine.authorize_agent(id, bearer(headers)?)?)
}

/// Checks that the bearer token is the live job token of attempt `aid`; returns the attempt and
/// the agent running it.
fn authorize_job(engine: &Engine, headers: &HeaderMap, aid: &str) -> Res<(u64, String)> {
    let aid = number(aid, "attempt id")?;
    let agent = engine.job_agent(aid, bearer(headers)?)?;
    Ok((aid, agent))
}

pub fn router(engine: Arc<Engine>) -> Router {
    let v1 = Router::new()
        .route("/health", get(|| async { Json(serde_json::json!({"ok": true})) }))
        .route("/agents/register", post(register))
        .route("/agents/{id}/work", post(work))
        .route("/agents/{id}/approve", post(approve_agent))
        .route("/attempts/{aid}/heartbeat", post(heartbeat))
        .route("/attempts/{aid}/tasks", post(task_report))
        .route("/attempts/{aid}/logs", post(log_chunk))
        .route("/attempts/{aid}/artifacts/{name}", put(upload).layer(DefaultBodyLimit::disable()))
        .route("/attempts/{aid}/complete", post(complete))
        .route("/attempts/{aid}/fetch", get(fetch))
        .route("/artifacts/{sha}", get(download))
        .route("/pipelines/{name}/trigger", post(trigger))
        .route("/status", get(status))
        .route("/instances/{p}/{c}", get(instance))
        .route("/instances/{p}/{c}/cancel", post(cancel))
        .route("/instances/{p}/{c}/stages/{s}/approve", post(approve))
        .route("/instances/{p}/{c}/stages/{s}/rerun", post(rerun))
        .route("/instances/{p}/{c}/stages/{s}/jobs/{j}/logs", get(logs))
        .route("/events", get(events));
    let api = Router::new()
        .nest(API, v1)
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .layer(DefaultBodyLimit::max(4 << 20))
        .layer(axum::middleware::map_response(json_errors));
    // The dashboard's pages answer in HTML; the layers above stay the API's.
    crate::dashboard::routes().merge(api).with_state(engine)
}

/// Gives every error the documented JSON body, including the ones the framework answers by
/// itself (405, 413, a path that is not UTF-8).
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let json = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let message = match text.is_empty() {
        true => status.canonical_reason().unwrap_or("error").to_ascii_lowercase(),
        false => text,
    };
    ApiError(status, message).into_response()
}

async fn register(State(e): App, headers: HeaderMap, body: Bytes) -> Res<Json<RegisterResponse>> {
    authorize(&e, &headers, &[Role::Register])?;
    let req: RegisterRequest = parse(&body)?;
    if req.name.trim().is_empty() || req.name.len() > 255 {
        return Err(bad("an agent name must have 1 to 255 characters"));
    }
    let r = e.register(req).await?;
    if !r.approved {
        eprintln!("pw server: agent {} waits for approval: pw agent approve {}", r.agent_id, r.agent_id);
    }
    Ok(Json(r))
}

async fn approve_agent(State(e): App, headers: HeaderMap, Path(id): Path<String>) -> Res<StatusCode> {
    authorize(&e, &headers, &[Role::Api])?;
    e.approve_agent(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct WaitQuery {
    #[serde(default)]
    wait_ms: Option<u64>,
}

async fn work(State(e): App, headers: HeaderMap, Path(id): Path<String>, uri: Uri) -> Res<Response> {
    let q: WaitQuery = query(&uri)?;
    authorize_agent(&e, &headers, &id)?;
    let wait = q.wait_ms.unwrap_or(MAX_WAIT_MS).min(MAX_WAIT_MS);
    match e.next_work(&id, Duration::from_millis(wait)).await? {
        Some(a) => Ok(Json(a).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn heartbeat(
    State(e): App,
    headers: HeaderMap,
    Path(aid): Path<String>,
    body: Bytes,
) -> Res<Json<HeartbeatResponse>> {
    let (aid, agent) = authorize_job(&e, &headers, &aid)?;
    let req: HeartbeatRequest = parse(&body)?;
    let wait = Duration::from_millis(req.wait_ms.min(MAX_WAIT_MS));
    let cancel = e.heartbeat(&agent, Some(aid), wait).await?;
    Ok(Json(HeartbeatResponse { cancel }))
}

async fn task_report(State(e): App, headers: HeaderMap, Path(aid): Path<String>, body: Bytes) -> Res<StatusCode> {
    let (aid, agent) = authorize_job(&e, &headers, &aid)?;
    let req: TaskReport = parse(&body)?;
    e.task_report(aid, &agent, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn log_chunk(State(e): App, headers: HeaderMap, Path(aid): Path<String>, body: Bytes) -> Res<StatusCode> {
    let (aid, agent) = authorize_job(&e, &headers, &aid)?;
    let req: LogChunk = parse(&body)?;
    if i64::try_from(req.seq).is_err() {
        return Err(bad(format!("a log chunk's seq must be at most {}", i64::MAX)));
    }
    e.append_log(aid, &agent, req.seq, req.data).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn complete(State(e): App, headers: HeaderMap, Path(aid): Path<String>, body: Bytes) -> Res<StatusCode> {
    let (aid, agent) = authorize_job(&e, &headers, &aid)?;
    let req: CompleteRequest = parse(&body)?;
    e.complete(aid, &agent, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct UploadQuery {
    sha256: String,
}

async fn upload(
    State(e): App,
    headers: HeaderMap,
    Path((aid, name)): Path<(String, String)>,
    uri: Uri,
    body: Body,
) -> Res<Json<ArtifactRef>> {
    let q: UploadQuery = query(&uri)?;
    if !artifacts::valid_name(&name) {
        return Err(bad(format!("invalid artifact name `{name}`")));
    }
    if !artifacts::valid_sha(&q.sha256) {
        return Err(bad("sha256 must be 64 lower-case hexadecimal digits"));
    }
    let (aid, agent) = authorize_job(&e, &headers, &aid)?;
    let room = e.upload_room(aid, &name)?;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > room) {
        return Err(too_large(e.cfg.upload_limit));
    }
    let stored = if e.blobs.exists(&q.sha256) {
        drain(body).await;
        let path = e.blobs.path(&q.sha256).unwrap_or_default();
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        if size > room {
            return Err(too_large(e.cfg.upload_limit));
        }
        ArtifactRef { sha256: q.sha256.clone(), size }
    } else {
        receive(&e, body, &q.sha256, room).await?
    };
    e.artifact_stored(aid, &agent, &name, stored.clone()).await?;
    Ok(Json(stored))
}

fn too_large(limit: u64) -> ApiError {
    ApiError(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("artifact larger than the limit of {limit} bytes (for all the artifacts of an attempt together)"),
    )
}

async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    while let Some(Ok(_)) = stream.next().await {}
}

/// Streams an upload into the store, checking its size and hash.
async fn receive(e: &Engine, body: Body, expected: &str, room: u64) -> Res<ArtifactRef> {
    let temp = e.blobs.temp_path();
    let internal =
        |err: std::io::Error| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot store artifact: {err}"));
    let mut w = HashingWriter::create(&temp, room).await.map_err(internal)?;
    let mut stream = body.into_data_stream();
    let result = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|err| bad(format!("upload interrupted: {err}")))?;
            if !w.write(&chunk).await.map_err(internal)? {
                return Err(too_large(e.cfg.upload_limit));
            }
        }
        let stored = w.finish().await.map_err(internal)?;
        if stored.sha256 != expected {
            return Err(bad(format!("upload corrupted: its SHA-256 is {}, not {expected}", stored.sha256)));
        }
        e.blobs.adopt(&temp, &stored.sha256).map_err(internal)?;
        Ok(stored)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&temp).await;
    }
    result
}

async fn fetch(State(e): App, headers: HeaderMap, Path(aid): Path<String>, uri: Uri) -> Res<Json<ArtifactRef>> {
    let q: FetchQuery = query(&uri)?;
    let (aid, agent) = authorize_job(&e, &headers, &aid)?;
    Ok(Json(e.resolve_fetch(aid, &agent, &q)?))
}

#[derive(Deserialize)]
struct DownloadQuery {
    /// The attempt whose job token the call carries (none with the API token).
    #[serde(default)]
    attempt: Option<String>,
}

async fn download(State(e): App, headers: HeaderMap, Path(sha): Path<String>, uri: Uri) -> Res<Response> {
    match query::<DownloadQuery>(&uri)?.attempt {
        Some(aid) => authorize_job(&e, &headers, &aid).map(|_| ())?,
        None => authorize(&e, &headers, &[Role::Api])?,
    }
    let path = e.blobs.path(&sha).ok_or_else(|| bad("sha256 must be 64 lower-case hexadecimal digits"))?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| ApiError(StatusCode::NOT_FOUND, format!("no artifact with SHA-256 {sha}")))?;
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok(([(header::CONTENT_LENGTH, len.to_string()), (header::CONTENT_TYPE, "application/x-tar".into())], body)
        .into_response())
}

async fn trigger(State(e): App, headers: HeaderMap, Path(name): Path<String>) -> Res<Json<TriggerResponse>> {
    authorize(&e, &headers, &[Role::Api])?;
    let (pipeline, counter) = e.trigger(&name, Cause::Manual { by: "api".into() }).await?;
    Ok(Json(TriggerResponse { pipeline, counter }))
}

#[derive(Deserialize)]
struct StatusQuery {
    #[serde(default)]
    pipeline: Option<String>,
}

async fn status(State(e): App, uri: Uri) -> Res<Json<StatusResponse>> {
    let q: StatusQuery = query(&uri)?;
    Ok(Json(e.status(q.pipeline.as_deref())?))
}

async fn instance(State(e): App, Path((p, c)): Path<(String, String)>) -> Res<Json<InstanceView>> {
    Ok(Json(e.instance(&p, number(&c, "counter")?)?))
}

async fn cancel(State(e): App, headers: HeaderMap, Path((p, c)): Path<(String, String)>) -> Res<StatusCode> {
    authorize(&e, &headers, &[Role::Api])?;
    e.cancel(&p, number(&c, "counter")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn approve(
    State(e): App,
    headers: HeaderMap,
    Path((p, c, s)): Path<(String, String, String)>,
) -> Res<StatusCode> {
    authorize(&e, &headers, &[Role::Api])?;
    e.approve(&p, number(&c, "counter")?, &s, "api").await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rerun(
    State(e): App,
    headers: HeaderMap,
    Path((p, c, s)): Path<(String, String, String)>,
    body: Bytes,
) -> Res<StatusCode> {
    authorize(&e, &headers, &[Role::Api])?;
    let req: RerunRequest = if body.is_empty() { RerunRequest::default() } else { parse(&body)? };
    e.rerun(&p, number(&c, "counter")?, &s, req.job.as_deref(), req.failed_only).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct LogsQuery {
    #[serde(default)]
    attempt: Option<u32>,
    #[serde(default)]
    after: Option<u64>,
}

async fn logs(
    State(e): App,
    Path((p, c, s, j)): Path<(String, String, String, String)>,
    uri: Uri,
) -> Res<Json<LogsResponse>> {
    let q: LogsQuery = query(&uri)?;
    Ok(Json(e.logs(&p, number(&c, "counter")?, &s, &j, q.attempt, q.after)?))
}

#[derive(Deserialize)]
struct EventsQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    wait_ms: u64,
}

async fn events(State(e): App, uri: Uri) -> Res<Json<EventsResponse>> {
    let q: EventsQuery = query(&uri)?;
    let (events, next) = e.events_after(q.after, Duration::from_millis(q.wait_ms.min(MAX_WAIT_MS))).await?;
    Ok(Json(EventsResponse { events, next }))
}

/// Serves the routes on `listener` until the process ends: HTTP/1.1, a connection that is slow to
/// send its headers, idle too long or stalls in a body ([`EngineConfig::header_timeout`]) is closed, and at most
/// [`EngineConfig::max_connections`] are served at once.
pub async fn serve(engine: Arc<Engine>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    if listener.local_addr().is_ok_and(|a| !a.ip().is_loopback()) {
        eprintln!(
            "pw server: warning: listening beyond loopback on plain HTTP: tokens, secrets and logs cross the network \
             in clear; put the server behind a reverse proxy that serves TLS"
        );
    }
    let (header_timeout, max) = (engine.cfg.header_timeout, engine.cfg.max_connections);
    let app = router(engine).layer(axum::middleware::from_fn_with_state(header_timeout, crate::idle_body::limit));
    let slots = Arc::new(tokio::sync::Semaphore::new(max.max(1)));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors, or a connection reset before it was taken: wait a little.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Over the bound, the connection is closed at once rather than left waiting.
        let Ok(slot) = slots.clone().try_acquire_owned() else { continue };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(header_timeout);
            let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = conn.await;
            drop(slot);
        });
    }
}
