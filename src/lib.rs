//! The `pw` commands over the libraries' APIs: the compiler, the language server and the runtime.

pub mod commands;
