//! Source text to tokens. Never fails: bad input becomes an error token plus a diagnostic.

use crate::codes::Code::{E0101, E0102};
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};
use logos::Logos;
use std::fmt;

#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[logos(skip r"[ \t\r\n\f]+")]
pub enum Token<'src> {
    #[token("material")]
    Material,
    #[token("template")]
    Template,
    #[token("pipeline")]
    Pipeline,
    #[token("stage")]
    Stage,
    #[token("job")]
    Job,
    #[token("env")]
    Env,
    #[token("run")]
    Run,
    #[token("fetch")]
    Fetch,
    #[token("into")]
    Into,
    #[token("artifact")]
    Artifact,
    #[token("for")]
    For,
    #[token("in")]
    In,
    #[token("true")]
    True,
    #[token("false")]
    False,

    #[regex(r"[A-Za-z_][A-Za-z0-9_\-]*")]
    Ident(&'src str),
    #[regex(r"-?[0-9]+", priority = 3)]
    Int(&'src str),
    /// A number followed by units, such as `20m` or `1h30m`; validated by the parser. A sign and
    /// fractions (`-5m`, `1.5m`) are read too, so that the parser can say why they are invalid.
    #[regex(r"-?[0-9]+(\.[0-9]+)?[A-Za-z]([A-Za-z0-9]|\.[0-9])*")]
    Duration(&'src str),
    /// A one-line string, quotes included.
    #[regex(r#""([^"\\\n]|\\[^\n])*""#)]
    Str(&'src str),
    /// A one-line string missing its closing quote.
    #[regex(r#""([^"\\\n]|\\[^\n])*"#)]
    UnterminatedStr(&'src str),
    /// A `"""` string, quotes included; `false` when it is not closed.
    #[token(r#"""""#, triple_quoted)]
    TripleStr(bool),
    #[regex(r"#[^\n]*", allow_greedy = true)]
    Comment(&'src str),

    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("=")]
    Eq,
    #[token(",")]
    Comma,
    #[token(".")]
    Dot,
    #[token("..")]
    DotDot,
    #[token(":")]
    Colon,

    /// Text that starts no token.
    Error,
}

/// Consumes the rest of a `"""` string; reports whether it was closed.
fn triple_quoted<'src>(lex: &mut logos::Lexer<'src, Token<'src>>) -> bool {
    match lex.remainder().find(r#"""""#) {
        Some(end) => {
            lex.bump(end + 3);
            true
        }
        None => {
            lex.bump(lex.remainder().len());
            false
        }
    }
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let text = match self {
            Token::Material => "`material`",
            Token::Template => "`template`",
            Token::Pipeline => "`pipeline`",
            Token::Stage => "`stage`",
            Token::Job => "`job`",
            Token::Env => "`env`",
            Token::Run => "`run`",
            Token::Fetch => "`fetch`",
            Token::Into => "`into`",
            Token::Artifact => "`artifact`",
            Token::For => "`for`",
            Token::In => "`in`",
            Token::True => "`true`",
            Token::False => "`false`",
            Token::Ident(s) => return write!(f, "name `{s}`"),
            Token::Int(s) => return write!(f, "number `{s}`"),
            Token::Duration(s) => return write!(f, "duration `{s}`"),
            Token::Str(_) | Token::UnterminatedStr(_) | Token::TripleStr(_) => "string",
            Token::Comment(_) => "comment",
            Token::LBrace => "`{`",
            Token::RBrace => "`}`",
            Token::LBracket => "`[`",
            Token::RBracket => "`]`",
            Token::LParen => "`(`",
            Token::RParen => "`)`",
            Token::Eq => "`=`",
            Token::Comma => "`,`",
            Token::Dot => "`.`",
            Token::DotDot => "`..`",
            Token::Colon => "`:`",
            Token::Error => "invalid text",
        };
        f.write_str(text)
    }
}

impl Token<'_> {
    /// Keywords, for editors and the formatter.
    pub fn is_keyword(&self) -> bool {
        matches!(
            self,
            Token::Material
                | Token::Template
                | Token::Pipeline
                | Token::Stage
                | Token::Job
                | Token::Env
                | Token::Run
                | Token::Fetch
                | Token::Into
                | Token::Artifact
                | Token::For
                | Token::In
                | Token::True
                | Token::False
        )
    }
}

/// The tokens of one file, with comments kept apart for the formatter and the linter.
#[derive(Debug, Default)]
pub struct Lexed<'src> {
    /// Every token but comments, in order.
    pub tokens: Vec<(Token<'src>, Span)>,
    /// Comments, in order, `#` included.
    pub comments: Vec<(&'src str, Span)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Splits `text` into tokens.
pub fn lex(file: FileId, text: &str) -> Lexed<'_> {
    let mut out = Lexed::default();
    let mut lexer = Token::lexer(text);
    while let Some(result) = lexer.next() {
        let span = Span::from(lexer.span());
        match result {
            Ok(Token::Comment(c)) => out.comments.push((c, span)),
            Ok(token) => {
                if let Some(d) = token_problem(file, token, span) {
                    out.diagnostics.push(d);
                }
                out.tokens.push((token, span));
            }
            Err(()) => {
                let ch = text[span.range()].chars().next().unwrap_or('?');
                let help = if ch == '\'' {
                    "strings are written in double quotes: `\"text\"`"
                } else {
                    "names are letters, digits, `_` and `-`; text belongs in double quotes"
                };
                out.diagnostics.push(
                    Diagnostic::error(E0101, file, span, format!("unexpected character `{}`", printable(ch)))
                        .with_label("not part of any token")
                        .with_help(help),
                );
                out.tokens.push((Token::Error, span));
            }
        }
    }
    out
}

/// A character as it reads in a message: itself, or an escape where it would not show.
fn printable(ch: char) -> String {
    if ch.is_control() || (ch.is_whitespace() && ch != ' ') {
        ch.escape_default().to_string()
    } else {
        ch.to_string()
    }
}

fn token_problem(file: FileId, token: Token, span: Span) -> Option<Diagnostic> {
    match token {
        Token::UnterminatedStr(_) => Some(
            Diagnostic::error(E0102, file, span, "unterminated string")
                .with_label("this string has no closing `\"` on its line")
                .with_help("close it with `\"`, or use `\"\"\"` for a string of several lines"),
        ),
        Token::TripleStr(false) => Some(
            Diagnostic::error(E0102, file, Span::new(span.start, span.start + 3), "unterminated multi-line string")
                .with_label("this `\"\"\"` is never closed")
                .with_help("end the string with `\"\"\"`"),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Token<'_>> {
        lex(FileId(0), text).tokens.into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn lexes_the_basic_forms() {
        assert_eq!(
            kinds(r#"job a-1 { timeout = 1h30m run "x" } 1..4 -2"#),
            vec![
                Token::Job,
                Token::Ident("a-1"),
                Token::LBrace,
                Token::Ident("timeout"),
                Token::Eq,
                Token::Duration("1h30m"),
                Token::Run,
                Token::Str("\"x\""),
                Token::RBrace,
                Token::Int("1"),
                Token::DotDot,
                Token::Int("4"),
                Token::Int("-2"),
            ]
        );
    }

    #[test]
    fn signs_and_fractions_stay_in_a_duration_token() {
        assert_eq!(
            kinds("-5m 1.5m 1h1.5m -2"),
            vec![Token::Duration("-5m"), Token::Duration("1.5m"), Token::Duration("1h1.5m"), Token::Int("-2"),]
        );
        assert_eq!(kinds("1..4"), vec![Token::Int("1"), Token::DotDot, Token::Int("4")]);
    }

    #[test]
    fn unexpected_characters_are_shown_as_written() {
        let lexed = lex(FileId(0), "a = 'x'");
        assert_eq!(lexed.diagnostics[0].message, "unexpected character `'`");
        let bell = lex(FileId(0), "a = \u{7}");
        assert_eq!(bell.diagnostics[0].message, "unexpected character `\\u{7}`");
    }

    #[test]
    fn keeps_comments_apart() {
        let lexed = lex(FileId(0), "a = 1 # note\n");
        assert_eq!(lexed.comments.len(), 1);
        assert_eq!(lexed.comments[0].0, "# note");
        assert_eq!(lexed.tokens.len(), 3);
    }

    #[test]
    fn triple_quoted_strings_span_lines() {
        let lexed = lex(FileId(0), "run \"\"\"\n  a \"b\"\n  \"\"\" x");
        assert_eq!(lexed.tokens[1].0, Token::TripleStr(true));
        assert_eq!(lexed.tokens[2].0, Token::Ident("x"));
        assert!(lexed.diagnostics.is_empty());
    }

    #[test]
    fn bad_input_becomes_error_tokens() {
        let lexed = lex(FileId(0), "a = \"open\n b = @");
        assert_eq!(lexed.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(), vec!["E0102", "E0101"]);
        let unclosed = lex(FileId(0), "\"\"\" never");
        assert_eq!(unclosed.diagnostics[0].code, "E0102");
    }
}
