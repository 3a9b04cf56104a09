//! The dashboard over real HTTP: its live stream (ids are event numbers, `Last-Event-ID`
//! resumes with nothing missed), its pages' ETag, 304 and gzip, and its routes beside the API's.

mod common;

use common::*;
use pw_runtime::state::Cause;
use std::time::Duration;

fn one_job_plan() -> pw_compiler::plan::Plan {
    plan(Vec::new(), vec![pipeline("p", vec![stage("s", vec![job("j", vec![task("true")])])])])
}

async fn trigger(h: &Harness) {
    h.engine.trigger("p", Cause::Manual { by: "test".into() }).await.expect("trigger");
}

/// Reads the stream until `n` events came: their `id:` and the `seq` of their data.
async fn read_events(resp: &mut reqwest::Response, n: usize) -> Vec<(u64, u64)> {
    let mut text = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while out.len() < n {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk()).await.expect("events in time").expect("stream");
        text.push_str(&String::from_utf8_lossy(&chunk.expect("stream open")));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
            if field("event:").as_deref() != Some("pw") {
                continue;
            }
            let id: u64 = field("id:").expect("id").parse().expect("numeric id");
            let data: serde_json::Value = serde_json::from_str(&field("data:").expect("data")).expect("json");
            out.push((id, data["seq"].as_u64().expect("seq")));
        }
    }
    out
}

async fn stream(h: &Harness, query: &str, last_event_id: Option<u64>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("{}/dashboard/events{query}", h.url));
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let resp = req.send().await.expect("stream");
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    resp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_ids_are_sequence_numbers_and_last_event_id_resumes_without_a_gap() {
    let h = Harness::start(one_job_plan(), &[]).await;
    trigger(&h).await;
    let mut all = stream(&h, "?after=0", None).await;
    let first = read_events(&mut all, 3).await;
    assert!(first.iter().all(|(id, seq)| id == seq), "{first:?}");
    assert_eq!(first.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3]);
    // A tab that saw event 2 reconnects: the header wins over the page's `after`.
    let mut resumed = stream(&h, "?after=0", Some(2)).await;
    assert_eq!(read_events(&mut resumed, 1).await[0].0, 3);
    // Events that happen while both are connected reach both, in order and without a gap.
    trigger(&h).await;
    let last = h.engine.status(None).unwrap();
    assert_eq!(last.instances.len(), 2);
    let more = read_events(&mut resumed, 3).await;
    let ids: Vec<u64> = more.iter().map(|e| e.0).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    // A new tab without a position starts at the newest event.
    let mut fresh = stream(&h, "", None).await;
    trigger(&h).await;
    let next = read_events(&mut fresh, 1).await[0].0;
    assert!(next > *ids.last().unwrap(), "{next} after {ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_an_etag_answer_304_and_are_gzipped() {
    let h = Harness::start(one_job_plan(), &[]).await;
    trigger(&h).await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{}{path}", h.url));
    let page = get("/").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    let tag = page.headers()["etag"].to_str().unwrap().to_string();
    let body = page.text().await.unwrap();
    assert!(body.contains("data-stage=\"p/1/s\""), "{body}");
    let again = get("/").header("If-None-Match", &tag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let zipped = get("/").header("Accept-Encoding", "gzip").send().await.unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    for path in ["/pipelines/p", "/pipelines/p/1", "/pipelines/p/1/s/j", "/agents", "/vsm", "/vsm/p/1"] {
        let r = get(path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let missing = get("/pipelines/p/9").send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("no instance p/9"));
    // The API keeps its paths and its JSON errors.
    let api = get("/api/v1/nothing").send().await.unwrap();
    assert_eq!(api.status(), 404);
    assert!(api.text().await.unwrap().starts_with("{\"error\""));
    let status = get("/api/v1/status").send().await.unwrap();
    assert_eq!(status.status(), 200);
    let css = get("/dashboard/static/dashboard.css").send().await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
}

/// The `log` events of a stream until `n` came: each one's seq and text (its parts' HTML).
async fn read_logs(resp: &mut reqwest::Response, n: usize) -> Vec<(u64, String)> {
    let mut text = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while out.len() < n {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk()).await.expect("log in time").expect("stream");
        text.push_str(&String::from_utf8_lossy(&chunk.expect("stream open")));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
            if field("event:").as_deref() != Some("log") {
                continue;
            }
            let data: serde_json::Value = serde_json::from_str(&field("data:").expect("data")).expect("json");
            let html: String =
                data["parts"].as_array().expect("parts").iter().filter_map(|p| p["html"].as_str()).collect();
            out.push((data["seq"].as_u64().expect("seq"), html));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_pages_stream_sends_its_log_after_the_chunks_the_page_has() {
    // The agent sends what a job wrote once a second: the pause makes two chunks at least.
    let j = job("j", vec![task("echo '<b>one</b>'; sleep 1.5"), task("echo two")]);
    let h = Harness::start(plan(Vec::new(), vec![pipeline("p", vec![stage("s", vec![j])])]), &[("a1", &[])]).await;
    trigger(&h).await;
    h.finished("p", 1).await;
    h.log_containing("p", 1, "s", "j", "two").await;
    let page = reqwest::get(format!("{}/pipelines/p/1/s/j", h.url)).await.unwrap().text().await.unwrap();
    let attempt: u64 = page
        .split("data-attempt=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|id| id.parse().ok())
        .expect("the page names its attempt");
    let chunks = h.engine.logs("p", 1, "s", "j", None, None).unwrap().chunks;
    assert!(chunks.len() >= 2, "{chunks:?}");
    let mut all = stream(&h, &format!("?log={attempt}"), None).await;
    let got = read_logs(&mut all, chunks.len()).await;
    assert_eq!(got.iter().map(|c| c.0).collect::<Vec<_>>(), chunks.iter().map(|c| c.seq).collect::<Vec<_>>());
    let text: String = got.iter().map(|c| c.1.as_str()).collect();
    assert!(text.contains("&lt;b&gt;one&lt;/b&gt;") && text.contains("two"), "{text}");
    let mut rest = stream(&h, &format!("?log={attempt}&log_after={}", chunks[0].seq), None).await;
    assert_eq!(read_logs(&mut rest, 1).await[0].0, chunks[1].seq, "the page's chunks are not sent again");
}
