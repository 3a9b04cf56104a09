//! A pass over the tokens before parsing: matches `{ [ (` with their closers, cuts out whatever is
//! nested deeper than [`MAX_DEPTH`] (E0106), and remembers which delimiters are left open so that
//! syntax errors at the end of the file can point at them.

use crate::codes::Code::E0106;
use crate::diagnostic::Diagnostic;
use crate::lexer::Token;
use crate::source::{FileId, Span};
use std::borrow::Cow;

/// The deepest nesting of `{`, `[` and `(` the parser reads.
pub const MAX_DEPTH: usize = 64;

/// The tokens the parser may read safely, and what the pass learnt about delimiters.
pub(crate) struct Nesting<'t, 's> {
    pub tokens: Cow<'t, [(Token<'s>, Span)]>,
    /// E0106, for the first delimiter nested too deep.
    pub too_deep: Option<Diagnostic>,
    /// The innermost delimiter still open at the end of the file.
    pub unclosed: Option<(Token<'s>, Span)>,
    /// Closing delimiters that close nothing, in order.
    pub stray: Vec<Span>,
}

pub(crate) fn closer_of(open: Token<'_>) -> Option<Token<'static>> {
    match open {
        Token::LBrace => Some(Token::RBrace),
        Token::LBracket => Some(Token::RBracket),
        Token::LParen => Some(Token::RParen),
        _ => None,
    }
}

pub(crate) fn is_closer(token: Token<'_>) -> bool {
    matches!(token, Token::RBrace | Token::RBracket | Token::RParen)
}

/// Runs the pass. Regions nested too deep are replaced by one [`Token::Error`] each (an error the
/// parser treats as already reported), so the parser never descends past [`MAX_DEPTH`].
pub(crate) fn analyze<'t, 's>(file: FileId, tokens: &'t [(Token<'s>, Span)]) -> Nesting<'t, 's> {
    let mut stack: Vec<(Token<'s>, Span)> = Vec::new();
    let mut stray = Vec::new();
    let mut too_deep = None;
    let mut rewritten: Option<Vec<(Token<'s>, Span)>> = None;
    let mut i = 0;
    while i < tokens.len() {
        let (token, span) = tokens[i];
        if closer_of(token).is_some() {
            if stack.len() >= MAX_DEPTH {
                let end = region_end(tokens, i);
                let region = Span::new(span.start, tokens[end].1.end);
                if too_deep.is_none() {
                    too_deep = Some(deep_diagnostic(file, span));
                }
                rewritten.get_or_insert_with(|| tokens[..i].to_vec()).push((Token::Error, region));
                i = end + 1;
                continue;
            }
            stack.push((token, span));
        } else if is_closer(token) {
            match stack.iter().rposition(|&(open, _)| closer_of(open) == Some(token)) {
                Some(at) => stack.truncate(at),
                None => stray.push(span),
            }
        }
        if let Some(out) = rewritten.as_mut() {
            out.push((token, span));
        }
        i += 1;
    }
    Nesting {
        tokens: rewritten.map_or(Cow::Borrowed(tokens), Cow::Owned),
        too_deep,
        unclosed: stack.last().copied(),
        stray,
    }
}

/// Index of the token closing the region that opens at `start`, or the last token.
fn region_end(tokens: &[(Token<'_>, Span)], start: usize) -> usize {
    let mut depth = 0usize;
    for (i, (token, _)) in tokens.iter().enumerate().skip(start) {
        if closer_of(*token).is_some() {
            depth += 1;
        } else if is_closer(*token) {
            depth -= 1;
            if depth == 0 {
                return i;
            }
        }
    }
    tokens.len() - 1
}

/// For an unclosed `{` at `after`: the last `{ }` pair after it whose `}` starts a line indented
/// differently from the line of its `{`. Such a `}` was probably meant for an outer block, and
/// the `{` it closes is the one missing its `}`.
pub(crate) fn misindented_pair(text: &str, tokens: &[(Token<'_>, Span)], after: usize) -> Option<(Span, Span)> {
    let mut open: Vec<Span> = Vec::new();
    let mut found = None;
    for &(token, span) in tokens {
        match token {
            Token::LBrace => open.push(span),
            Token::RBrace => {
                let Some(start) = open.pop() else { continue };
                let (close_indent, starts_line) = indentation(text, span.start);
                if start.start > after && starts_line && close_indent != indentation(text, start.start).0 {
                    found = Some((start, span));
                }
            }
            _ => {}
        }
    }
    found
}

/// The indentation of the line holding `offset`, and whether `offset` is the line's first text.
fn indentation(text: &str, offset: usize) -> (usize, bool) {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
    (indent, line_start + indent == offset)
}

fn deep_diagnostic(file: FileId, span: Span) -> Diagnostic {
    Diagnostic::error(E0106, file, span, "nesting too deep")
        .with_label(format!("this is more than {MAX_DEPTH} levels of `{{`, `[` and `(` deep"))
        .with_note("the parser skips everything inside this delimiter")
        .with_help(format!("nest blocks, lists and calls at most {MAX_DEPTH} deep"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::lex;

    #[test]
    fn finds_the_innermost_unclosed_delimiter_and_stray_closers() {
        let text = "a { b [ ] ( ) } ) c { d (";
        let lexed = lex(FileId(0), text);
        let n = analyze(FileId(0), &lexed.tokens);
        let (token, span) = n.unclosed.unwrap_or((Token::Error, Span::default()));
        assert_eq!(token, Token::LParen);
        assert_eq!(span.start, text.rfind('(').unwrap_or_default());
        assert_eq!(n.stray, vec![Span::new(16, 17)]);
        assert!(n.too_deep.is_none());
        assert!(matches!(n.tokens, Cow::Borrowed(_)));
    }

    #[test]
    fn cuts_out_regions_nested_too_deep() {
        let text = format!("x = {}1{} y = 2", "[".repeat(70), "]".repeat(70));
        let lexed = lex(FileId(0), &text);
        let n = analyze(FileId(0), &lexed.tokens);
        let Some(d) = n.too_deep else { panic!("nothing was reported nested too deep") };
        assert_eq!(d.code, "E0106");
        assert_eq!(d.span, Span::new(4 + MAX_DEPTH, 5 + MAX_DEPTH));
        // `x`, `=`, 64 `[`, the cut region, 64 `]`, `y`, `=`, `2`.
        assert_eq!(n.tokens.len(), 2 + 64 + 1 + 64 + 3);
        assert_eq!(n.tokens[2 + 64].0, Token::Error);
        assert!(n.unclosed.is_none());
    }

    #[test]
    fn an_unclosed_deep_region_runs_to_the_end() {
        let text = "{".repeat(100_000);
        let lexed = lex(FileId(0), &text);
        let n = analyze(FileId(0), &lexed.tokens);
        assert!(n.too_deep.is_some());
        assert_eq!(n.tokens.len(), MAX_DEPTH + 1);
        assert_eq!(n.tokens[MAX_DEPTH].1, Span::new(MAX_DEPTH, 100_000));
    }
}
