//! The agent's id and credential, kept in its work folder so that a restarted agent registers as
//! the same agent (and so tells the server that it holds no job any more).

use crate::protocol::RegisterResponse;
use crate::statedir;
use std::path::{Path, PathBuf};

/// The file keeping the agent's id and credential across restarts (only its user can read it).
fn identity_file(workdir: &Path) -> PathBuf {
    workdir.join("agent-credential")
}

/// The id and credential of an earlier registration, if kept.
pub(super) fn saved_identity(workdir: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(identity_file(workdir)).ok()?;
    let (id, credential) = text.trim().split_once(' ')?;
    Some((id.to_string(), credential.to_string()))
}

pub(super) fn save_identity(workdir: &Path, r: &RegisterResponse) -> Result<(), String> {
    statedir::write_private(&identity_file(workdir), &format!("{} {}\n", r.agent_id, r.credential))
}

pub(super) fn forget_identity(workdir: &Path) {
    let _ = std::fs::remove_file(identity_file(workdir));
}
