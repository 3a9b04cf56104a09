//! Artifacts: an attempt's uploads (streamed to the store, checked against their SHA-256 and
//! the attempt's quota, refused up front when the declared length passes it), where a fetch
//! finds an artifact, and downloads by SHA-256 with a job token or the API token.

use super::auth::{authorize, authorize_job, Role};
use super::errors::{bad, query, ApiError, Res};
use super::App;
use crate::artifacts::{self, HashingWriter};
use crate::engine::Engine;
use crate::protocol::{ArtifactRef, FetchQuery};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct UploadQuery {
    sha256: String,
}

pub(super) async fn upload(
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

pub(super) fn too_large(limit: u64) -> ApiError {
    ApiError(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("artifact larger than the limit of {limit} bytes (for all the artifacts of an attempt together)"),
    )
}

pub(super) async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    while let Some(Ok(_)) = stream.next().await {}
}

/// Streams an upload into the store, checking its size and hash.
pub(super) async fn receive(e: &Engine, body: Body, expected: &str, room: u64) -> Res<ArtifactRef> {
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

pub(super) async fn fetch(
    State(e): App,
    headers: HeaderMap,
    Path(aid): Path<String>,
    uri: Uri,
) -> Res<Json<ArtifactRef>> {
    let q: FetchQuery = query(&uri)?;
    let (aid, agent) = authorize_job(&e, &headers, &aid)?;
    Ok(Json(e.resolve_fetch(aid, &agent, &q)?))
}

#[derive(Deserialize)]
pub(super) struct DownloadQuery {
    /// The attempt whose job token the call carries (none with the API token).
    #[serde(default)]
    attempt: Option<String>,
}

pub(super) async fn download(State(e): App, headers: HeaderMap, Path(sha): Path<String>, uri: Uri) -> Res<Response> {
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
