//! The server's state folder: the database, the artifact store, the tokens (created on first
//! start) and the file that tells client commands where the server listens.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct StateDir {
    pub root: PathBuf,
}

/// The two secrets of a server.
#[derive(Clone, Debug)]
pub struct Tokens {
    /// Carried by every agent call.
    pub agent: String,
    /// Carried by mutating client calls (trigger, approve, rerun, cancel).
    pub api: String,
}

/// 32 random bytes in hexadecimal.
pub(crate) fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(crate::artifacts::hex(&bytes))
}

/// The SHA-256 of a token in hexadecimal: what the server keeps of credentials and job tokens.
pub fn token_sha256(token: &str) -> String {
    use sha2::Digest;
    crate::artifacts::hex(&sha2::Sha256::digest(token.as_bytes()))
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateDir { root: root.into() }
    }

    /// The same folder as an absolute path without symbolic links (unchanged when it does not
    /// exist yet).
    pub fn canonical(&self) -> StateDir {
        StateDir { root: std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone()) }
    }

    /// Creates the folder and its tokens when missing; the database and `secrets/` are readable
    /// only by their owner.
    pub fn init(&self) -> Result<Tokens, String> {
        use std::os::unix::fs::PermissionsExt;
        for dir in [self.root.clone(), self.blobs(), self.root.join("secrets"), self.discover_dir()] {
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let private = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| format!("cannot make {} private: {e}", path.display()))
        };
        private(&self.root.join("secrets"), 0o700)?;
        // SQLite gives its WAL and shared-memory files the database's mode.
        if !self.database().exists() {
            write_private(&self.database(), "")?;
        }
        private(&self.database(), 0o600)?;
        Ok(Tokens { agent: self.token("agent-token")?, api: self.token("api-token")? })
    }

    fn token(&self, name: &str) -> Result<String, String> {
        let path = self.root.join(name);
        if let Ok(t) = std::fs::read_to_string(&path) {
            let t = t.trim().to_string();
            if !t.is_empty() {
                return Ok(t);
            }
        }
        let t = random_token().map_err(|e| format!("cannot make a token: {e}"))?;
        write_private(&path, &t)?;
        Ok(t)
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("pw.db")
    }

    pub fn blobs(&self) -> PathBuf {
        self.root.join("artifacts")
    }

    pub(crate) fn discover_dir(&self) -> PathBuf {
        self.root.join("discover")
    }

    pub fn agent_token_file(&self) -> PathBuf {
        self.root.join("agent-token")
    }

    pub fn api_token_file(&self) -> PathBuf {
        self.root.join("api-token")
    }

    pub fn url_file(&self) -> PathBuf {
        self.root.join("server-url")
    }

    pub fn agents_dir(&self) -> PathBuf {
        self.root.join("agents")
    }
}

/// Writes a file only its owner can read.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_made_once_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::new(dir.path().join("state"));
        let a = s.init().unwrap();
        let b = s.init().unwrap();
        assert_eq!(a.agent, b.agent);
        assert_eq!(a.api.len(), 64);
        assert_ne!(a.agent, a.api);
        let mode = std::fs::metadata(s.api_token_file()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(s.database()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the database holds logs: only its owner reads it");
        let mode = std::fs::metadata(s.root.join("secrets")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
