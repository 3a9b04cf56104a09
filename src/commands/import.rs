//! `pw import PATH... [-o DIR]`: GoCD YAML config files and `cruise-config.xml` to `.pw` (over `pw_compiler::gocd::import`).

use crate::commands::compile::{color, load_error};
use crate::{error, ExitStatus};
use clap::Args;
use miette::miette;
use pw_compiler::render::{self, Format};
use pw_compiler::{driver, gocd, Workspace};
use std::path::{Path, PathBuf};

/// Up to this many diagnostics are drawn with their source; more are listed one a line.
const MAX_DRAWN: usize = 100;

#[derive(Args)]
pub struct ImportArgs {
    /// GoCD files (`*.gocd.yaml`, `*.gocd.yml`, `cruise-config.xml`, or YAML with `pipelines:`),
    /// or folders to search.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Write one `.pw` file per GoCD file into this folder (created if needed; files of the same
    /// name are replaced). Without it, the `.pw` text goes to standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Exit status 0 when everything was imported, 1 when something could not be, 2 when the
/// command could not run.
pub fn import(args: ImportArgs) -> ExitStatus {
    let workspace = match load(&args.paths) {
        Ok(w) => w,
        Err(e) => return error::fail(e),
    };
    let imported = gocd::import(&workspace);
    let colored = color(&std::io::stderr());
    // A large repository draws thousands of warnings: one line each then.
    let count = imported.diagnostics.len() + imported.output_diagnostics.len();
    let format = if count <= MAX_DRAWN { Format::Human } else { Format::Concise };
    if !imported.diagnostics.is_empty() {
        eprint!("{}", render::render(format, &imported.diagnostics, &workspace, colored));
    }
    if !imported.output_diagnostics.is_empty() {
        eprint!("{}", render::render(format, &imported.output_diagnostics, &imported.output, colored));
    }
    if let Err(e) = write(&imported.output, args.output.as_deref()) {
        return error::fail(e);
    }
    let into = args.output.as_ref().map_or(String::new(), |d| format!(" into {}", d.display()));
    eprintln!(
        "imported {} from {}{into}{}",
        pw_compiler::words::plural(imported.pipelines_imported as u64, "pipeline"),
        pw_compiler::words::plural(workspace.files.len() as u64, "file"),
        if imported.failed > 0 { format!("; {} could not be imported", imported.failed) } else { String::new() },
    );
    ExitStatus::failure_if(!imported.complete())
}

/// The GoCD files the paths name: by name in folders; a file named directly when it is GoCD by
/// name or by content.
fn load(paths: &[PathBuf]) -> miette::Result<Workspace> {
    let failed = |e: driver::LoadError| load_error(&e);
    let files = driver::discover_sources(paths).map_err(failed)?;
    let mut workspace = Workspace::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|e| failed(driver::LoadError::Unreadable(file.clone(), e)))?;
        let text = driver::utf8(&file, bytes).map_err(failed)?;
        let shown = driver::display_path(&file);
        if gocd::is_gocd_path(&shown) || (paths.contains(&file) && gocd::looks_like_gocd(&text)) {
            workspace.add(shown, text);
        }
    }
    if workspace.files.is_empty() {
        return Err(miette!(
            help = "name `*.gocd.yaml` or `cruise-config.xml` files, or folders that hold some",
            "no GoCD files to import"
        ));
    }
    Ok(workspace)
}

fn write(output: &Workspace, dir: Option<&Path>) -> miette::Result<()> {
    let Some(dir) = dir else {
        for (i, file) in output.files.iter().enumerate() {
            if output.files.len() > 1 {
                println!("{}# {}", if i > 0 { "\n" } else { "" }, file.path);
            }
            print!("{}", file.text);
        }
        return Ok(());
    };
    for file in &output.files {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| miette!("cannot create `{}`: {e}", parent.display()))?;
        }
        std::fs::write(&path, &file.text).map_err(|e| miette!("cannot write `{}`: {e}", path.display()))?;
    }
    Ok(())
}
