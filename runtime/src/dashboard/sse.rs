//! The live stream of a tab: Server-Sent Events fed by the engine's event broadcast, each with
//! its sequence number as `id:`. A tab that reconnects sends `Last-Event-ID` and gets what it
//! missed from the store's event log first. A job page also asks for its log (`log=ATTEMPT`):
//! chunks come as `log` events, after the ones the page already has (`log_after=SEQ`).

use super::{ansi, job};
use crate::engine::{Engine, LogLine};
use crate::protocol::Event;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

#[derive(Deserialize, Default)]
pub(crate) struct StreamQuery {
    /// Resume after this event (the page's `data-seq`); `Last-Event-ID` wins when sent.
    #[serde(default)]
    pub(crate) after: Option<u64>,
    /// The attempt whose log chunks to send.
    #[serde(default)]
    pub(crate) log: Option<u64>,
    /// The last log chunk the page has.
    #[serde(default)]
    pub(crate) log_after: Option<u64>,
}

type Tx = mpsc::Sender<Result<SseEvent, Infallible>>;

/// The stream for one tab, starting after event `after` (after the newest when `None`).
pub(crate) fn stream(
    engine: Arc<Engine>,
    after: Option<u64>,
    q: StreamQuery,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let (tx, rx) = mpsc::channel(256);
    // Subscribed and placed before the answer goes out, so that the tab's position is the one
    // of its request, and nothing falls between the stored events and the broadcast ones.
    let subscribed = Subscribed {
        events: engine.subscribe(),
        logs: q.log.map(|_| engine.subscribe_logs()),
        last: after.unwrap_or_else(|| engine.last_event()),
    };
    tokio::spawn(feed(engine, subscribed, q, tx));
    let events = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// The SSE form of an event: `event: pw`, `id: SEQ`, the event as JSON.
pub(crate) fn sse_event(e: &Event) -> SseEvent {
    let data = serde_json::to_string(e).unwrap_or_default();
    SseEvent::default().event("pw").id(e.seq.to_string()).data(data)
}

/// A log chunk as HTML, cut where a task starts: the first part (with an empty title) goes on
/// the part the page shows last, each other one opens a part of its own.
pub(crate) fn log_event(seq: u64, data: &str) -> SseEvent {
    let parts: Vec<serde_json::Value> = job::sections(data)
        .iter()
        .map(|p| serde_json::json!({ "title": p.title, "html": ansi::to_html(p.text) }))
        .collect();
    let data = serde_json::json!({ "seq": seq, "parts": parts }).to_string();
    SseEvent::default().event("log").data(data)
}

/// Sends the recorded events after `last` (up to the newest); returns the last one sent, or
/// `None` when the tab is gone.
async fn catch_up(engine: &Engine, mut last: u64, tx: &Tx) -> Option<u64> {
    loop {
        let batch = engine.store().events_after(last, 1000).unwrap_or_default();
        if batch.is_empty() {
            return Some(last);
        }
        for e in &batch {
            tx.send(Ok(sse_event(e))).await.ok()?;
            last = e.seq;
        }
    }
}

async fn catch_up_log(engine: &Engine, attempt: u64, last: Option<u64>, tx: &Tx) -> Option<Option<u64>> {
    let chunks = engine.store().logs(attempt, last).unwrap_or_default();
    let mut last = last;
    for (seq, data) in chunks {
        tx.send(Ok(log_event(seq, &data))).await.ok()?;
        last = Some(seq);
    }
    Some(last)
}

/// A tab's receivers, taken when its request came, and the last event it has.
struct Subscribed {
    events: broadcast::Receiver<Event>,
    logs: Option<broadcast::Receiver<LogLine>>,
    last: u64,
}

async fn feed(engine: Arc<Engine>, s: Subscribed, q: StreamQuery, tx: Tx) {
    let Subscribed { mut events, mut logs, mut last } = s;
    let Some(l) = catch_up(&engine, last, &tx).await else { return };
    last = l;
    let mut last_log = q.log_after;
    if let Some(attempt) = q.log {
        let Some(l) = catch_up_log(&engine, attempt, last_log, &tx).await else { return };
        last_log = l;
    }
    loop {
        let log_next = async {
            match logs.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = events.recv() => match r {
                Ok(e) if e.seq <= last => {}
                // The next one: send it. A gap (events broadcast out of order, or missed): the
                // store has them all, since an event is broadcast after its commit.
                Ok(e) if e.seq == last + 1 => {
                    if tx.send(Ok(sse_event(&e))).await.is_err() { return }
                    last = e.seq;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    let Some(l) = catch_up(&engine, last, &tx).await else { return };
                    last = l;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            r = log_next => {
                let Some(attempt) = q.log else { return };
                match r {
                    Ok(line) if line.attempt != attempt || last_log.is_some_and(|s| line.seq <= s) => {}
                    // The next chunk: send it. A gap: the store has the chunks in between.
                    Ok(line) if line.seq == last_log.map_or(0, |s| s + 1) => {
                        if tx.send(Ok(log_event(line.seq, &line.data))).await.is_err() { return }
                        last_log = Some(line.seq);
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        let Some(l) = catch_up_log(&engine, attempt, last_log, &tx).await else { return };
                        last_log = l;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
            _ = tx.closed() => return,
        }
    }
}
