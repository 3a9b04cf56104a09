//! Pipewright's runtime: a server that schedules and records pipeline instances, and agents that
//! long-poll it for jobs, run their tasks, stream logs and publish artifacts. It takes a plan
//! ([`load`] reads one saved as JSON): of the compiler it uses only `pw_compiler::runtime_api`.
//!
//! Its modules, with `state` and `protocol` at the bottom (the test `tests/boundary.rs` fails when
//! their dependencies make a cycle or break these layers):
//! - [`state`]: the recorded instances and agents; it uses no other module;
//! - [`protocol`]: the HTTP bodies between server, agents and clients, built on the state;
//! - [`scheduler`]: the pure state machine (agents, attempts, stages, triggers, people's
//!   operations, discovered fan-outs), one file per concern; it knows no store and does no I/O;
//! - [`store`]: SQLite persistence with one writer; [`durations`]: the `durations.json` export of
//!   job and task durations for `pw lint --history`, read from the store;
//! - [`engine`]: the scheduler behind a lock, what it changed saved in the store, its effects
//!   carried out, and the requests waiting for work, a stop or events woken;
//! - [`server`]: the HTTP routes over the engine, by caller (agents, clients, artifacts);
//!   [`dashboard`]: the web pages served beside them, kept live by Server-Sent Events;
//! - [`agent`]: the agent's loop and job runner, written against a `Peer` (its server), and its
//!   tasks' processes and environment; it knows the server only through the protocol;
//! - used on both sides: [`artifacts`], [`git`], [`masker`], [`secrets`], [`statedir`];
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
