//! The `pw` commands over the libraries' APIs (the compiler, the language server, the runtime).
//! Each command ends in an [`ExitStatus`]; its own errors are drawn by [`error`].

pub mod commands;
pub mod error;
mod exit_status;

pub use exit_status::ExitStatus;
