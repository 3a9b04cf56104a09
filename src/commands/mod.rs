//! One module a command: arguments and dispatch over the libraries, which do the work.

pub mod export;
