//! The answers to a bad request: every error is `{"error": "..."}` with its status, and a body,
//! a query or a number that cannot be read is a 400 saying why.

use crate::engine::EngineError;
use crate::protocol::ErrorBody;
use crate::scheduler::SchedError;
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

pub(super) struct ApiError(pub(super) StatusCode, pub(super) String);

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

pub(super) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

pub(super) type Res<T> = Result<T, ApiError>;

pub(super) fn parse<T: DeserializeOwned>(body: &Bytes) -> Res<T> {
    serde_json::from_slice(body).map_err(|e| bad(format!("malformed request body: {e}")))
}

pub(super) fn query<T: DeserializeOwned>(uri: &Uri) -> Res<T> {
    Query::<T>::try_from_uri(uri).map(|q| q.0).map_err(|e| bad(format!("malformed query: {}", e.body_text())))
}

pub(super) fn number<T: std::str::FromStr>(text: &str, what: &str) -> Res<T> {
    text.parse().map_err(|_| bad(format!("`{text}` is not a valid {what}")))
}
