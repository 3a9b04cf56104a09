//! One module per command or family of commands, each over the libraries' APIs and ending in
//! an [`ExitStatus`](crate::ExitStatus).

pub mod agent;
pub mod client;
pub mod compile;
pub mod export;
pub mod fmt;
pub mod import;
pub mod lint;
pub mod lsp;
pub mod run;
pub mod runtime;
pub mod server;
