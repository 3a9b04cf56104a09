//! The agents' calls: registration, the long poll for work, and an attempt's heartbeat, task
//! reports, log chunks and completion (its artifacts are in `artifact_api.rs`).

use super::auth::{authorize, authorize_agent, authorize_job, Role};
use super::errors::{bad, parse, query, Res};
use super::App;
use crate::engine::Engine;
use crate::protocol::*;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::time::Duration;

pub(super) async fn register(State(e): App, headers: HeaderMap, body: Bytes) -> Res<Json<RegisterResponse>> {
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

#[derive(Deserialize)]
pub(super) struct WaitQuery {
    #[serde(default)]
    wait_ms: Option<u64>,
}

pub(super) async fn work(State(e): App, headers: HeaderMap, Path(id): Path<String>, uri: Uri) -> Res<Response> {
    let q: WaitQuery = query(&uri)?;
    authorize_agent(&e, &headers, &id)?;
    let wait = q.wait_ms.unwrap_or(MAX_WAIT_MS).min(MAX_WAIT_MS);
    match e.next_work(&id, Duration::from_millis(wait)).await? {
        Some(a) => Ok(Json(a).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// A call about a job: the attempt it names, authorized by that attempt's token (before the
/// body is read), the agent holding it, and the body.
fn job_request<T: DeserializeOwned>(e: &Engine, headers: &HeaderMap, aid: &str, body: &Bytes) -> Res<(u64, String, T)> {
    let (aid, agent) = authorize_job(e, headers, aid)?;
    Ok((aid, agent, parse(body)?))
}

pub(super) async fn heartbeat(
    State(e): App,
    headers: HeaderMap,
    Path(aid): Path<String>,
    body: Bytes,
) -> Res<Json<HeartbeatResponse>> {
    let (aid, agent, req): (_, _, HeartbeatRequest) = job_request(&e, &headers, &aid, &body)?;
    let wait = Duration::from_millis(req.wait_ms.min(MAX_WAIT_MS));
    let cancel = e.heartbeat(&agent, Some(aid), wait).await?;
    Ok(Json(HeartbeatResponse { cancel }))
}

pub(super) async fn task_report(
    State(e): App,
    headers: HeaderMap,
    Path(aid): Path<String>,
    body: Bytes,
) -> Res<StatusCode> {
    let (aid, agent, req): (_, _, TaskReport) = job_request(&e, &headers, &aid, &body)?;
    e.task_report(aid, &agent, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn log_chunk(
    State(e): App,
    headers: HeaderMap,
    Path(aid): Path<String>,
    body: Bytes,
) -> Res<StatusCode> {
    let (aid, agent, req): (_, _, LogChunk) = job_request(&e, &headers, &aid, &body)?;
    if i64::try_from(req.seq).is_err() {
        return Err(bad(format!("a log chunk's seq must be at most {}", i64::MAX)));
    }
    e.append_log(aid, &agent, req.seq, req.data).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn complete(
    State(e): App,
    headers: HeaderMap,
    Path(aid): Path<String>,
    body: Bytes,
) -> Res<StatusCode> {
    let (aid, agent, req): (_, _, CompleteRequest) = job_request(&e, &headers, &aid, &body)?;
    e.complete(aid, &agent, req).await?;
    Ok(StatusCode::NO_CONTENT)
}
