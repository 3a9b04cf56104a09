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
    /// Where the explanations of the codes are published: a diagnostic's code links to
    /// `<docs_url>/rules/L0008` or `<docs_url>/reference/errors#e0301`.
    pub docs_url: String,
}

/// The published documentation, linked from diagnostics unless `docs_url` says otherwise.
pub(crate) const DOCS_URL: &str = "https://pipewright.dev/docs";

impl Default for Settings {
    fn default() -> Self {
        Settings { debounce_ms: 150, inlay_hints: true, lint: true, docs_url: DOCS_URL.to_string() }
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
        let mut settings = file.lsp.unwrap_or_default();
        settings.docs_url = settings.docs_url.trim().trim_end_matches('/').to_string();
        if settings.docs_url.is_empty() {
            settings.docs_url = DOCS_URL.to_string();
        }
        if settings.docs_url.parse::<tower_lsp_server::ls_types::Uri>().is_err() {
            return Err(format!("docs_url: `{}` is not an absolute URL such as `{DOCS_URL}`", settings.docs_url));
        }
        Ok(settings)
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
    fn the_docs_url_defaults_to_the_published_docs() {
        let own = Settings::parse("[lsp]\ndocs_url = \"https://ci.example.com/pw-docs/\"\n").expect("valid");
        assert_eq!(own.docs_url, "https://ci.example.com/pw-docs");
        assert_eq!(Settings::parse("[lsp]\ndocs_url = \"\"\n").expect("valid").docs_url, DOCS_URL);
        assert_eq!(Settings::parse("[lsp]\n").expect("valid").docs_url, DOCS_URL);
        let err = Settings::parse("[lsp]\ndocs_url = \"docs here\"\n").unwrap_err();
        assert!(err.contains("docs_url: `docs here` is not an absolute URL"), "{err}");
    }

    #[test]
    fn rejects_unknown_keys_with_a_reason() {
        let err = Settings::parse("[lsp]\ndebounce = 3\n").unwrap_err();
        assert!(err.contains("unknown field `debounce`"), "{err}");
    }
}
