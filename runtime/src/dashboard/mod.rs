//! The web dashboard, served beside the API: pages rendered on the server from the engine's
//! state (the same the API reads), a Server-Sent Events stream that keeps them live, and a little
//! embedded script that acts through the API with the token the person pastes.
//!
//! - [`overview`], [`history`], [`instance`], [`job`], [`agents`], [`vsm`]: the pages;
//! - [`layout`]: the frame and shared pieces; [`facts`]: what pages derive from the state;
//! - [`sse`]: the live stream; [`respond`]: ETag, 304 and gzip; [`ansi`]: log colours to HTML;
//! - [`shared`]: the pages every tab shows alike, rendered once per event for all of them.

mod agents;
mod ansi;
mod facts;
mod history;
mod instance;
mod job;
mod layout;
mod overview;
mod respond;
mod shared;
mod sse;
#[cfg(test)]
mod tests;
mod vsm;

use crate::engine::Engine;
use crate::now_ms;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

type App = State<Arc<Engine>>;

/// The dashboard's routes; none collides with the API's (under `/api/v1`).
pub fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/", get(overview_page))
        .route("/agents", get(agents_page))
        .route("/vsm", get(vsm_page))
        .route("/vsm/{p}/{c}", get(vsm_instance_page))
        .route("/pipelines/{p}", get(history_page))
        .route("/pipelines/{p}/{c}", get(instance_page))
        .route("/pipelines/{p}/{c}/{s}/{j}", get(job_page))
        .route("/pipelines/{p}/{c}/{s}/{j}/log.txt", get(raw_log))
        .route("/dashboard/events", get(events))
        .route("/dashboard/static/{file}", get(asset))
        .layer(Extension(Arc::new(shared::SharedPages::default())))
}

/// The dashboard's address for a server listening at `base` (`http://host:port`).
pub fn url(base: &str) -> String {
    format!("{}/", base.trim_end_matches('/'))
}

/// Why a page cannot be shown.
enum PageError {
    NotFound(String),
    /// The scheduler's lock is poisoned.
    Unavailable,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotFound(m) => respond::not_found(&m),
            PageError::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "the server's state cannot be read").into_response()
            }
        }
    }
}

type Page = Result<Response, PageError>;

impl From<crate::engine::EngineError> for PageError {
    fn from(_: crate::engine::EngineError) -> Self {
        PageError::Unavailable
    }
}

fn counter(text: &str) -> Result<u32, PageError> {
    text.parse().map_err(|_| PageError::NotFound(format!("`{text}` is not an instance number")))
}

type Shared = Extension<Arc<shared::SharedPages>>;

async fn overview_page(State(e): App, Extension(pages): Shared, headers: HeaderMap) -> Page {
    let seq = e.last_event();
    let page = pages
        .get("overview", seq, || {
            let shown = e.read(|s| overview::gather(s, now_ms()))?;
            Ok::<_, crate::engine::EngineError>(overview::render(&shown, seq).into_string())
        })
        .await?;
    Ok(respond::html(&headers, &page))
}

async fn agents_page(State(e): App, Extension(pages): Shared, headers: HeaderMap) -> Page {
    let seq = e.last_event();
    let page = pages.get("agents", seq, || e.read(|s| agents::render(s, now_ms(), seq).into_string())).await?;
    Ok(respond::html(&headers, &page))
}

async fn history_page(State(e): App, headers: HeaderMap, Path(p): Path<String>) -> Page {
    let seq = e.last_event();
    let page = e.read(|s| history::render(s, &p, now_ms(), seq))?;
    let page = page.ok_or_else(|| PageError::NotFound(format!("no pipeline named `{p}`")))?;
    Ok(respond::html(&headers, &page.into_string()))
}

/// Medians of the past passing runs of a pipeline's jobs, from the last `durations.json` export
/// (the one `pw lint --history` reads): a file of one line per job, not a query over all history.
fn medians(e: &Engine, pipeline: &str) -> instance::Medians {
    let Some(file) = crate::durations::read(&e.state.root) else { return instance::Medians::new() };
    file.jobs
        .into_iter()
        .filter(|d| d.pipeline.eq_ignore_ascii_case(pipeline) && d.runs > 0)
        .map(|d| ((d.stage.to_ascii_lowercase(), d.job.to_ascii_lowercase()), d.median_seconds * 1000))
        .collect()
}

fn no_instance(p: &str, c: u32) -> PageError {
    PageError::NotFound(format!("no instance {p}/{c}"))
}

async fn instance_page(State(e): App, headers: HeaderMap, Path((p, c)): Path<(String, String)>) -> Page {
    let c = counter(&c)?;
    let medians = medians(&e, &p);
    let seq = e.last_event();
    let page = e.read(|s| s.instance(&p, c).map(|inst| instance::render(s, inst, &medians, now_ms(), seq)))?;
    Ok(respond::html(&headers, &page.ok_or_else(|| no_instance(&p, c))?.into_string()))
}

#[derive(Deserialize)]
struct AttemptQuery {
    #[serde(default)]
    attempt: Option<u32>,
}

/// A job's instance (a copy), stage index, job index and attempt index (the latest by default).
struct Found {
    inst: crate::state::Instance,
    stage: usize,
    job: usize,
    attempt: usize,
}

fn find_job(e: &Engine, path: &(String, String, String, String), n: Option<u32>) -> Result<Found, PageError> {
    let (p, c, s, j) = path;
    let c = counter(c)?;
    let found = e.read(|sched| {
        let inst = sched.instance(p, c)?;
        let stage = inst.stage_index(s)?;
        let job = inst.stages[stage].jobs.iter().position(|x| x.name.eq_ignore_ascii_case(j))?;
        let attempts = &inst.stages[stage].jobs[job].attempts;
        let attempt = match n {
            Some(n) => attempts.iter().position(|a| a.number == n)?,
            None => attempts.len().checked_sub(1)?,
        };
        Some(Found { inst: inst.clone(), stage, job, attempt })
    })?;
    let which = n.map(|n| format!(" attempt {n}")).unwrap_or_default();
    found.ok_or_else(|| PageError::NotFound(format!("no job {p}/{c}/{s}/{j}{which}")))
}

async fn job_page(
    State(e): App,
    headers: HeaderMap,
    Path(path): Path<(String, String, String, String)>,
    Query(q): Query<AttemptQuery>,
) -> Page {
    let seq = e.last_event();
    let f = find_job(&e, &path, q.attempt)?;
    let stage = &f.inst.stages[f.stage];
    let job = &stage.jobs[f.job];
    let attempt = &job.attempts[f.attempt];
    let (log, log_bytes) = e.store().log_tail(attempt.id, job::TAIL_BYTES as u64).unwrap_or_default();
    let page =
        job::JobPage { inst: &f.inst, stage: &stage.name, job, attempt, log: &log, log_bytes, now: now_ms(), seq };
    Ok(respond::html(&headers, &job::render(&page).into_string()))
}

async fn raw_log(
    State(e): App,
    Path(path): Path<(String, String, String, String)>,
    Query(q): Query<AttemptQuery>,
) -> Page {
    let f = find_job(&e, &path, q.attempt)?;
    let id = f.inst.stages[f.stage].jobs[f.job].attempts[f.attempt].id;
    let chunks = e.store().logs(id, None).unwrap_or_default();
    let text: String = chunks.into_iter().map(|(_, d)| d).collect();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

async fn vsm_page(State(e): App, Extension(pages): Shared, headers: HeaderMap) -> Page {
    let seq = e.last_event();
    let page = pages.get("vsm", seq, || e.read(|s| vsm::render(s, None, seq).into_string())).await?;
    Ok(respond::html(&headers, &page))
}

async fn vsm_instance_page(State(e): App, headers: HeaderMap, Path((p, c)): Path<(String, String)>) -> Page {
    let c = counter(&c)?;
    let seq = e.last_event();
    let page = e.read(|s| s.instance(&p, c).map(|inst| vsm::render(s, Some(inst), seq)))?;
    Ok(respond::html(&headers, &page.ok_or_else(|| no_instance(&p, c))?.into_string()))
}

async fn events(State(e): App, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<u64>().ok());
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    let query = sse::StreamQuery { after: num("after"), log: num("log"), log_after: num("log_after") };
    let after = resume.or(query.after);
    sse::stream(e, after, query).into_response()
}

async fn asset(headers: HeaderMap, Path(file): Path<String>) -> Response {
    let (ct, body) = match file.as_str() {
        "dashboard.css" => ("text/css; charset=utf-8", layout::CSS),
        "dashboard.js" => ("text/javascript; charset=utf-8", layout::JS),
        _ => return respond::not_found(&format!("no file `{file}`")),
    };
    respond::cached(&headers, ct, body.as_bytes().to_vec(), "no-cache")
}
