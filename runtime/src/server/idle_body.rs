//! A request body that stalls is cut off: each piece of it must arrive within the connection's
//! timeout, so a peer that sends its headers and then trickles or withholds the body cannot hold
//! a connection (and a handler) for ever. A steady upload of any length is not affected.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use std::time::Duration;

/// The middleware: wraps the request's body so that a read waiting longer than `idle` fails.
pub(crate) async fn limit(State(idle): State<Duration>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    next.run(Request::from_parts(parts, within(body, idle))).await
}

/// `body`, failing (and ending) when no piece of it arrives for `idle`.
fn within(body: Body, idle: Duration) -> Body {
    let pieces = body.into_data_stream();
    let timed = futures_util::stream::unfold(Some(pieces), move |pieces| async move {
        let mut pieces = pieces?;
        match tokio::time::timeout(idle, pieces.next()).await {
            Ok(Some(piece)) => Some((piece, Some(pieces))),
            Ok(None) => None,
            Err(_) => Some((Err(axum::Error::new(format!("no part of the body arrived for {idle:?}"))), None)),
        }
    });
    Body::from_stream(timed)
}
