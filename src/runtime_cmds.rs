//! The runtime's commands: `pw run`, `pw server`, `pw agent` and the client verbs (`trigger`,
//! `status`, `approve`, `rerun`, `cancel`, `logs`). Argument parsing only; the work is in
//! `pw_runtime`.

use clap::{Args, Subcommand, ValueEnum};
use pw_runtime::cli;
use pw_runtime::client::{self, ClientOptions};
use std::path::PathBuf;

#[derive(Args)]
pub struct RunArgs {
    /// Files, or folders to search for `*.pw` files.
    #[arg(required_unless_present = "plan")]
    pub paths: Vec<PathBuf>,
    /// Run this pipeline (and what it triggers) instead of every pipeline without `after`.
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Number of local agents [default: the number of cores].
    #[arg(long)]
    pub agents: Option<usize>,
    /// State folder [default: `.pw` beside the workspace].
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Resources of the local agents, comma-separated [default: every resource the jobs name].
    #[arg(long, value_delimiter = ',')]
    pub resources: Option<Vec<String>>,
    /// Run a plan saved by `pw plan -o FILE` instead of `.pw` files.
    #[arg(long, conflicts_with = "paths")]
    pub plan: Option<PathBuf>,
}

#[derive(Args)]
pub struct ServerArgs {
    /// Files, or folders to search for `*.pw` files.
    #[arg(required_unless_present = "plan")]
    pub paths: Vec<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8150]; only loopback unless told otherwise.
    #[arg(long)]
    pub listen: Option<String>,
    /// State folder [default: `.pw` beside the workspace].
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Serve a plan saved by `pw plan -o FILE` instead of `.pw` files.
    #[arg(long, conflicts_with = "paths")]
    pub plan: Option<PathBuf>,
    /// Do not poll materials for new commits.
    #[arg(long)]
    pub no_poll: bool,
    /// How long an agent running a job may stay silent, in milliseconds [default: 30000].
    #[arg(long, hide = true)]
    pub lease_ms: Option<u64>,
    /// How often agents running a job renew their lease, in milliseconds [default: 10000].
    #[arg(long, hide = true)]
    pub heartbeat_ms: Option<u64>,
    /// New agents take no job until `pw agent approve ID`.
    #[arg(long)]
    pub require_approval: bool,
}

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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Args)]
pub struct ClientArgs {
    /// The server's URL [default: PW_SERVER, or the `server-url` file of the state folder].
    #[arg(long)]
    pub server: Option<String>,
    /// State folder to find the server and the API token in [default: .pw].
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// File holding the API token [default: PW_API_TOKEN, or `api-token` in the state folder].
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: OutputFormat,
}

impl ClientArgs {
    fn options(&self) -> ClientOptions {
        ClientOptions {
            server: self.server.clone(),
            state: self.state.clone(),
            token_file: self.token_file.clone(),
            json: self.format == OutputFormat::Json,
        }
    }
}

#[derive(Args)]
pub struct TriggerArgs {
    /// The pipeline to start.
    pub pipeline: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct StatusArgs {
    /// `pipeline` or `pipeline/counter` [default: everything].
    pub target: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct ApproveArgs {
    /// `pipeline/counter/stage`.
    pub target: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct RerunArgs {
    /// `pipeline/counter/stage`, or `pipeline/counter/stage/job` for one job.
    pub target: String,
    /// Re-run only the jobs that did not pass.
    #[arg(long)]
    pub failed: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct CancelArgs {
    /// `pipeline/counter`.
    pub target: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct LogsArgs {
    /// `pipeline/counter/stage/job`.
    pub target: String,
    /// Which attempt [default: the latest].
    #[arg(long)]
    pub attempt: Option<u32>,
    /// Keep printing until the job ends.
    #[arg(long, short)]
    pub follow: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn run(a: RunArgs) -> u8 {
    cli::run(cli::RunOptions {
        paths: a.paths,
        plan: a.plan,
        pipeline: a.pipeline,
        agents: a.agents,
        state: a.state,
        resources: a.resources,
    })
}

pub fn server(a: ServerArgs) -> u8 {
    cli::server(cli::ServerOptions {
        paths: a.paths,
        plan: a.plan,
        listen: a.listen,
        state: a.state,
        lease_ms: a.lease_ms,
        heartbeat_ms: a.heartbeat_ms,
        no_poll: a.no_poll,
        require_approval: a.require_approval,
    })
}

pub fn agent(a: AgentArgs) -> u8 {
    if let Some(AgentAction::Approve(x)) = a.action {
        return cli::client(|o| async move { client::approve_agent(&o, &x.id).await }, x.client.options());
    }
    cli::agent(cli::AgentCliOptions {
        server: a.server.unwrap_or_default(),
        resources: a.resources,
        workdir: a.workdir,
        token_file: a.token_file,
        name: a.name,
        kill_grace_ms: a.kill_grace_ms,
        run_as: a.run_as,
    })
}

pub fn trigger(a: TriggerArgs) -> u8 {
    cli::client(|o| async move { client::trigger(&o, &a.pipeline).await }, a.client.options())
}

pub fn status(a: StatusArgs) -> u8 {
    cli::client(|o| async move { client::status(&o, a.target.as_deref()).await }, a.client.options())
}

pub fn approve(a: ApproveArgs) -> u8 {
    cli::client(|o| async move { client::approve(&o, &a.target).await }, a.client.options())
}

pub fn rerun(a: RerunArgs) -> u8 {
    cli::client(|o| async move { client::rerun(&o, &a.target, a.failed).await }, a.client.options())
}

pub fn cancel(a: CancelArgs) -> u8 {
    cli::client(|o| async move { client::cancel(&o, &a.target).await }, a.client.options())
}

pub fn logs(a: LogsArgs) -> u8 {
    cli::client(|o| async move { client::logs(&o, &a.target, a.attempt, a.follow).await }, a.client.options())
}
