//! `pw fmt`: rewrites `.pw` files in the canonical layout, or with `--check` shows what it would
//! change. Files with syntax errors are left alone.

use crate::commands::compile::{color, load_error};
use crate::{error, ExitStatus};
use clap::Args;
use miette::miette;
use pw_compiler::{driver, format, render};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct FmtArgs {
    /// Files, or folders to search for `*.pw` files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Change nothing: print a diff of each file that is not formatted, and exit 1 if any.
    #[arg(long)]
    pub check: bool,
}

/// `pw fmt`: rewrites files in the canonical layout; refuses files with syntax errors.
pub fn fmt(args: FmtArgs) -> ExitStatus {
    let workspace = match driver::load_pw(&args.paths) {
        Ok(workspace) => workspace,
        Err(e) => return error::fail(load_error(&e)),
    };
    let results = format::format_workspace(&workspace);
    let (mut changed, mut refused) = (0u64, 0);
    for (file, result) in workspace.files.iter().zip(results) {
        match result {
            Err(diagnostics) => {
                refused += 1;
                eprint!("{}", render::human::render_all(&diagnostics, &workspace, color(&std::io::stderr())));
                eprintln!("{}: not formatted: fix the syntax errors first", file.path);
            }
            Ok(formatted) if formatted == file.text => {}
            Ok(formatted) if args.check => {
                changed += 1;
                print!("{}", format::unified_diff(&file.path, &file.text, &formatted));
            }
            Ok(formatted) => match write(Path::new(&file.path), &formatted) {
                Ok(()) => {
                    changed += 1;
                    eprintln!("formatted {}", file.path);
                }
                Err(e) => {
                    return error::fail(miette!(
                        help = "check the file's permissions",
                        "cannot write `{}`: {e}",
                        file.path
                    ))
                }
            },
        }
    }
    if args.check && changed > 0 {
        let them = if changed == 1 { "it" } else { "them" };
        eprintln!("{} not formatted; run `pw fmt` on {them}", pw_compiler::words::plural(changed, "file"));
    }
    ExitStatus::failure_if(refused > 0 || (args.check && changed > 0))
}

/// Replaces the file through a temporary file beside it, so that a failure leaves it intact.
fn write(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.pw-fmt-{}", std::process::id()));
    std::fs::write(&temporary, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&temporary, meta.permissions()).ok();
    }
    std::fs::rename(&temporary, path).inspect_err(|_| {
        std::fs::remove_file(&temporary).ok();
    })
}
