//! Arguments and dispatch of `pw lint`; the work is in `pw_compiler::lint::command`.

use crate::compile_cmds::{color, format_parser};
use clap::{Args, ValueEnum};
use miette::{miette, LabeledSpan, NamedSource};
use pw_compiler::lint::command::{self, Failure, Options};
use pw_compiler::render::{self, Format};
use pw_compiler::Severity;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Deny {
    /// Warnings fail too, not only errors.
    Warnings,
    /// Every finding fails, notes included.
    Info,
}

#[derive(Args)]
pub(crate) struct LintArgs {
    /// Files, or folders to search for `*.pw` files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format [default: human when standard output is a terminal, concise otherwise].
    #[arg(long, value_parser = format_parser())]
    pub format: Option<Format>,
    /// Make findings of this level fail the command (exit status 1) as errors do.
    #[arg(long, value_enum)]
    pub deny: Option<Deny>,
    /// Apply the safe fixes, then lint the result.
    #[arg(long)]
    pub fix: bool,
    /// With `--fix`, apply the unsafe fixes too.
    #[arg(long, requires = "fix")]
    pub unsafe_fixes: bool,
    /// The runtime's state folder (or a durations file) whose recorded job durations feed the
    /// cost model.
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// The configuration file, instead of the `pipewright.toml` found above the paths.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub(crate) fn lint(args: LintArgs) -> u8 {
    let stderr_color = color(&std::io::stderr());
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() { Format::Human } else { Format::Concise });
    let opts = Options {
        paths: args.paths,
        fail_at: match args.deny {
            None => Severity::Error,
            Some(Deny::Warnings) => Severity::Warning,
            Some(Deny::Info) => Severity::Info,
        },
        fix: args.fix,
        unsafe_fixes: args.unsafe_fixes,
        history: args.history,
        config: args.config,
    };
    let report = match command::run(&opts) {
        Ok(r) => r,
        Err(failure) => {
            eprintln!("{:?}", failure_report(failure));
            return command::FAILED;
        }
    };
    for (path, code, message) in &report.fixed {
        eprintln!("fixed {path}: {code} {message}");
    }
    for (d, error) in &report.refused {
        let path = &report.workspace.file(d.file).path;
        let at = report.workspace.file(d.file).line_col(d.span.start);
        eprintln!("not fixed {path}:{}:{}: {} (the result would fail `pw check`: {error})", at.line, at.column, d.code);
    }
    let text = render::render(format, &report.diagnostics, &report.workspace, format == Format::Human && stderr_color);
    if format == Format::Human {
        eprint!("{text}");
        let (safe, unsafe_) = report.fixable();
        if report.diagnostics.is_empty() {
            let n = report.workspace.files.len();
            eprintln!("linted {n} file{}: no problems", if n == 1 { "" } else { "s" });
        } else if safe > 0 {
            eprintln!("{safe} with a safe fix: run `pw lint --fix`");
        }
        if unsafe_ > 0 {
            eprintln!("{unsafe_} with an unsafe fix: review, then run `pw lint --fix --unsafe-fixes`");
        }
    } else {
        print!("{text}");
        // As `pw check` does: the formats for people say so when there is nothing to report, on
        // standard error, so that standard output holds only findings.
        if format == Format::Concise && report.diagnostics.is_empty() {
            let n = report.workspace.files.len();
            eprintln!("linted {n} file{}: no problems", if n == 1 { "" } else { "s" });
        }
    }
    let exit = report.exit;
    // As in `pw check`: the process ends here, and the system takes the memory back faster than
    // freeing the trees value by value.
    std::mem::forget(report);
    exit
}

fn failure_report(failure: Failure) -> miette::Report {
    match failure {
        Failure::Config(e) => {
            let mut report = match &e.span {
                Some(span) => miette!(
                    labels = vec![LabeledSpan::at(span.clone(), "here")],
                    help = e.help.clone().unwrap_or_else(|| "see docs/LINTER.md for the settings".into()),
                    "invalid configuration: {}",
                    e.message
                ),
                // Not read at all: say which file.
                None if e.text.is_empty() => {
                    let why = e.message.strip_prefix("cannot read the configuration: ").unwrap_or(&e.message);
                    miette!(
                        help = "check the path given to --config; without it, `pipewright.toml` is looked for above the paths",
                        "cannot read the configuration `{}`: {why}",
                        e.file.display()
                    )
                }
                None => miette!("invalid configuration in `{}`: {}", e.file.display(), e.message),
            };
            if !e.text.is_empty() {
                report = report.with_source_code(NamedSource::new(e.file.display().to_string(), e.text.clone()));
            }
            report
        }
        Failure::Load(e) => {
            let help = e.help();
            miette!(help = help, "{e}")
        }
        Failure::History(e) => miette!(
            help = "give the runtime's state folder holding `durations.json`, or the file itself; docs/LINTER.md describes it",
            "{e}"
        ),
        Failure::Write(..) => miette!("{failure}"),
    }
}
