//! `pw lsp`: the language server over standard input/output, for editors.

use crate::{error, ExitStatus};
use clap::Args;
use miette::miette;

#[derive(Args)]
pub struct LspArgs {
    /// Accepted for editors that pass it; the server always speaks over standard input/output.
    #[arg(long, hide = true)]
    pub stdio: bool,
}

/// `pw lsp`.
pub fn lsp(_args: LspArgs) -> ExitStatus {
    match pw_lsp::run_stdio() {
        Ok(()) => ExitStatus::Success,
        Err(e) => error::fail(miette!("the language server could not start: {e}")),
    }
}
