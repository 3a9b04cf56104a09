//! Every lint rule by stable code, kebab-case name and category, with its default severity and
//! its documentation. `pw explain`, the SARIF output and the generated `docs/rules/` read it.

use super::rules;
use super::Context;
use super::Sink;
use crate::diagnostic::Severity;

/// What kind of problem a rule finds; usable in `select` and `ignore`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Modelling that fails or races at run time.
    Correctness,
    /// Modelling that costs time on every run.
    Cost,
    /// Modelling that can hang or stall agents.
    Reliability,
    /// Secrets and untrusted code.
    Security,
    /// Dead or repeated definitions.
    Maintainability,
    /// The suppression comments themselves.
    Suppression,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Correctness,
        Category::Cost,
        Category::Reliability,
        Category::Security,
        Category::Maintainability,
        Category::Suppression,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::Correctness => "correctness",
            Category::Cost => "cost",
            Category::Reliability => "reliability",
            Category::Security => "security",
            Category::Maintainability => "maintainability",
            Category::Suppression => "suppression",
        }
    }

    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

/// Whether the rule's findings carry a fix, and of which kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixKind {
    None,
    /// Applied by `pw lint --fix`.
    Safe,
    /// Applied only with `--unsafe-fixes`.
    Unsafe,
    /// Some findings have a safe fix, others an unsafe one.
    Mixed,
}

impl FixKind {
    pub fn describe(self) -> &'static str {
        match self {
            FixKind::None => "none",
            FixKind::Safe => "safe (applied by `pw lint --fix`)",
            FixKind::Unsafe => "unsafe (applied by `pw lint --fix --unsafe-fixes`)",
            FixKind::Mixed => "safe where the result keeps every name, unsafe otherwise",
        }
    }
}

/// One lint rule.
pub struct Rule {
    /// Stable code, `L0001`...
    pub code: &'static str,
    /// Stable kebab-case name, usable wherever the code is.
    pub name: &'static str,
    pub category: Category,
    pub severity: Severity,
    pub fix: FixKind,
    /// One line: what the rule finds.
    pub summary: &'static str,
    /// The rule's documentation in Markdown (its doc comment).
    pub doc: &'static str,
    /// Adds the rule's findings; `None` for rules the linter's driver reports itself.
    pub check: Option<fn(&Context, &mut Sink)>,
    /// What one run of `check` must see.
    pub scope: Scope,
}

/// What a rule's check must see at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The pipelines of [`Context::pipelines`](super::Context::pipelines) only: a pipeline's
    /// findings depend on it and on the [`facts`](super::facts) alone, so the linter runs the
    /// check on a few pipelines at a time, each run while their data is in cache.
    Pipelines,
    /// The whole program, in one run, with the facts of no job: for a rule that compares
    /// pipelines or reads what no pipeline holds (`unused-definition`).
    Program,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code, self.name)
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
    }
}

impl Eq for Rule {}

impl Rule {
    /// The documentation with the one leading space of each doc-comment line removed.
    pub fn documentation(&self) -> String {
        let mut out: String =
            self.doc.lines().map(|line| line.strip_prefix(' ').unwrap_or(line)).collect::<Vec<_>>().join("\n");
        out.truncate(out.trim_end().len());
        out
    }
}

/// Every rule, in code order.
pub static RULES: &[&Rule] = &[
    &rules::sequential_jobs::RULE,
    &rules::workspace_shared_by_luck::RULE,
    &rules::long_stage_chain::RULE,
    &rules::split_not_worth_it::RULE,
    &rules::independent_stages::RULE,
    &rules::serial_independent_work::RULE,
    &rules::hand_written_fan_out::RULE,
    &rules::missing_timeout::RULE,
    &rules::plaintext_secret::RULE,
    &rules::unused_definition::RULE,
    &rules::unsafe_download::RULE,
    &rules::unfetched_artifact::RULE,
    &rules::unused_suppression::RULE,
    &rules::invalid_suppression::RULE,
    &rules::unreachable_cleanup::RULE,
    &rules::shell_syntax_in_argv::RULE,
    &rules::check_cannot_fail::RULE,
];

/// The rule with this code or name (case-insensitive).
pub fn lookup(code_or_name: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name.eq_ignore_ascii_case(code_or_name))
}

/// The rule or category name closest to a misspelt one: by edit distance, else the one
/// holding every word of it (`long-chain` → `long-stage-chain`).
pub(crate) fn suggest(text: &str) -> Option<&'static str> {
    let names = || RULES.iter().map(|r| r.name).chain(Category::ALL.iter().map(|c| c.name()));
    crate::diagnostic::did_you_mean(text, names()).or_else(|| {
        let lower = text.to_ascii_lowercase();
        let words: Vec<&str> = lower.split(['-', '_']).filter(|w| w.len() > 2).collect();
        (!words.is_empty()).then(|| names().find(|n| words.iter().all(|w| n.contains(w))))?
    })
}

/// The long explanation `pw explain CODE` prints, for a lint code or name.
pub fn explain(code: &str) -> Option<String> {
    let rule = lookup(code)?;
    Some(format!(
        "{} ({}): {}\n\nCategory: {}. Default severity: {}. Fix: {}.\n\n{}\n",
        rule.code,
        rule.name,
        rule.summary,
        rule.category.name(),
        rule.severity.as_str(),
        rule.fix.describe(),
        rule.documentation()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for (i, rule) in RULES.iter().enumerate() {
            assert_eq!(rule.code, format!("L{:04}", i + 1), "codes are consecutive");
            assert!(seen.insert(rule.name), "duplicate name {}", rule.name);
            assert!(rule.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{} is not kebab-case", rule.name);
            let doc = rule.documentation();
            for heading in ["## What it does", "## Why is this bad?", "## Example", "## Use instead"] {
                assert!(doc.contains(heading), "{} lacks `{heading}`", rule.code);
            }
        }
    }

    #[test]
    fn explains_by_code_or_name() {
        let by_code = explain("L0008").unwrap_or_default();
        assert!(by_code.starts_with("L0008 (missing-timeout)"), "{by_code}");
        assert_eq!(explain("missing-timeout"), Some(by_code));
        assert_eq!(explain("E0301"), None);
    }
}
