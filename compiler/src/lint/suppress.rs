//! Suppression comments: `# pw: allow(rule) -- reason` on the line before an entity or on its
//! line, and `# pw: allow-file(rule) -- reason` for a whole file. A suppression needs a reason;
//! one that suppresses nothing is itself reported.

use super::registry::{self, Rule};
use super::rules::{invalid_suppression, unused_suppression};
use super::{Finding, LintConfig};
use crate::diagnostic::{Applicability, Diagnostic, Edit, Fix};
use crate::source::{FileId, SourceFile, Span, Workspace};
use crate::Analysis;

/// One rule named in a suppression comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    pub rule: &'static Rule,
    /// The name as written.
    pub span: Span,
}

/// A parsed `# pw: allow...` comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    pub file: FileId,
    /// The whole comment.
    pub comment: Span,
    /// The `(...)` list, parentheses included.
    pub list: Span,
    pub rules: Vec<Allowed>,
    pub file_wide: bool,
    /// The 0-based line whose findings it suppresses (unused when file-wide).
    pub target_line: usize,
    pub reason: Option<String>,
}

/// A problem with a suppression comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: FileId,
    pub span: Span,
    pub message: String,
    pub help: String,
}

/// Parses the suppression comments of one file.
pub fn parse(file: FileId, source: &SourceFile, comments: &[Span]) -> (Vec<Suppression>, Vec<Problem>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for &span in comments {
        let Some(text) = source.text.get(span.range()) else { continue };
        match parse_comment(file, text, span.start) {
            None => {}
            Some(Err(problem)) => problems.push(problem),
            Some(Ok((mut s, unknown))) => {
                problems.extend(unknown);
                s.target_line = target_line(source, comments, span);
                if s.reason.is_none() {
                    problems.push(Problem {
                        file,
                        span,
                        message: "this suppression gives no reason, so it suppresses nothing".into(),
                        help: "say why after `--`: `# pw: allow(rule) -- why the finding does not apply here`".into(),
                    });
                } else if !s.rules.is_empty() {
                    found.push(s);
                }
            }
        }
    }
    (found, problems)
}

/// `None`: not a `pw:` comment. `Some(Err)`: a malformed one.
fn parse_comment(file: FileId, text: &str, at: usize) -> Option<Result<(Suppression, Vec<Problem>), Problem>> {
    let body = text.strip_prefix('#')?;
    let lead = body.len() - body.trim_start().len();
    let rest = body.trim_start().strip_prefix("pw:")?;
    let whole = Span::new(at, at + text.len());
    let bad = |message: &str| {
        Some(Err(Problem {
            file,
            span: whole,
            message: message.to_string(),
            help: "write `# pw: allow(rule-name) -- reason`, or `# pw: allow-file(rule-name) -- reason` for the whole file"
                .into(),
        }))
    };
    let directive_at = 1 + lead + 3 + (rest.len() - rest.trim_start().len());
    let rest = rest.trim_start();
    let (file_wide, after) = if let Some(a) = rest.strip_prefix("allow-file") {
        (true, a)
    } else if let Some(a) = rest.strip_prefix("allow") {
        (false, a)
    } else {
        return bad("unknown `pw:` directive");
    };
    let open_rel = directive_at + (rest.len() - after.len()) + (after.len() - after.trim_start().len());
    if !text[open_rel..].starts_with('(') {
        return bad("expected `(` and the rules to allow");
    }
    let Some(close_rel) = text[open_rel..].find(')').map(|i| open_rel + i) else {
        return bad("expected `)` after the rules to allow");
    };
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    let mut offset = open_rel + 1;
    for part in text[open_rel + 1..close_rel].split(',') {
        let name = part.trim();
        let start = offset + (part.len() - part.trim_start().len());
        offset += part.len() + 1;
        if name.is_empty() {
            continue;
        }
        let span = Span::new(at + start, at + start + name.len());
        match registry::lookup(name) {
            Some(rule) => rules.push(Allowed { rule, span }),
            None => {
                let help = match registry::suggest(name).filter(|n| registry::lookup(n).is_some()) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => "name a rule by code (`L0008`) or name (`missing-timeout`)".into(),
                };
                problems.push(Problem { file, span, message: format!("unknown rule `{name}`"), help });
            }
        }
    }
    if rules.is_empty() && problems.is_empty() {
        return bad("a suppression must name at least one rule");
    }
    let tail = text[close_rel + 1..].trim();
    let reason = tail.strip_prefix("--").map(str::trim).filter(|r| !r.is_empty()).map(str::to_string);
    if !tail.is_empty() && !tail.starts_with("--") {
        return bad("expected `-- reason` after the rules");
    }
    let list = Span::new(at + open_rel, at + close_rel + 1);
    Some(Ok((Suppression { file, comment: whole, list, rules, file_wide, target_line: 0, reason }, problems)))
}

/// The line a comment's suppression covers: its own when it follows code, else the next line
/// that is not a comment (so several suppression comments can stand above one entity).
fn target_line(source: &SourceFile, comments: &[Span], comment: Span) -> usize {
    let line = source.line_index(comment.start);
    let before = &source.text[source.line_start(line)..comment.start];
    if !before.trim().is_empty() {
        return line;
    }
    let mut next = line + 1;
    while next < source.line_count() {
        let start = source.line_start(next);
        let text = source.line_text(next);
        let indent = text.len() - text.trim_start().len();
        let is_comment = text.trim_start().starts_with('#') && comments.iter().any(|c| c.start == start + indent);
        if !is_comment {
            break;
        }
        next += 1;
    }
    next
}

/// Drops suppressed findings and adds the findings about the suppressions themselves.
pub fn apply(
    workspace: &Workspace,
    analysis: &Analysis,
    config: &LintConfig,
    findings: Vec<Finding>,
) -> Vec<Diagnostic> {
    let mut all = Vec::new();
    let mut problems = Vec::new();
    for id in workspace.ids() {
        let comments = analysis.files.get(id.0 as usize).map_or(&[][..], |f| &f.comments[..]);
        let (s, p) = parse(id, workspace.file(id), comments);
        all.extend(s);
        problems.extend(p);
    }
    let mut used: Vec<Vec<bool>> = all.iter().map(|s| vec![false; s.rules.len()]).collect();
    let mut out = Vec::new();
    for finding in findings {
        let d = &finding.diagnostic;
        let source = workspace.file(d.file);
        let lines = [Some(source.line_index(d.span.start)), finding.entity.map(|e| source.line_index(e.start))];
        let mut suppressed = false;
        for (i, s) in all.iter().enumerate() {
            if s.file != d.file || !(s.file_wide || lines.contains(&Some(s.target_line))) {
                continue;
            }
            for (j, allowed) in s.rules.iter().enumerate() {
                if allowed.rule.code == d.code {
                    used[i][j] = true;
                    suppressed = true;
                }
            }
        }
        if !suppressed {
            out.push(finding.diagnostic);
        }
    }
    let unused_rule = &unused_suppression::RULE;
    for (s, used) in all.iter().zip(&used) {
        let path = &workspace.file(s.file).path;
        if !config.enabled(unused_rule) || config.ignored_in(path, unused_rule.code) {
            continue;
        }
        let unused: Vec<&Allowed> = s
            .rules
            .iter()
            .zip(used)
            .filter(|(a, &u)| !u && config.enabled(a.rule) && !config.ignored_in(path, a.rule.code))
            .map(|(a, _)| a)
            .collect();
        if !unused.is_empty() {
            out.push(unused_finding(workspace, s, &unused));
        }
    }
    if config.enabled(&invalid_suppression::RULE) {
        for p in problems {
            if !config.ignored_in(&workspace.file(p.file).path, invalid_suppression::RULE.code) {
                let label = if p.message.starts_with("unknown rule") { "not a rule" } else { "suppresses nothing" };
                out.push(invalid_suppression::RULE.at(p.file, p.span, p.message).with_label(label).with_help(p.help));
            }
        }
    }
    out
}

fn unused_finding(workspace: &Workspace, s: &Suppression, unused: &[&Allowed]) -> Diagnostic {
    let names: Vec<String> = unused.iter().map(|a| format!("`{}`", a.rule.name)).collect();
    let (span, message, edit) = if unused.len() == s.rules.len() {
        let what = if s.file_wide { "in this file" } else { "on the line it covers" };
        let message = format!("this suppression of {} suppresses nothing: no such finding {what}", names.join(", "));
        (
            s.comment,
            message,
            Edit { file: s.file, span: removal_span(workspace.file(s.file), s.comment), replacement: String::new() },
        )
    } else {
        let keep: Vec<&str> =
            s.rules.iter().filter(|a| !unused.iter().any(|u| u.span == a.span)).map(|a| a.rule.name).collect();
        let message = format!("{} in this suppression suppresses nothing", names.join(", "));
        let span = unused[0].span;
        (span, message, Edit { file: s.file, span: s.list, replacement: format!("({})", keep.join(", ")) })
    };
    unused_suppression::RULE
        .at(s.file, span, message)
        .with_label("nothing to suppress")
        .with_help("remove it; the rule no longer finds anything here")
        .with_fix(Fix {
            message: "remove the unused suppression".into(),
            applicability: Applicability::Safe,
            edits: vec![edit],
        })
}

/// The text to delete to remove a comment: its whole line when it stands alone, else the
/// comment and the spaces before it.
pub(crate) fn removal_span(source: &SourceFile, comment: Span) -> Span {
    let line = source.line_index(comment.start);
    let start = source.line_start(line);
    let before = &source.text[start..comment.start];
    if before.trim().is_empty() {
        let end = source.line_start(line + 1).max(comment.end);
        Span::new(start, end)
    } else {
        Span::new(start + before.trim_end().len(), comment.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comments(text: &str) -> Vec<Span> {
        crate::lexer::lex(FileId(0), text).comments.iter().map(|(_, s)| *s).collect()
    }

    #[test]
    fn parses_rules_reason_and_target() {
        let text = "# pw: allow(missing-timeout, L0009) -- legacy agent\n# other\njob a {\n  x = 1 # pw: allow(unsafe-download) -- vendored\n}\n";
        let source = SourceFile::new("a.pw", text);
        let (s, p) = parse(FileId(0), &source, &comments(text));
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].rules.iter().map(|a| a.rule.code).collect::<Vec<_>>(), vec!["L0008", "L0009"]);
        assert_eq!(s[0].reason.as_deref(), Some("legacy agent"));
        assert_eq!(s[0].target_line, 2);
        assert_eq!(&text[s[0].rules[0].span.range()], "missing-timeout");
        assert_eq!(s[1].target_line, 3);
        assert!(!s[1].file_wide);
    }

    #[test]
    fn reports_malformed_and_unreasoned_suppressions() {
        let text = "# pw: allow(missing-timeout)\n# pw: allow(no-such-rule) -- x\n# pw: allow-file missing -- x\n# pw: deny(x)\n# pw: allow-file(plaintext-secret) -- fixtures\n";
        let source = SourceFile::new("a.pw", text);
        let (s, p) = parse(FileId(0), &source, &comments(text));
        let messages: Vec<&str> = p.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "this suppression gives no reason, so it suppresses nothing",
                "unknown rule `no-such-rule`",
                "expected `(` and the rules to allow",
                "unknown `pw:` directive"
            ]
        );
        assert_eq!(s.len(), 1);
        assert!(s[0].file_wide);
    }

    #[test]
    fn removal_takes_the_whole_line_of_a_lone_comment() {
        let source = SourceFile::new("a.pw", "a\n  # c\nb # d\n");
        assert_eq!(removal_span(&source, Span::new(4, 7)), Span::new(2, 8));
        assert_eq!(removal_span(&source, Span::new(10, 13)), Span::new(9, 13));
    }
}
