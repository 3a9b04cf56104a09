//! Values of `secret("name")`: looked up on the server when a job is assigned, first in the
//! environment variable `PW_SECRET_<NAME>`, then in the file `<state>/secrets/<name>`; masked in
//! the job's output by [`crate::masker`].

use std::path::{Path, PathBuf};

/// The environment variable holding secret `name`: upper case, other characters as `_`.
pub fn env_var(name: &str) -> String {
    let tail: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("PW_SECRET_{tail}")
}

/// Where secrets are looked up.
#[derive(Clone, Debug)]
pub struct Secrets {
    dir: PathBuf,
}

impl Secrets {
    pub fn new(state: &Path) -> Self {
        Secrets { dir: state.join("secrets") }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        if let Ok(v) = std::env::var(env_var(name)) {
            return Some(v);
        }
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return None;
        }
        let text = std::fs::read_to_string(self.dir.join(name)).ok()?;
        Some(text.strip_suffix('\n').unwrap_or(&text).to_string())
    }
}

pub(crate) fn missing_message(name: &str) -> String {
    format!(
        "secret `{name}` is not set: set the environment variable {} on the server, or write it to the file secrets/{name} in the server's state folder",
        env_var(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_variables() {
        assert_eq!(env_var("deploy-token"), "PW_SECRET_DEPLOY_TOKEN");
    }

    #[test]
    fn reads_files_and_refuses_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/tok-file-test"), "s3cret\n").unwrap();
        let s = Secrets::new(dir.path());
        assert_eq!(s.get("tok-file-test").as_deref(), Some("s3cret"));
        assert_eq!(s.get("../secrets/tok-file-test"), None);
        assert_eq!(s.get("absent-secret-name"), None);
    }
}
