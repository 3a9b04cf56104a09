//! The compiler's commands: `check`, `plan`, `graph`, `explain`; and what every command that
//! reads `.pw` files shares (`--format`, colour, loading and reporting).

use crate::{error, ExitStatus};
use clap::{Args, ValueEnum};
use miette::miette;
use pw_compiler::render::{self, Format};
use pw_compiler::{driver, Checked, Workspace};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Args)]
pub struct CheckArgs {
    /// Files, or folders to search for `*.pw` files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format of the diagnostics.
    ///
    /// `human` writes to standard error, the others to standard output. When the command cannot
    /// run (exit status 2: a missing path, an unreadable file), the error goes to standard error
    /// as text in every format, and standard output stays empty.
    #[arg(long, default_value = "human", value_parser = format_parser())]
    pub format: Format,
}

#[derive(Args)]
pub struct PlanArgs {
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Write the plan to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Output format of the diagnostics when the check fails.
    #[arg(long, default_value = "human", value_parser = format_parser())]
    pub format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Args)]
pub struct GraphArgs {
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
}

#[derive(Args)]
pub struct ExplainArgs {
    /// A diagnostic code, such as `E0401`.
    pub code: String,
}

/// Parses `--format`; `--help` and errors list the names.
pub fn format_parser() -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Format::NAMES)
        .try_map(|name: String| Format::from_name(&name).ok_or_else(|| format!("unknown format `{name}`")))
}

/// Whether to colour output on this stream: a terminal, and no `NO_COLOR`.
pub fn color(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Why the `.pw` files below the paths could not be loaded, and what to do.
pub fn load_error(e: &driver::LoadError) -> miette::Report {
    miette!(help = e.help(), "{e}")
}

/// Loads and checks the workspace, or reports why it could not.
pub fn analyze(paths: &[PathBuf]) -> Result<(Workspace, Checked), ExitStatus> {
    let workspace = driver::load(paths).map_err(|e| error::fail(load_error(&e)))?;
    let checked = pw_compiler::check_workspace(&workspace);
    Ok((workspace, checked))
}

/// Prints diagnostics: the human format on stderr, the others on stdout.
pub fn report(format: Format, analysis: &Checked, workspace: &Workspace) {
    report_diagnostics(format, &analysis.diagnostics, workspace);
}

/// Prints diagnostics: the human format on stderr (nothing when there are none), the others on
/// stdout.
pub fn report_diagnostics(format: Format, diagnostics: &[pw_compiler::Diagnostic], workspace: &Workspace) {
    match format {
        Format::Human => {
            if !diagnostics.is_empty() {
                eprint!("{}", render::render(format, diagnostics, workspace, color(&std::io::stderr())));
            }
        }
        _ => print!("{}", render::render(format, diagnostics, workspace, false)),
    }
}

pub fn check(args: CheckArgs) -> ExitStatus {
    let (workspace, analysis) = match analyze(&args.paths) {
        Ok(x) => x,
        Err(status) => return status,
    };
    report(args.format, &analysis, &workspace);
    // The formats for people end with a line saying so when there is nothing to report; it goes
    // to standard error, so that standard output holds only findings.
    if matches!(args.format, Format::Human | Format::Concise) && analysis.diagnostics.is_empty() {
        let n = workspace.files.len();
        eprintln!("checked {n} file{}: no problems", if n == 1 { "" } else { "s" });
    }
    let status = ExitStatus::failure_if(analysis.has_errors());
    // The process ends here: handing the memory back to the system at exit is faster than
    // freeing a whole workspace's program value by value.
    std::mem::forget((workspace, analysis));
    status
}

pub fn plan(args: PlanArgs) -> ExitStatus {
    let (workspace, analysis) = match analyze(&args.paths) {
        Ok(x) => x,
        Err(status) => return status,
    };
    let Some(plan) = analysis.plan(&workspace) else {
        report(args.format, &analysis, &workspace);
        return ExitStatus::Failure;
    };
    if args.format == Format::Human && !analysis.diagnostics.is_empty() {
        report(args.format, &analysis, &workspace);
    }
    let json = plan.to_json() + "\n";
    let written = match &args.output {
        Some(path) => std::fs::write(path, json).map_err(|e| {
            miette!(help = "check that the folder exists and can be written", "cannot write `{}`: {e}", path.display())
        }),
        None => std::io::stdout().write_all(json.as_bytes()).map_err(|e| miette!("cannot write the plan: {e}")),
    };
    match written {
        Ok(()) => ExitStatus::Success,
        Err(e) => error::fail(e),
    }
}

pub fn graph(args: GraphArgs) -> ExitStatus {
    let (workspace, analysis) = match analyze(&args.paths) {
        Ok(x) => x,
        Err(status) => return status,
    };
    if analysis.has_errors() {
        report(Format::Human, &analysis, &workspace);
        return ExitStatus::Failure;
    }
    let text = match args.format {
        GraphFormat::Dot => pw_compiler::graph::dot(&analysis.program),
        GraphFormat::Mermaid => pw_compiler::graph::mermaid(&analysis.program),
    };
    print!("{text}");
    ExitStatus::Success
}

pub fn explain(args: ExplainArgs) -> ExitStatus {
    match pw_compiler::codes::explain(&args.code) {
        Some(text) => {
            print!("{text}");
            ExitStatus::Success
        }
        None => error::fail(miette!(
            help = "codes look like `E0401` (checker) or `L0001` (linter); `pw check` prints them",
            "unknown code `{}`",
            args.code
        )),
    }
}
