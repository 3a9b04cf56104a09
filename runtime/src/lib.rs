//! Pipewright's runtime: a server that schedules and records pipeline instances, and agents that
//! long-poll it for jobs, run their tasks, stream logs and publish artifacts. It takes a plan
//! ([`load`] reads one saved as JSON): of the compiler it uses only `pw_compiler::runtime_api`.
//!
//! - [`scheduler`]: the pure state machine (stages, jobs, attempts, agents);
//! - [`state`]: the recorded instances; [`store`]: SQLite persistence with one writer;
//! - [`durations`]: the `durations.json` export of job and task durations for `pw lint --history`;
//! - [`engine`]: the scheduler behind a lock, wired to the store and to waiting requests;
//! - [`server`]: the HTTP routes (a stalled request body is cut off by `idle_body`);
//!   [`protocol`]: their request and response bodies;
//! - [`dashboard`]: the web pages served beside the API, kept live by Server-Sent Events;
//! - [`agent`] (with its tasks' processes and environment), [`masker`], [`git`], [`artifacts`]: the
//!   agent side;
//! - [`client`], [`progress`]: the HTTP client of the `pw` commands, and their progress lines.

pub mod agent;
pub mod artifacts;
pub mod client;
pub mod dashboard;
pub mod durations;
pub mod engine;
pub mod git;
pub mod load;
pub mod masker;
pub mod progress;
pub mod protocol;
pub mod scheduler;
pub mod secrets;
pub mod server;
pub mod state;
pub mod statedir;
pub mod store;

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}
