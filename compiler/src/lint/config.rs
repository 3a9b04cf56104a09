//! The linter's settings: the `[lint]` table of a `pipewright.toml` (which file applies to which
//! `.pw` file is [`super::per_file`]'s). An invalid setting is an error with its location, never ignored.
//!
//! ```toml
//! [lint]
//! select = ["all"]                      # codes, names or categories
//! ignore = ["unfetched-artifact"]
//!
//! [lint.severity]
//! missing-timeout = "error"             # error, warning, info or off
//!
//! [lint.per-path-ignores]
//! "legacy/**" = ["missing-timeout"]
//!
//! [lint.cost]
//! transition = "10s"
//! job-setup = "5s"
//! not-worth-splitting = "1m"
//!
//! [lint.long-stage-chain]
//! max-stages = 6
//!
//! [lint.effects]                        # see `effects.rs`
//! effects = ["promote"]
//! ```

use super::cost::CostModel;
use super::effects::ExtraWords;
use super::glob;
use super::registry::{self, Category, Rule};
use crate::diagnostic::Severity;
use crate::parser::parse_duration;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The configuration file's name.
pub const FILE_NAME: &str = "pipewright.toml";

/// The settings of one lint run.
#[derive(Clone, Debug)]
pub struct LintConfig {
    /// Codes of the enabled rules.
    enabled: HashSet<&'static str>,
    severities: HashMap<&'static str, Severity>,
    per_path: Vec<(String, Vec<&'static str>)>,
    pub cost: CostModel,
    /// Whether `[lint.cost]` set the figures; otherwise they are the engine's ([`super::engine`]).
    pub cost_configured: bool,
    /// `long-stage-chain`: the longest chain of stages that is not reported.
    pub max_stages: usize,
    /// `hand-written-fan-out`: how many near-identical jobs make a fan-out.
    pub fan_out_min_jobs: usize,
    /// `serial-independent-work`: how many runs of one tool, and how long together.
    pub serial_min_tasks: usize,
    pub serial_min_secs: u64,
    /// Words that `[lint.effects]` adds to the classification of stages.
    pub effects: ExtraWords,
    /// The folder `per-path-ignores` patterns are relative to: the configuration file's.
    pub root: Option<PathBuf>,
    /// The file read, if any.
    pub file: Option<PathBuf>,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            enabled: registry::RULES.iter().map(|r| r.code).collect(),
            severities: HashMap::new(),
            per_path: Vec::new(),
            cost: CostModel::default(),
            cost_configured: false,
            max_stages: 6,
            fan_out_min_jobs: 3,
            serial_min_tasks: 3,
            serial_min_secs: 120,
            effects: ExtraWords::default(),
            root: None,
            file: None,
        }
    }
}

/// An invalid configuration: where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// The file's text, for showing the error in place.
    pub text: String,
    /// Byte range of the offending text, when known.
    pub span: Option<Range<usize>>,
    pub message: String,
    pub help: Option<String>,
}

impl ConfigError {
    /// 1-based line and column of the error.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        let start = self.span.as_ref()?.start.min(self.text.len());
        let before = self.text.get(..start)?;
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Some((line, column))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line_col() {
            Some((l, c)) => write!(f, "{}:{l}:{c}: {}", self.file.display(), self.message)?,
            None => write!(f, "{}: {}", self.file.display(), self.message)?,
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
struct Document {
    lint: Option<Spanned<Section>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Section {
    select: Option<Vec<Spanned<String>>>,
    ignore: Option<Vec<Spanned<String>>>,
    severity: Option<BTreeMap<String, Spanned<String>>>,
    per_path_ignores: Option<BTreeMap<String, Spanned<Vec<Spanned<String>>>>>,
    cost: Option<CostSection>,
    long_stage_chain: Option<ChainSection>,
    hand_written_fan_out: Option<FanOutSection>,
    serial_independent_work: Option<SerialSection>,
    effects: Option<EffectsSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EffectsSection {
    effects: Option<Vec<String>>,
    verifies: Option<Vec<String>>,
    opaque: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CostSection {
    transition: Option<Spanned<toml::Value>>,
    job_setup: Option<Spanned<toml::Value>>,
    not_worth_splitting: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ChainSection {
    max_stages: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FanOutSection {
    min_jobs: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SerialSection {
    min_tasks: Option<Spanned<i64>>,
    min_duration: Option<Spanned<toml::Value>>,
}

impl LintConfig {
    /// Whether a rule runs at all (before per-path ignores).
    pub fn enabled(&self, rule: &Rule) -> bool {
        self.enabled.contains(rule.code)
    }

    /// The severity a rule's findings get.
    pub fn severity(&self, rule: &Rule) -> Severity {
        self.severities.get(rule.code).copied().unwrap_or(rule.severity)
    }

    /// Whether findings of `code` are ignored in the file at `path` (as the workspace shows it).
    pub fn ignored_in(&self, path: &str, code: &str) -> bool {
        if self.per_path.is_empty() {
            return false;
        }
        let rel = self.relative(path);
        self.per_path.iter().any(|(pattern, codes)| codes.contains(&code) && glob::matches(pattern, &rel))
    }

    /// `path` relative to the configuration's folder, `/`-separated.
    pub fn relative(&self, path: &str) -> String {
        let Some(root) = &self.root else { return path.replace('\\', "/") };
        let abs = |p: &Path| p.canonicalize().or_else(|_| std::path::absolute(p)).unwrap_or_else(|_| p.to_path_buf());
        let (file, root) = (abs(Path::new(path)), abs(root));
        match file.strip_prefix(&root) {
            Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
            Err(_) => path.replace('\\', "/"),
        }
    }

    /// Reads a configuration file.
    pub fn load(file: &Path) -> Result<LintConfig, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            text: String::new(),
            span: None,
            message: format!("cannot read the configuration: {e}"),
            help: None,
        })?;
        let mut config = Self::parse(file, &text)?;
        config.root =
            file.parent().map(|p| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() });
        Ok(config)
    }

    /// Parses the text of a configuration file; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<LintConfig, ConfigError> {
        let err = |span: Option<Range<usize>>, message: String, help: Option<String>| ConfigError {
            file: file.to_path_buf(),
            text: text.to_string(),
            span,
            message,
            help,
        };
        let doc: Document = toml::from_str(text).map_err(|e| err(e.span(), e.message().trim().to_string(), None))?;
        let mut config = LintConfig { file: Some(file.to_path_buf()), ..LintConfig::default() };
        let Some(section) = doc.lint.map(Spanned::into_inner) else { return Ok(config) };
        let resolve = |s: &Spanned<String>| -> Result<Vec<&'static str>, ConfigError> {
            selector(s.get_ref()).ok_or_else(|| {
                err(
                    Some(s.span()),
                    format!("unknown rule or category `{}`", s.get_ref()),
                    Some(selector_help(s.get_ref())),
                )
            })
        };
        if let Some(select) = &section.select {
            config.enabled.clear();
            for s in select {
                config.enabled.extend(resolve(s)?);
            }
        }
        for s in section.ignore.iter().flatten() {
            for code in resolve(s)? {
                config.enabled.remove(code);
            }
        }
        for (key, value) in section.severity.iter().flatten() {
            let key_span = key_span(text, key, value.span());
            let codes = selector(key).ok_or_else(|| {
                err(Some(key_span.clone()), format!("unknown rule or category `{key}`"), Some(selector_help(key)))
            })?;
            let level = match value.get_ref().to_ascii_lowercase().as_str() {
                "error" => Some(Severity::Error),
                "warning" => Some(Severity::Warning),
                "info" => Some(Severity::Info),
                "off" => None,
                other => {
                    return Err(err(
                        Some(value.span()),
                        format!("unknown severity `{other}`"),
                        Some("use \"error\", \"warning\", \"info\" or \"off\"".into()),
                    ))
                }
            };
            for code in codes {
                match level {
                    Some(level) => {
                        config.severities.insert(code, level);
                    }
                    None => {
                        config.enabled.remove(code);
                    }
                }
            }
        }
        for (pattern, list) in section.per_path_ignores.iter().flatten() {
            let mut codes = Vec::new();
            for s in list.get_ref() {
                codes.extend(resolve(s)?);
            }
            config.per_path.push((pattern.clone(), codes));
        }
        if let Some(cost) = &section.cost {
            config.cost_configured = true;
            let d = |v: &Option<Spanned<toml::Value>>, default: u64| {
                duration(v, default).map_err(|(s, m)| err(Some(s), m, None))
            };
            config.cost.transition_secs = d(&cost.transition, config.cost.transition_secs)?;
            config.cost.setup_secs = d(&cost.job_setup, config.cost.setup_secs)?;
            config.cost.not_worth_splitting_secs = d(&cost.not_worth_splitting, config.cost.not_worth_splitting_secs)?;
        }
        let count = |v: &Option<Spanned<i64>>, default: usize, min: i64| -> Result<usize, ConfigError> {
            match v {
                None => Ok(default),
                Some(n) if *n.get_ref() >= min && *n.get_ref() <= 1000 => Ok(*n.get_ref() as usize),
                Some(n) => Err(err(
                    Some(n.span()),
                    format!("expected a number from {min} to 1000, found {}", n.get_ref()),
                    None,
                )),
            }
        };
        if let Some(chain) = &section.long_stage_chain {
            config.max_stages = count(&chain.max_stages, config.max_stages, 1)?;
        }
        if let Some(fan) = &section.hand_written_fan_out {
            config.fan_out_min_jobs = count(&fan.min_jobs, config.fan_out_min_jobs, 2)?;
        }
        if let Some(serial) = &section.serial_independent_work {
            config.serial_min_tasks = count(&serial.min_tasks, config.serial_min_tasks, 2)?;
            config.serial_min_secs =
                duration(&serial.min_duration, config.serial_min_secs).map_err(|(s, m)| err(Some(s), m, None))?;
        }
        if let Some(e) = section.effects {
            let lower = |v: Option<Vec<String>>| v.unwrap_or_default().iter().map(|w| w.to_ascii_lowercase()).collect();
            config.effects =
                ExtraWords { effects: lower(e.effects), verifies: lower(e.verifies), opaque: lower(e.opaque) };
        }
        Ok(config)
    }
}

/// The codes a selector names: `all`, a category, a code or a rule name.
pub fn selector(text: &str) -> Option<Vec<&'static str>> {
    if text.eq_ignore_ascii_case("all") {
        return Some(registry::RULES.iter().map(|r| r.code).collect());
    }
    if let Some(category) = Category::from_name(text) {
        return Some(registry::RULES.iter().filter(|r| r.category == category).map(|r| r.code).collect());
    }
    registry::lookup(text).map(|r| vec![r.code])
}

fn selector_help(text: &str) -> String {
    match registry::suggest(text) {
        Some(close) => format!("did you mean `{close}`? `pw explain {close}` describes it"),
        None => "name a rule by code (`L0008`) or name (`missing-timeout`), a category (`cost`), or `all`".into(),
    }
}

/// The span of a table key, found on the line of its value.
fn key_span(text: &str, key: &str, value: Range<usize>) -> Range<usize> {
    let line_start = text[..value.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    match text[line_start..value.start.min(text.len())].find(key) {
        Some(i) => line_start + i..line_start + i + key.len(),
        None => value,
    }
}

/// A duration setting: `"1m30s"` or a number of seconds.
fn duration(value: &Option<Spanned<toml::Value>>, default: u64) -> Result<u64, (Range<usize>, String)> {
    let Some(v) = value else { return Ok(default) };
    match v.get_ref() {
        toml::Value::Integer(n) if *n >= 0 => Ok(*n as u64),
        toml::Value::String(s) => parse_duration(s).map_err(|why| {
            (
                v.span(),
                format!("invalid duration `{s}`: {why}; write it as the language does, such as \"10s\" or \"1m30s\""),
            )
        }),
        other => Err((v.span(), format!("expected a duration such as \"10s\", found {}", other.type_str()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LintConfig, ConfigError> {
        LintConfig::parse(Path::new("pipewright.toml"), text)
    }

    #[test]
    fn selects_ignores_and_overrides() {
        let c = parse(
            "[lint]\nselect = [\"cost\", \"L0008\"]\nignore = [\"independent-stages-in-sequence\"]\n\
             [lint.severity]\nmissing-timeout = \"error\"\n[lint.cost]\ntransition = \"30s\"\njob-setup = 2\n",
        )
        .unwrap_or_default();
        let rule = |n| registry::lookup(n).unwrap_or(registry::RULES[0]);
        assert!(c.enabled(rule("long-stage-chain")));
        assert!(c.enabled(rule("missing-timeout")));
        assert!(!c.enabled(rule("independent-stages-in-sequence")));
        assert!(!c.enabled(rule("plaintext-secret")));
        assert_eq!(c.severity(rule("missing-timeout")), Severity::Error);
        assert_eq!(c.cost, CostModel { transition_secs: 30, setup_secs: 2, not_worth_splitting_secs: 60 });
    }

    #[test]
    fn errors_point_at_the_offending_text() {
        let e = parse("[lint]\nignore = [\"missing-timout\"]\n").err().unwrap_or_else(|| panic!("no error"));
        assert_eq!(e.line_col(), Some((2, 11)));
        assert!(e.to_string().contains("unknown rule or category `missing-timout`"), "{e}");
        assert!(e.help.unwrap_or_default().contains("did you mean `missing-timeout`"));
        let e = parse("[lint]\nselekt = []\n").err().unwrap_or_else(|| panic!("no error"));
        assert_eq!(e.line_col(), Some((2, 1)));
        assert!(e.message.contains("unknown field `selekt`"), "{}", e.message);
        let e = parse("[lint.severity]\nmissing-timeout = \"loud\"\n").err().unwrap_or_else(|| panic!("no error"));
        assert_eq!(e.line_col(), Some((2, 19)));
        let e = parse("[lint.cost]\ntransition = \"10x\"\n").err().unwrap_or_else(|| panic!("no error"));
        assert!(e.message.contains("invalid duration"), "{}", e.message);
        let e = parse("[lint.severity]\nmissing-timeot = \"error\"\n").err().unwrap_or_else(|| panic!("no error"));
        assert_eq!(e.line_col(), Some((2, 1)));
        let e = parse("[lint\n").err().unwrap_or_else(|| panic!("no error"));
        assert!(e.span.is_some());
    }

    #[test]
    fn effects_extend_the_word_lists() {
        let c = parse("[lint.effects]\neffects = [\"Promote\"]\nopaque = [\"bazel\"]\n").unwrap_or_default();
        assert_eq!(c.effects.effects, vec!["promote"]);
        assert_eq!(c.effects.opaque, vec!["bazel"]);
        assert!(c.effects.verifies.is_empty());
        let e = parse("[lint.effects]\neffect = [\"x\"]\n").err().unwrap_or_else(|| panic!("no error"));
        assert!(e.message.contains("unknown field `effect`"), "{}", e.message);
    }

    #[test]
    fn other_tables_are_left_to_their_owners() {
        assert!(parse("[format]\nindent = 2\n").is_ok());
    }

    #[test]
    fn per_path_ignores_match_relative_paths() {
        let c = parse("[lint.per-path-ignores]\n\"legacy/**\" = [\"missing-timeout\"]\n").unwrap_or_default();
        assert!(c.ignored_in("legacy/old.pw", "L0008"));
        assert!(!c.ignored_in("legacy/old.pw", "L0009"));
        assert!(!c.ignored_in("new/a.pw", "L0008"));
    }
}
