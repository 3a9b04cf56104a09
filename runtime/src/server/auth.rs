//! Who may call: the agent token only registers agents, an agent's own calls carry the credential
//! registration gave it, an attempt's calls the job token of that attempt, and mutating client
//! calls the API token (`Authorization: Bearer`, the scheme in any case).

use super::errors::{number, ApiError, Res};
use crate::engine::Engine;
use crate::scheduler::same_secret;
use axum::http::{header, HeaderMap, StatusCode};

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Role {
    /// The agent token: registers agents, nothing else.
    Register,
    Api,
}

/// The token of the `Authorization: Bearer <token>` header (the scheme in any case).
pub(super) fn bearer(headers: &HeaderMap) -> Res<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "missing `Authorization: Bearer <token>` header".into()))
}

/// Checks the bearer token for one of the roles.
pub(super) fn authorize(engine: &Engine, headers: &HeaderMap, roles: &[Role]) -> Res<()> {
    let token = bearer(headers)?;
    let ok = roles.iter().any(|r| match r {
        Role::Register => same_secret(token, &engine.tokens.agent),
        Role::Api => same_secret(token, &engine.tokens.api),
    });
    if ok {
        Ok(())
    } else {
        let which = if roles.contains(&Role::Api) { "the API token" } else { "the agent token" };
        Err(ApiError(StatusCode::UNAUTHORIZED, format!("invalid token: this call needs {which}")))
    }
}

/// Checks that the bearer token is agent `id`'s credential.
pub(super) fn authorize_agent(engine: &Engine, headers: &HeaderMap, id: &str) -> Res<()> {
    Ok(engine.authorize_agent(id, bearer(headers)?)?)
}

/// Checks that the bearer token is the live job token of attempt `aid`; returns the attempt and
/// the agent running it.
pub(super) fn authorize_job(engine: &Engine, headers: &HeaderMap, aid: &str) -> Res<(u64, String)> {
    let aid = number(aid, "attempt id")?;
    let agent = engine.job_agent(aid, bearer(headers)?)?;
    Ok((aid, agent))
}
