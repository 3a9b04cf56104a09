//! The server's settings, read from the `[lsp]` table of the workspace's `pipewright.toml`.

use serde::Deserialize;
use std::path::Path;

/// What `pipewright.toml` sets for the language server; every key is optional.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How long the server waits after the last edit before it checks the workspace again.
    pub debounce_ms: u64,
    /// Whether to show inlay hints (parallel jobs of a stage, instances of a fan-out).
    pub inlay_hints: bool,
    /// Whether to report the linter's findings beside the checker's.
    pub lint: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { debounce_ms: 150, inlay_hints: true, lint: true }
    }
}

#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    lsp: Option<Settings>,
}

impl Settings {
    /// The settings in a `pipewright.toml` text; other tables belong to other tools.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Ok(file.lsp.unwrap_or_default())
    }

    /// The settings of the first root that has a `pipewright.toml`; defaults without one.
    /// An unreadable or invalid file yields the defaults and the reason.
    pub fn load(roots: &[impl AsRef<Path>]) -> (Self, Option<String>) {
        for root in roots {
            let path = root.as_ref().join("pipewright.toml");
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            return match Self::parse(&text) {
                Ok(settings) => (settings, None),
                Err(e) => (Settings::default(), Some(format!("{}: {e}", path.display()))),
            };
        }
        (Settings::default(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lsp_table_and_ignores_the_others() {
        let s = Settings::parse("[lint]\nallow = [\"L0001\"]\n[lsp]\ndebounce_ms = 40\n");
        assert_eq!(s, Ok(Settings { debounce_ms: 40, ..Settings::default() }));
        assert_eq!(Settings::parse(""), Ok(Settings::default()));
    }

    #[test]
    fn rejects_unknown_keys_with_a_reason() {
        let err = Settings::parse("[lsp]\ndebounce = 3\n").unwrap_err();
        assert!(err.contains("unknown field `debounce`"), "{err}");
    }
}
