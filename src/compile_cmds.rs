//! Arguments and dispatch of the compiler's commands: `check`, `plan`, `graph`, `explain`.

use clap::{Args, ValueEnum};
use miette::{miette, IntoDiagnostic};
use pw_compiler::render::{self, Format};
use pw_compiler::{driver, Analysis, Workspace};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Exit codes: 0 clean, 1 problems found, 2 the command could not run.
pub(crate) const OK: u8 = 0;
pub(crate) const FOUND: u8 = 1;
pub(crate) const FAILED: u8 = 2;

#[derive(Args)]
pub(crate) struct CheckArgs {
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
pub(crate) struct PlanArgs {
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
pub(crate) enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Args)]
pub(crate) struct GraphArgs {
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
}

#[derive(Args)]
pub(crate) struct ExplainArgs {
    /// A diagnostic code, such as `E0401`.
    pub code: String,
}

/// Parses `--format`; `--help` and errors list the names.
pub(crate) fn format_parser() -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Format::NAMES)
        .try_map(|name: String| Format::from_name(&name).ok_or_else(|| format!("unknown format `{name}`")))
}

/// Whether to colour output on this stream: a terminal, and no `NO_COLOR`.
pub(crate) fn color(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Loads and analyses the workspace, or reports why it could not.
pub(crate) fn analyze(paths: &[PathBuf]) -> Result<(Workspace, Analysis), u8> {
    match driver::load(paths) {
        Ok(workspace) => {
            let analysis = pw_compiler::analyze(&workspace);
            Ok((workspace, analysis))
        }
        Err(e) => {
            let help = e.help();
            eprintln!("{:?}", miette!(help = help, "{e}"));
            Err(FAILED)
        }
    }
}

/// Prints diagnostics: the human format on stderr, the others on stdout.
pub(crate) fn report(format: Format, analysis: &Analysis, workspace: &Workspace) {
    let diagnostics = &analysis.diagnostics;
    match format {
        Format::Human => {
            if !diagnostics.is_empty() {
                eprint!("{}", render::render(format, diagnostics, workspace, color(&std::io::stderr())));
            }
        }
        _ => print!("{}", render::render(format, diagnostics, workspace, false)),
    }
}

pub(crate) fn check(args: CheckArgs) -> u8 {
    let (workspace, analysis) = match analyze(&args.paths) {
        Ok(x) => x,
        Err(code) => return code,
    };
    report(args.format, &analysis, &workspace);
    // The formats for people end with a line saying so when there is nothing to report; it goes
    // to standard error, so that standard output holds only findings.
    if matches!(args.format, Format::Human | Format::Concise) && analysis.diagnostics.is_empty() {
        let n = workspace.files.len();
        eprintln!("checked {n} file{}: no problems", if n == 1 { "" } else { "s" });
    }
    let code = if analysis.has_errors() { FOUND } else { OK };
    // The process ends here: handing the memory back to the system at exit is faster than
    // freeing a whole workspace's trees value by value.
    std::mem::forget((workspace, analysis));
    code
}

pub(crate) fn plan(args: PlanArgs) -> u8 {
    let (workspace, analysis) = match analyze(&args.paths) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let Some(plan) = analysis.plan(&workspace) else {
        report(args.format, &analysis, &workspace);
        return FOUND;
    };
    if args.format == Format::Human && !analysis.diagnostics.is_empty() {
        report(args.format, &analysis, &workspace);
    }
    let json = plan.to_json() + "\n";
    let written = match &args.output {
        Some(path) => std::fs::write(path, json).map_err(|e| {
            miette!(help = "check that the folder exists and can be written", "cannot write `{}`: {e}", path.display())
        }),
        None => std::io::stdout().write_all(json.as_bytes()).into_diagnostic(),
    };
    match written {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("{e:?}");
            FAILED
        }
    }
}

pub(crate) fn graph(args: GraphArgs) -> u8 {
    let (workspace, analysis) = match analyze(&args.paths) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if analysis.has_errors() {
        report(Format::Human, &analysis, &workspace);
        return FOUND;
    }
    let text = match args.format {
        GraphFormat::Dot => pw_compiler::graph::dot(&analysis.program),
        GraphFormat::Mermaid => pw_compiler::graph::mermaid(&analysis.program),
    };
    print!("{text}");
    OK
}

pub(crate) fn explain(args: ExplainArgs) -> u8 {
    match pw_compiler::codes::explain(&args.code) {
        Some(text) => {
            print!("{text}");
            OK
        }
        None => {
            let e = miette!(
                help = "codes look like `E0401` (checker) or `L0001` (linter); `pw check` prints them",
                "unknown code `{}`",
                args.code
            );
            eprintln!("{e:?}");
            FAILED
        }
    }
}
