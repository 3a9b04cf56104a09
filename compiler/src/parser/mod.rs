//! Tokens to a syntax tree, recovering from errors so that one file yields every syntax error it
//! has and a partial tree that the checker and the language server can still use.
//!
//! - [`nesting`] runs first: it cuts out whatever is nested deeper than [`MAX_DEPTH`] (E0106), so
//!   the parser's recursion is bounded whatever the input;
//! - [`grammar`] is the grammar, written with chumsky, and decodes literals as it goes
//!   ([`strings`], [`durations`]; E0103, E0104, E0107, E0108);
//! - [`errors`] turns the grammar's errors into E0105 diagnostics.

mod durations;
mod errors;
mod grammar;
mod nesting;
mod strings;

pub use nesting::MAX_DEPTH;

use crate::ast;
use crate::diagnostic::{self, Diagnostic};
use crate::lexer::Token;
use crate::source::{FileId, Span};
use chumsky::input::Input as _;
use chumsky::Parser as _;

/// Parses the tokens of one file (comments excluded); `text` is the file's source.
///
/// Never fails: the tree holds `Member::Error`, `ExprKind::Error` and `Body::Missing` where the
/// text could not be read, and the diagnostics say why. Tokens the lexer already reported
/// (`Error`, unterminated strings) are not reported again.
pub fn parse(file: FileId, text: &str, tokens: &[(Token<'_>, Span)]) -> (ast::File, Vec<Diagnostic>) {
    let nesting = nesting::analyze(file, tokens);
    let mut sink = grammar::Sink { file, text, diags: Vec::new() };
    let eoi = Span::new(text.len(), text.len());
    let (members, errors) =
        grammar::file().parse_with_state(nesting.tokens.as_ref().split_token_span(eoi), &mut sink).into_output_errors();

    let mut diagnostics = sink.diags;
    // Recovery can report one spot twice (a missing name, then a missing body); the first report
    // is the one that explains it.
    let mut reported_at: Vec<usize> = Vec::new();
    for error in &errors {
        let Some(d) = errors::to_diagnostic(file, error, text.len(), &nesting) else { continue };
        if !reported_at.contains(&d.span.start) {
            reported_at.push(d.span.start);
            diagnostics.push(d);
        }
    }
    diagnostics.extend(nesting.too_deep);
    diagnostic::sort(&mut diagnostics);
    (ast::File { members: members.unwrap_or_default(), span: Span::new(0, text.len()) }, diagnostics)
}
