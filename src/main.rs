//! The `pw` command: argument parsing and dispatch to the commands, whose exit status is the
//! process's exit code.

use clap::{Parser, Subcommand};
use pipewright::commands::{agent, client, compile, export, fmt, import, lint, lsp, run, server};
use std::process::ExitCode;

/// The compiler allocates many small values per file; mimalloc makes that a fifth of the cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "pw", version, about = "Pipewright: CI/CD pipelines as a checked language")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check `.pw` files for errors.
    Check(compile::CheckArgs),
    /// Print the execution plan as JSON.
    Plan(compile::PlanArgs),
    /// Draw the pipelines, their stages and the edges between them.
    Graph(compile::GraphArgs),
    /// Explain a diagnostic code, with an example.
    Explain(compile::ExplainArgs),
    /// Write the pipelines in another CI system's format (`--to gocd`).
    Export(export::ExportArgs),
    /// Check, then find costly pipeline modelling; `--fix` applies the fixes.
    Lint(lint::LintArgs),
    /// Write GoCD YAML config files as `.pw` files.
    Import(import::ImportArgs),
    /// Rewrite `.pw` files in the canonical layout; `--check` only reports.
    Fmt(fmt::FmtArgs),
    /// Run the language server over standard input/output, for editors.
    Lsp(lsp::LspArgs),
    /// Run pipelines here: an in-process server and local agents.
    Run(run::RunArgs),
    /// Serve pipelines to remote agents.
    Server(server::ServerArgs),
    /// Run jobs for a server.
    Agent(agent::AgentArgs),
    /// Start a pipeline on a server.
    Trigger(client::TriggerArgs),
    /// Show pipeline instances and agents.
    Status(client::StatusArgs),
    /// Let a stage waiting for manual approval start.
    Approve(client::ApproveArgs),
    /// Re-run a stage, one job, or the failed jobs.
    Rerun(client::RerunArgs),
    /// Stop a pipeline instance.
    Cancel(client::CancelArgs),
    /// Print a job's log.
    Logs(client::LogsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Check(args) => compile::check(args),
        Command::Plan(args) => compile::plan(args),
        Command::Graph(args) => compile::graph(args),
        Command::Explain(args) => compile::explain(args),
        Command::Export(args) => export::export(args),
        Command::Lint(args) => lint::lint(args),
        Command::Import(args) => import::import(args),
        Command::Fmt(args) => fmt::fmt(args),
        Command::Lsp(args) => lsp::lsp(args),
        Command::Run(args) => run::run(args),
        Command::Server(args) => server::server(args),
        Command::Agent(args) => agent::agent(args),
        Command::Trigger(args) => client::trigger(args),
        Command::Status(args) => client::status(args),
        Command::Approve(args) => client::approve(args),
        Command::Rerun(args) => client::rerun(args),
        Command::Cancel(args) => client::cancel(args),
        Command::Logs(args) => client::logs(args),
    };
    ExitCode::from(status)
}
