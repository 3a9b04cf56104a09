//! The client commands' calls: reads (status, an instance, logs, events, long-polled) are open;
//! trigger, approve, rerun, cancel and approving an agent carry the API token.

use super::auth::{authorize, Role};
use super::errors::{number, parse, query, Res};
use super::App;
use crate::protocol::*;
use crate::state::Cause;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Json;
use serde::Deserialize;
use std::time::Duration;

pub(super) async fn approve_agent(State(e): App, headers: HeaderMap, Path(id): Path<String>) -> Res<StatusCode> {
    authorize(&e, &headers, &[Role::Api])?;
    e.approve_agent(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn trigger(State(e): App, headers: HeaderMap, Path(name): Path<String>) -> Res<Json<TriggerResponse>> {
    authorize(&e, &headers, &[Role::Api])?;
    let (pipeline, counter) = e.trigger(&name, Cause::Manual { by: "api".into() }).await?;
    Ok(Json(TriggerResponse { pipeline, counter }))
}

#[derive(Deserialize)]
pub(super) struct StatusQuery {
    #[serde(default)]
    pipeline: Option<String>,
}

pub(super) async fn status(State(e): App, uri: Uri) -> Res<Json<StatusResponse>> {
    let q: StatusQuery = query(&uri)?;
    Ok(Json(e.status(q.pipeline.as_deref())?))
}

pub(super) async fn instance(State(e): App, Path((p, c)): Path<(String, String)>) -> Res<Json<InstanceView>> {
    Ok(Json(e.instance(&p, number(&c, "counter")?)?))
}

pub(super) async fn cancel(State(e): App, headers: HeaderMap, Path((p, c)): Path<(String, String)>) -> Res<StatusCode> {
    authorize(&e, &headers, &[Role::Api])?;
    e.cancel(&p, number(&c, "counter")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn approve(
    State(e): App,
    headers: HeaderMap,
    Path((p, c, s)): Path<(String, String, String)>,
) -> Res<StatusCode> {
    authorize(&e, &headers, &[Role::Api])?;
    e.approve(&p, number(&c, "counter")?, &s, "api").await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn rerun(
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
pub(super) struct LogsQuery {
    #[serde(default)]
    attempt: Option<u32>,
    #[serde(default)]
    after: Option<u64>,
}

pub(super) async fn logs(
    State(e): App,
    Path((p, c, s, j)): Path<(String, String, String, String)>,
    uri: Uri,
) -> Res<Json<LogsResponse>> {
    let q: LogsQuery = query(&uri)?;
    Ok(Json(e.logs(&p, number(&c, "counter")?, &s, &j, q.attempt, q.after)?))
}

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    wait_ms: u64,
}

pub(super) async fn events(State(e): App, uri: Uri) -> Res<Json<EventsResponse>> {
    let q: EventsQuery = query(&uri)?;
    let (events, next) = e.events_after(q.after, Duration::from_millis(q.wait_ms.min(MAX_WAIT_MS))).await?;
    Ok(Json(EventsResponse { events, next }))
}
