//! The HTTP server: axum routes over the [`Engine`]. Agent calls carry the agent token, mutating
//! client calls the API token; reads are open. Every error is a JSON body `{"error": "..."}` with
//! a 4xx status for bad requests, so no input can take the server down.

use crate::artifacts::{self, HashingWriter};
use crate::engine::{Engine, EngineError};
use crate::protocol::*;
use crate::scheduler::SchedError;
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
    Agent,
    Api,
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the bearer token for one of the roles.
fn authorize(engine: &Engine, headers: &HeaderMap, roles: &[Role]) -> Res<()> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "missing `Authorization: Bearer <token>` header".into()))?;
    let ok = roles.iter().any(|r| match r {
        Role::Agent => same(token, &engine.tokens.agent),
        Role::Api => same(token, &engine.tokens.api),
    });
    if ok {
        Ok(())
    } else {
        let which = if roles.contains(&Role::Api) { "the API token" } else { "the agent token" };
        Err(ApiError(StatusCode::UNAUTHORIZED, format!("invalid token: this call needs {which}")))
    }
}

pub(crate) fn router(engine: Arc<Engine>) -> Router {
    let v1 = Router::new()
        .route("/health", get(|| async { Json(serde_json::json!({"ok": true})) }))
        .route("/agents/register", post(register))
        .route("/agents/{id}/work", post(work))
        .route("/agents/{id}/heartbeat", post(heartbeat))
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
    Router::new()
        .nest(API, v1)
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .layer(DefaultBodyLimit::max(4 << 20))
        .with_state(engine)
}

async fn register(State(e): App, headers: HeaderMap, body: Bytes) -> Res<Json<RegisterResponse>> {
    authorize(&e, &headers, &[Role::Agent])?;
    let req: RegisterRequest = parse(&body)?;
    if req.name.trim().is_empty() || req.name.len() > 255 {
        return Err(bad("an agent name must have 1 to 255 characters"));
    }
    let agent_id = e.register(req.id, &req.name, req.resources).await?;
    let cfg = &e.cfg.sched;
    Ok(Json(RegisterResponse { agent_id, heartbeat_ms: cfg.heartbeat_ms, lease_ms: cfg.lease_ms }))
}

#[derive(Deserialize)]
struct WaitQuery {
    #[serde(default)]
    wait_ms: Option<u64>,
}

async fn work(State(e): App, headers: HeaderMap, Path(id): Path<String>, uri: Uri) -> Res<Response> {
    authorize(&e, &headers, &[Role::Agent])?;
    let q: WaitQuery = query(&uri)?;
    let wait = q.wait_ms.unwrap_or(MAX_WAIT_MS).min(MAX_WAIT_MS);
    match e.next_work(&id, Duration::from_millis(wait)).await? {
        Some(a) => Ok(Json(a).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn heartbeat(
    State(e): App,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Res<Json<HeartbeatResponse>> {
    authorize(&e, &headers, &[Role::Agent])?;
    let req: HeartbeatRequest = parse(&body)?;
    let wait = Duration::from_millis(req.wait_ms.min(MAX_WAIT_MS));
    let cancel = e.heartbeat(&id, req.attempt_id, wait).await?;
    Ok(Json(HeartbeatResponse { cancel }))
}

async fn task_report(State(e): App, headers: HeaderMap, Path(aid): Path<String>, body: Bytes) -> Res<StatusCode> {
    authorize(&e, &headers, &[Role::Agent])?;
    let aid = number(&aid, "attempt id")?;
    let req: TaskReport = parse(&body)?;
    e.task_report(aid, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn log_chunk(State(e): App, headers: HeaderMap, Path(aid): Path<String>, body: Bytes) -> Res<StatusCode> {
    authorize(&e, &headers, &[Role::Agent])?;
    let aid = number(&aid, "attempt id")?;
    let req: LogChunk = parse(&body)?;
    e.append_log(aid, &req.agent_id, req.seq, req.data).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn complete(State(e): App, headers: HeaderMap, Path(aid): Path<String>, body: Bytes) -> Res<StatusCode> {
    authorize(&e, &headers, &[Role::Agent])?;
    let aid = number(&aid, "attempt id")?;
    let req: CompleteRequest = parse(&body)?;
    e.complete(aid, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct UploadQuery {
    agent_id: String,
    sha256: String,
}

async fn upload(
    State(e): App,
    headers: HeaderMap,
    Path((aid, name)): Path<(String, String)>,
    uri: Uri,
    body: Body,
) -> Res<Json<ArtifactRef>> {
    authorize(&e, &headers, &[Role::Agent])?;
    let q: UploadQuery = query(&uri)?;
    let aid = number(&aid, "attempt id")?;
    if !artifacts::valid_name(&name) {
        return Err(bad(format!("invalid artifact name `{name}`")));
    }
    if !artifacts::valid_sha(&q.sha256) {
        return Err(bad("sha256 must be 64 lower-case hexadecimal digits"));
    }
    e.owns(aid, &q.agent_id)?;
    let stored = if e.blobs.exists(&q.sha256) {
        drain(body).await;
        let path = e.blobs.path(&q.sha256).unwrap_or_default();
        ArtifactRef { sha256: q.sha256.clone(), size: std::fs::metadata(path).map_or(0, |m| m.len()) }
    } else {
        receive(&e, body, &q.sha256).await?
    };
    e.artifact_stored(aid, &q.agent_id, &name, stored.clone()).await?;
    Ok(Json(stored))
}

async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    while let Some(Ok(_)) = stream.next().await {}
}

/// Streams an upload into the store, checking its size and hash.
async fn receive(e: &Engine, body: Body, expected: &str) -> Res<ArtifactRef> {
    let temp = e.blobs.temp_path();
    let internal =
        |err: std::io::Error| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot store artifact: {err}"));
    let mut w = HashingWriter::create(&temp, e.cfg.upload_limit).await.map_err(internal)?;
    let mut stream = body.into_data_stream();
    let result = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|err| bad(format!("upload interrupted: {err}")))?;
            if !w.write(&chunk).await.map_err(internal)? {
                return Err(ApiError(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("artifact larger than the limit of {} bytes", e.cfg.upload_limit),
                ));
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

#[derive(Deserialize)]
struct FetchParams {
    agent_id: String,
    #[serde(flatten)]
    q: FetchQuery,
}

async fn fetch(State(e): App, headers: HeaderMap, Path(aid): Path<String>, uri: Uri) -> Res<Json<ArtifactRef>> {
    authorize(&e, &headers, &[Role::Agent])?;
    let p: FetchParams = query(&uri)?;
    let aid = number(&aid, "attempt id")?;
    Ok(Json(e.resolve_fetch(aid, &p.agent_id, &p.q)?))
}

async fn download(State(e): App, headers: HeaderMap, Path(sha): Path<String>) -> Res<Response> {
    authorize(&e, &headers, &[Role::Agent, Role::Api])?;
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

/// Serves the routes on `listener` until the process ends.
pub async fn serve(engine: Arc<Engine>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(engine)).await
}
