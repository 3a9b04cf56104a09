//! Pipewright's language server. It has no analysis of its own: it runs the compiler (and the
//! linter) on the open documents and the workspace's `.pw` files, and turns the results into
//! diagnostics, hovers, completions, navigation, edits and highlighting.
//!
//! [`server`] speaks the protocol; [`state`] holds the documents and the latest analysis as a
//! [`state::Snapshot`]; each feature in [`features`] is a plain function of a snapshot and a
//! position, tested without JSON-RPC.

pub mod features;
pub mod lints;
pub mod position;
pub mod server;
pub mod settings;
pub mod state;
pub mod syntax;

use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp_server::{LspService, Server};

/// Serves the protocol over `input` and `output` until the client exits.
pub async fn serve(input: impl AsyncRead + Unpin, output: impl AsyncWrite) {
    let (service, socket) = LspService::new(server::Backend::new);
    Server::new(input, output, socket).serve(service).await;
}

/// Serves the protocol over standard input and output: `pw lsp`.
pub fn run_stdio() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(serve(tokio::io::stdin(), tokio::io::stdout()));
    Ok(())
}
