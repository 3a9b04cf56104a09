//! `pw agent`: runs jobs for a server until stopped.

use crate::commands::client::ClientArgs;
use crate::commands::runtime::tokio_runtime;
use crate::{error, ExitStatus};
use clap::{Args, Subcommand};
use miette::miette;
use pw_runtime::agent::{self, AgentOptions};
use pw_runtime::client;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub action: Option<AgentAction>,
    /// The server's URL, e.g. http://ci.example.com:8150.
    #[arg(long, required = true)]
    pub server: Option<String>,
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
    /// Run tasks as this unprivileged user (when the agent runs as root).
    #[arg(long, value_name = "USER")]
    pub run_as: Option<String>,
}

#[derive(Subcommand)]
pub enum AgentAction {
    /// Let an agent waiting for approval (server started with `--require-approval`) take jobs.
    Approve(AgentApproveArgs),
}

#[derive(Args)]
pub struct AgentApproveArgs {
    /// The agent's id, as the agent and the server print it.
    pub id: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `pw agent`.
pub fn agent(opts: AgentArgs) -> ExitStatus {
    if let Some(AgentAction::Approve(a)) = opts.action {
        return crate::commands::client::approve_agent(a.id, a.client);
    }
    let server = match client::server_url(opts.server.as_deref().unwrap_or_default(), "") {
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
    let run_as = match opts.run_as.as_deref().map(pw_runtime::agent::User::for_run_as).transpose() {
        Ok(u) => u,
        Err(e) => return error::fail(miette!("{e}")),
    };
    let o = AgentOptions {
        server,
        run_as,
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
        match agent::run_until_signalled(o).await {
            Ok(()) => ExitStatus::Success,
            Err(e) => error::fail(miette!("{e}")),
        }
    })
}
