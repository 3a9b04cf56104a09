//! The `pw` command: argument parsing and dispatch to the crates that do the work.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The compiler allocates many small values per file; mimalloc makes that a fifth of the cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod commands;
mod compile_cmds;
mod lint_cmds;
mod lsp_cmds;
mod runtime_cmds;

#[derive(Parser)]
#[command(name = "pw", version, about = "Pipewright: CI/CD pipelines as a checked language")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check `.pw` files for errors.
    Check(compile_cmds::CheckArgs),
    /// Print the execution plan as JSON.
    Plan(compile_cmds::PlanArgs),
    /// Draw the pipelines, their stages and the edges between them.
    Graph(compile_cmds::GraphArgs),
    /// Explain a diagnostic code, with an example.
    Explain(compile_cmds::ExplainArgs),
    /// Write the pipelines in another CI system's format (`--to gocd`).
    Export(commands::export::ExportArgs),
    /// Check, then find costly pipeline modelling; `--fix` applies the fixes.
    Lint(lint_cmds::LintArgs),
    /// Rewrite `.pw` files in the canonical layout; `--check` only reports.
    Fmt(lsp_cmds::FmtArgs),
    /// Run the language server over standard input/output, for editors.
    Lsp(lsp_cmds::LspArgs),
    /// Run pipelines here: an in-process server and local agents.
    Run(runtime_cmds::RunArgs),
    /// Serve pipelines to remote agents.
    Server(runtime_cmds::ServerArgs),
    /// Run jobs for a server.
    Agent(runtime_cmds::AgentArgs),
    /// Start a pipeline on a server.
    Trigger(runtime_cmds::TriggerArgs),
    /// Show pipeline instances and agents.
    Status(runtime_cmds::StatusArgs),
    /// Let a stage waiting for manual approval start.
    Approve(runtime_cmds::ApproveArgs),
    /// Re-run a stage, one job, or the failed jobs.
    Rerun(runtime_cmds::RerunArgs),
    /// Stop a pipeline instance.
    Cancel(runtime_cmds::CancelArgs),
    /// Print a job's log.
    Logs(runtime_cmds::LogsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => compile_cmds::check(args),
        Command::Plan(args) => compile_cmds::plan(args),
        Command::Graph(args) => compile_cmds::graph(args),
        Command::Explain(args) => compile_cmds::explain(args),
        Command::Export(args) => commands::export::export(args),
        Command::Lint(args) => lint_cmds::lint(args),
        Command::Fmt(args) => lsp_cmds::fmt(args),
        Command::Lsp(args) => lsp_cmds::lsp(args),
        Command::Run(args) => runtime_cmds::run(args),
        Command::Server(args) => runtime_cmds::server(args),
        Command::Agent(args) => runtime_cmds::agent(args),
        Command::Trigger(args) => runtime_cmds::trigger(args),
        Command::Status(args) => runtime_cmds::status(args),
        Command::Approve(args) => runtime_cmds::approve(args),
        Command::Rerun(args) => runtime_cmds::rerun(args),
        Command::Cancel(args) => runtime_cmds::cancel(args),
        Command::Logs(args) => runtime_cmds::logs(args),
    };
    ExitCode::from(code)
}
