//! Arguments and dispatch of the editor tooling's commands: `fmt` and `lsp`.

use crate::compile_cmds::{color, FAILED, FOUND, OK};
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

#[derive(Args)]
pub struct LspArgs {
    /// Accepted for editors that pass it; the server always speaks over standard input/output.
    #[arg(long, hide = true)]
    pub stdio: bool,
}

/// `pw fmt`: rewrites files in the canonical layout; refuses files with syntax errors.
pub fn fmt(args: FmtArgs) -> u8 {
    let workspace = match driver::load(&args.paths) {
        Ok(workspace) => workspace,
        Err(e) => {
            eprintln!("{:?}", miette!(help = e.help(), "{e}"));
            return FAILED;
        }
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
                    eprintln!(
                        "{:?}",
                        miette!(help = "check the file's permissions", "cannot write `{}`: {e}", file.path)
                    );
                    return FAILED;
                }
            },
        }
    }
    if args.check && changed > 0 {
        let them = if changed == 1 { "it" } else { "them" };
        eprintln!("{} not formatted; run `pw fmt` on {them}", pw_compiler::words::plural(changed, "file"));
    }
    if refused > 0 || (args.check && changed > 0) {
        FOUND
    } else {
        OK
    }
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

/// `pw lsp`: the language server over standard input/output.
pub fn lsp(_args: LspArgs) -> u8 {
    match pw_lsp::run_stdio() {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("{:?}", miette!("the language server could not start: {e}"));
            FAILED
        }
    }
}
