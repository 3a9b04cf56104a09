//! The HTTP server: axum routes over the [`Engine`], one file per kind of caller. The agent
//! token only registers agents; an agent's own calls carry the credential registration gave it,
//! and each attempt's calls (log, tasks, artifacts, heartbeat, completion) the job token of that
//! attempt. Mutating client calls carry the API token; reads are open. Every error is a JSON body
//! `{"error": "..."}` with a 4xx status for bad requests, so no input can take the server down.
//! The dashboard's pages ([`crate::dashboard`]) are served beside the API, outside `/api/v1`.
//!
//! - `agent_api.rs`: registration, work, heartbeats, task reports, logs, completion;
//! - `artifact_api.rs`: uploads, fetches and downloads of artifacts;
//! - `client_api.rs`: the client commands' reads and actions;
//! - `auth.rs`: which token a call carries; `errors.rs`: the JSON errors and reading requests;
//! - `idle_body.rs`: a request body that stalls is cut off.

mod agent_api;
mod artifact_api;
mod auth;
mod client_api;
mod errors;
mod idle_body;

use crate::engine::Engine;
#[cfg(doc)]
use crate::engine::EngineConfig;
use crate::protocol::API;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use errors::ApiError;
use std::sync::Arc;
use std::time::Duration;

type App = State<Arc<Engine>>;

pub fn router(engine: Arc<Engine>) -> Router {
    let v1 = Router::new()
        .route("/health", get(|| async { Json(serde_json::json!({"ok": true})) }))
        .route("/agents/register", post(agent_api::register))
        .route("/agents/{id}/work", post(agent_api::work))
        .route("/agents/{id}/approve", post(client_api::approve_agent))
        .route("/attempts/{aid}/heartbeat", post(agent_api::heartbeat))
        .route("/attempts/{aid}/tasks", post(agent_api::task_report))
        .route("/attempts/{aid}/logs", post(agent_api::log_chunk))
        .route("/attempts/{aid}/artifacts/{name}", put(artifact_api::upload).layer(DefaultBodyLimit::disable()))
        .route("/attempts/{aid}/complete", post(agent_api::complete))
        .route("/attempts/{aid}/fetch", get(artifact_api::fetch))
        .route("/artifacts/{sha}", get(artifact_api::download))
        .route("/pipelines/{name}/trigger", post(client_api::trigger))
        .route("/status", get(client_api::status))
        .route("/instances/{p}/{c}", get(client_api::instance))
        .route("/instances/{p}/{c}/cancel", post(client_api::cancel))
        .route("/instances/{p}/{c}/stages/{s}/approve", post(client_api::approve))
        .route("/instances/{p}/{c}/stages/{s}/rerun", post(client_api::rerun))
        .route("/instances/{p}/{c}/stages/{s}/jobs/{j}/logs", get(client_api::logs))
        .route("/events", get(client_api::events));
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
    let app = router(engine).layer(axum::middleware::from_fn_with_state(header_timeout, idle_body::limit));
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
