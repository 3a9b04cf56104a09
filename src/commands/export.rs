//! `pw export --to gocd`: the checked workspace as another CI system's configuration files; the
//! work is in `pw_compiler::export`.

use crate::commands::compile::{analyze, format_parser, report, report_diagnostics};
use crate::{error, ExitStatus};
use clap::{Args, ValueEnum};
use miette::miette;
use pw_compiler::export::{gocd, Export};
use pw_compiler::render::Format;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, ValueEnum)]
pub enum Target {
    /// GoCD's YAML config-repository format (`*.gocd.yaml`, `format_version: 10`).
    Gocd,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The format to write.
    #[arg(long = "to", value_enum)]
    pub to: Target,
    /// Files, or folders to search for `*.pw` files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The folder to write into (created if missing); one `PIPELINE.gocd.yaml` a pipeline.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// The id of the GoCD secret config that `secret("x")` is looked up in:
    /// `{{SECRET:[ID][x]}}`.
    #[arg(long, value_name = "ID", default_value = gocd::DEFAULT_SECRET_CONFIG)]
    pub secret_config: String,
    /// Output format of the diagnostics.
    #[arg(long, default_value = "human", value_parser = format_parser())]
    pub format: Format,
}

/// Exit codes: 0 all exported, 1 the check failed or something could not be exported, 2 the
/// command could not run.
pub fn export(args: ExportArgs) -> ExitStatus {
    if !gocd::is_valid_config_id(&args.secret_config) {
        let help = "a GoCD id holds letters, digits, `_`, `-` and `.`";
        return error::fail(miette!(help = help, "`{}` is not a GoCD secret config id", args.secret_config));
    }
    let (workspace, analysis) = match analyze(&args.paths) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if analysis.has_errors() {
        report(args.format, &analysis, &workspace);
        return ExitStatus::Failure;
    }
    let options = gocd::Options { secret_config: args.secret_config };
    let exported = match args.to {
        Target::Gocd => gocd::export(&workspace, &analysis.program, &options),
    };
    if let Err(e) = write_files(&args.output, &exported) {
        return error::fail(e);
    }
    let mut diagnostics = analysis.diagnostics.clone();
    diagnostics.extend(exported.diagnostics.iter().cloned());
    report_diagnostics(args.format, &diagnostics, &workspace);
    let n = exported.files.len();
    eprintln!("exported {} to {}", pw_compiler::words::plural(n as u64, "pipeline"), args.output.display());
    ExitStatus::failure_if(exported.has_errors())
}

fn write_files(dir: &Path, exported: &Export) -> miette::Result<()> {
    let cannot = |path: &Path, e: std::io::Error| {
        miette!(help = "check that the folder can be written", "cannot write `{}`: {e}", path.display())
    };
    std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
    for file in &exported.files {
        let path = dir.join(&file.path);
        std::fs::write(&path, &file.text).map_err(|e| cannot(&path, e))?;
    }
    Ok(())
}
