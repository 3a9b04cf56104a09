//! One module per command, each thin over the library function that does the work.

pub mod import;
