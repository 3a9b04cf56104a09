//! Syntax errors: the one place where the parser's errors become [`Diagnostic`]s (E0105).

use super::durations;
use super::nesting::{closer_of, misindented_pair, Nesting};
use crate::codes::Code::E0105;
use crate::diagnostic::Diagnostic;
use crate::lexer::Token;
use crate::source::{FileId, Span};
use chumsky::error::{Rich, RichPattern, RichReason};

/// The error type of the parser.
pub(crate) type SyntaxError<'t, 's> = Rich<'t, Token<'s>, Span>;

/// Names for what the parser expects, shared by the grammar and this module.
pub(crate) mod expect {
    pub(crate) const NAME: &str = "a name";
    pub(crate) const TEMPLATE_NAME: &str = "the name of a template";
    pub(crate) const VALUE: &str = "a value";
    pub(crate) const NUMBER: &str = "a number";
    pub(crate) const FIELD: &str = "a field";
    pub(crate) const BLOCK: &str = "a block";
    pub(crate) const TASK: &str = "a task";
    pub(crate) const ARTIFACT: &str = "an artifact";
    pub(crate) const TEMPLATE_KIND: &str = "`job`, `stage` or `pipeline`";
    pub(crate) const TOP_LEVEL: &[&str] = &["`pipeline`", "`material`", "`template`"];
}

/// Tokens the lexer already reported; errors about them would only repeat it.
pub(crate) fn already_reported(token: &Token<'_>) -> bool {
    matches!(token, Token::Error | Token::UnterminatedStr(_) | Token::TripleStr(false))
}

/// Converts one parser error. Returns `None` for errors that only repeat a lexer error.
pub(crate) fn to_diagnostic(
    file: FileId,
    error: &SyntaxError<'_, '_>,
    text: &str,
    nesting: &Nesting<'_, '_>,
) -> Option<Diagnostic> {
    let eof = text.len();
    let span = *error.span();
    let (expected, found) = match error.reason() {
        RichReason::ExpectedFound { expected, found } => (expected.as_slice(), found.as_deref().copied()),
        RichReason::Custom(message) => return Some(Diagnostic::error(E0105, file, span, message.clone())),
    };
    if found.as_ref().is_some_and(already_reported) {
        return None;
    }
    let mut alternatives = describe_expected(expected);
    // At the end of the file with a delimiter open, its closer is what is missing.
    if let (None, Some(close)) = (found, nesting.unclosed.and_then(|(open, _)| closer_of(open))) {
        let close = close.to_string();
        if alternatives.contains(&close) {
            alternatives = vec![close];
        }
    }
    let found_text = found.map_or_else(|| "end of file".to_string(), found_text);
    let span = if found.is_none() { Span::new(eof, eof) } else { span };
    let message = if alternatives.is_empty() {
        format!("unexpected {found_text}")
    } else {
        format!("expected {}, found {found_text}", join(&alternatives))
    };
    let label = match (found, alternatives.as_slice()) {
        (None, _) => "the file ends here".to_string(),
        (Some(_), [one]) => format!("expected {one}"),
        (Some(_), _) => format!("unexpected {found_text}"),
    };
    let mut diagnostic = Diagnostic::error(E0105, file, span, message).with_label(label);
    if let Some(help) = help(found, &alternatives) {
        diagnostic = diagnostic.with_help(help);
    }
    if let Some(note) = found.and_then(not_a_duration) {
        diagnostic = diagnostic.with_note(note);
    }
    match found {
        None => {
            if let Some((open, open_span)) = nesting.unclosed {
                let close = closer_of(open).map_or_else(String::new, |c| c.to_string());
                diagnostic = diagnostic.with_secondary(file, open_span, format!("this {open} is never closed"));
                if let Some((inner_open, inner_close)) = misindented_pair(text, &nesting.tokens, open_span.start) {
                    diagnostic = diagnostic
                        .with_secondary(file, inner_open, "this `{` might be the one missing its `}`...")
                        .with_secondary(file, inner_close, "...as it is closed here, by a `}` indented differently");
                }
                if diagnostic.help.is_none() {
                    diagnostic = diagnostic.with_help(format!("close it with {close}"));
                }
            }
        }
        Some(token) if nesting.stray.binary_search(&span).is_ok() => {
            let open = match token {
                Token::RBrace => "`{`",
                Token::RBracket => "`[`",
                _ => "`(`",
            };
            diagnostic.label = Some(format!("this {token} has no matching {open}"));
        }
        Some(_) => {}
    }
    Some(diagnostic)
}

/// What was found, in words: `` duration `5m` ``, but only `` `1p` `` for text that is no duration.
fn found_text(token: Token<'_>) -> String {
    match token {
        Token::Duration(literal) if durations::seconds(literal).is_err() => format!("`{literal}`"),
        other => other.to_string(),
    }
}

/// Why a number with letters after it is not a duration either: `1p` has an unknown unit.
fn not_a_duration(token: Token<'_>) -> Option<String> {
    let Token::Duration(literal) = token else { return None };
    let why = durations::why(&durations::seconds(literal).err()?);
    Some(format!(
        "`{literal}` is not a valid duration either: {why}; the units are `d`, `h`, `m` and `s`, as in `45s` or `1h30m`"
    ))
}

/// The alternatives in words: tokens first, then descriptions, then the end of the file. Tokens
/// that would only continue the value before (`..`, `.`, `(`) are left out when there is more.
fn describe_expected(expected: &[RichPattern<'_, Token<'_>>]) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut labels = Vec::new();
    let mut end = false;
    let continuation = |t: &Token<'_>| matches!(t, Token::DotDot | Token::Dot | Token::LParen);
    let only_continuations = expected.iter().all(|p| matches!(p, RichPattern::Token(t) if continuation(t)));
    for pattern in expected {
        match pattern {
            RichPattern::Token(t) if continuation(t) && !only_continuations => {}
            RichPattern::Token(t) => tokens.push(t.to_string()),
            RichPattern::Label(l) => labels.push(l.to_string()),
            RichPattern::Identifier(i) => tokens.push(format!("`{i}`")),
            RichPattern::EndOfInput => end = true,
            RichPattern::Any => labels.push("more text".to_string()),
            _ => {}
        }
    }
    let mut all: Vec<String> = Vec::with_capacity(tokens.len() + labels.len() + 1);
    for item in tokens.into_iter().chain(labels) {
        if !all.contains(&item) {
            all.push(item);
        }
    }
    if end {
        all.push("end of file".to_string());
    }
    all
}

/// `a`, `a or b`, `a, b or c`.
fn join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Keywords that start a member: where one is found, a `}` before it is more likely missing than
/// a name misspelt.
pub(crate) fn starts_member(token: Token<'_>) -> bool {
    matches!(
        token,
        Token::Material
            | Token::Template
            | Token::Pipeline
            | Token::Stage
            | Token::Job
            | Token::Env
            | Token::Run
            | Token::Fetch
            | Token::Artifact
    )
}

fn help(found: Option<Token<'_>>, alternatives: &[String]) -> Option<String> {
    let wants = |what: &str| alternatives.iter().any(|a| a == what);
    match found {
        Some(token)
            if token.is_keyword() && (wants(expect::NAME) || (wants(expect::FIELD) && !starts_member(token))) =>
        {
            Some(format!("{token} is a keyword and cannot be used as a name"))
        }
        Some(Token::Int(_) | Token::Duration(_)) if wants(expect::NAME) => {
            Some("a name starts with a letter or `_`".to_string())
        }
        Some(Token::Ident(_)) if alternatives == ["`=`"] => Some("write `name = value`".to_string()),
        Some(Token::Str(_) | Token::TripleStr(_)) if wants(expect::TASK) => {
            Some("a command is a task: write `run \"...\"`".to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn joins_alternatives_readably() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(join(&s(&["`}`"])), "`}`");
        assert_eq!(join(&s(&["`}`", "a field"])), "`}` or a field");
        assert_eq!(join(&s(&["`}`", "a field", "a task"])), "`}`, a field or a task");
    }
}
