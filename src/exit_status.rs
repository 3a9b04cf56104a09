//! How a command ended; `main` turns it into the process exit code.

use std::process::ExitCode;

/// The end of every command. The libraries never decide it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// The command did what was asked and found nothing that fails (exit code 0).
    Success,
    /// The command ran and found what fails: errors, denied findings, unformatted files, a failed
    /// pipeline, a server that refused (exit code 1).
    Failure,
    /// The command could not run: a missing path, an unreadable file, a bad argument or
    /// configuration, no server (exit code 2).
    Error,
}

impl ExitStatus {
    /// `Failure` when `failed`, else `Success`.
    pub fn failure_if(failed: bool) -> ExitStatus {
        if failed {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
        }
    }
}
