//! The rule reference in `docs/rules/`: one page a rule and an index, generated from the
//! registry so that they never drift from the code (a test compares them).

use super::registry::{Category, RULES};

/// Every generated page: its file name in `docs/rules/` and its text.
pub fn pages() -> Vec<(String, String)> {
    let mut out = vec![("README.md".to_string(), index())];
    for rule in RULES {
        let text = format!(
            "# {} `{}`\n\n{}\n\n| | |\n|---|---|\n| Code | `{}` |\n| Category | {} |\n| Default severity | {} |\n| Fix | {} |\n\n{}\n\n\
             Suppress one finding with `# pw: allow({}) -- reason` on the line before the entity or on its line.\n",
            rule.code,
            rule.name,
            capitalise(rule.summary),
            rule.code,
            rule.category.name(),
            rule.severity.as_str(),
            rule.fix.describe(),
            rule.documentation().replace("```pw", "```pipewright"),
            rule.name,
        );
        out.push((format!("{}.md", rule.name), text));
    }
    out
}

fn index() -> String {
    let mut out = String::from(
        "# Lint rules\n\nGenerated from the linter's registry (`compiler/src/lint/rules/`); do not edit by hand: \
         run `PW_UPDATE_DOCS=1 cargo test -p pw-compiler --test lint_docs` after changing a rule.\n\n\
         `pw explain CODE` prints the same text. See [the linter's guide](../LINTER.md) for configuration, \
         suppression comments, fixes and output formats.\n",
    );
    for category in Category::ALL {
        let rules: Vec<_> = RULES.iter().filter(|r| r.category == category).collect();
        if rules.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n## {}\n\n| Code | Name | Severity | Fix | Finds |\n|---|---|---|---|---|\n",
            capitalise(category.name())
        ));
        for r in rules {
            let fix = match r.fix {
                super::registry::FixKind::None => "",
                super::registry::FixKind::Safe => "safe",
                super::registry::FixKind::Unsafe => "unsafe",
                super::registry::FixKind::Mixed => "safe or unsafe",
            };
            out.push_str(&format!(
                "| `{}` | [{}]({}.md) | {} | {} | {} |\n",
                r.code,
                r.name,
                r.name,
                r.severity.as_str(),
                fix,
                r.summary
            ));
        }
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}
