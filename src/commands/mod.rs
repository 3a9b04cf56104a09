//! One module per command or family of commands.

pub mod client;
pub mod compile;
pub mod fmt;
pub mod lint;
pub mod run;
