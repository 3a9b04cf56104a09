//! `pw agent`: runs jobs for a server until stopped.

use crate::commands::runtime::{shutdown_signal, tokio_runtime};
use crate::{error, ExitStatus};
use clap::Args;
use miette::miette;
use pw_runtime::agent::{self, AgentOptions};
use pw_runtime::client;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct AgentArgs {
    /// The server's URL, e.g. http://ci.example.com:8150.
    #[arg(long)]
    pub server: String,
    /// Resources this agent offers, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub resources: Vec<String>,
    /// Work folder (workspaces, git caches, the agent's id) [default: .pw-agent].
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// File holding the server's agent token [default: the PW_AGENT_TOKEN variable].
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Name shown in status and logs [default: host name and process id].
    #[arg(long)]
    pub name: Option<String>,
    /// Between SIGTERM and SIGKILL when a task is stopped, in milliseconds [default: 5000].
    #[arg(long, hide = true)]
    pub kill_grace_ms: Option<u64>,
}

/// `pw agent`.
pub fn agent(opts: AgentArgs) -> ExitStatus {
    let server = match client::server_url(&opts.server, "") {
        Ok(s) => s,
        Err(e) => return error::fail(miette!("{e}")),
    };
    let token = match &opts.token_file {
        Some(f) => match std::fs::read_to_string(f) {
            Ok(t) => t.trim().to_string(),
            Err(e) => return error::fail(miette!("cannot read the token file `{}`: {e}", f.display())),
        },
        None => match std::env::var("PW_AGENT_TOKEN") {
            Ok(t) => t,
            Err(_) => {
                return error::fail(miette!(
                "no agent token: pass --token-file (the server's state folder has `agent-token`) or set PW_AGENT_TOKEN"
            ))
            }
        },
    };
    let name = opts.name.clone().unwrap_or_else(|| {
        let host =
            std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_string()).unwrap_or_else(|_| "agent".into());
        format!("{host}-{}", std::process::id())
    });
    let o = AgentOptions {
        server,
        token,
        name,
        resources: opts.resources.clone(),
        workdir: opts.workdir.clone().unwrap_or_else(|| PathBuf::from(".pw-agent")),
        kill_grace: Duration::from_millis(opts.kill_grace_ms.unwrap_or(5000)),
        announce: true,
    };
    let rt = match tokio_runtime(tokio::runtime::Builder::new_multi_thread().worker_threads(2)) {
        Ok(rt) => rt,
        Err(status) => return status,
    };
    rt.block_on(async move {
        let (_stop, rx) = tokio::sync::watch::channel(false);
        tokio::select! {
            r = agent::run(o, rx) => match r {
                Ok(()) => ExitStatus::Success,
                Err(e) => error::fail(miette!("{e}")),
            },
            _ = shutdown_signal() => ExitStatus::Success,
        }
    })
}
