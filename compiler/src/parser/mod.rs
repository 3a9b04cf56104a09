//! Tokens to a syntax tree, recovering from errors so that one file yields every syntax error it
//! has and a partial tree that the checker and the language server can still use.
//!
//! - [`nesting`] runs first: it cuts out whatever is nested deeper than [`MAX_DEPTH`] (E0106), so
//!   the parser's recursion is bounded whatever the input;
//! - [`grammar`] is the grammar, written with chumsky, and decodes literals as it goes
//!   ([`strings`], [`durations`]; E0103, E0104, E0107, E0108);
//! - [`errors`] turns the grammar's errors into E0105 diagnostics.

mod durations;
pub use durations::{format as format_duration, parse as parse_duration};
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
    let mut sink = grammar::Sink { file, text, diags: Vec::new(), hints: Vec::new() };
    // Where nothing is read at the end, spans are empty right after the last token.
    let last_end = nesting.tokens.last().map_or(0, |(_, span)| span.end);
    let eoi = Span::new(last_end, last_end);
    let (members, errors) =
        grammar::file().parse_with_state(nesting.tokens.as_ref().split_token_span(eoi), &mut sink).into_output_errors();

    let mut diagnostics = sink.diags;
    let hints: std::collections::HashMap<usize, String> = sink.hints.into_iter().collect();
    // Recovery can report one spot twice (a missing name, then a missing body); the first report
    // is the one that explains it.
    // After a string that runs to the end of the file, the end of the file is no news.
    let ends_in_error = nesting.tokens.last().is_some_and(|(token, _)| errors::already_reported(token));
    let mut reported_at = std::collections::HashSet::new();
    for error in &errors {
        let Some(mut d) = errors::to_diagnostic(file, error, text, &nesting) else { continue };
        if let Some(hint) = hints.get(&d.span.start) {
            d.help = Some(hint.clone());
        }
        if ends_in_error && d.span.start == text.len() {
            continue;
        }
        if reported_at.insert(d.span.start) {
            diagnostics.push(d);
        }
    }
    diagnostics.extend(nesting.too_deep);
    diagnostic::sort(&mut diagnostics);
    (ast::File { members: members.unwrap_or_default(), span: Span::new(0, text.len()) }, diagnostics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::*;
    use crate::lexer::lex;

    fn parse_text(text: &str) -> (File, Vec<Diagnostic>) {
        let lexed = lex(FileId(0), text);
        let (file, mut diags) = parse(FileId(0), text, &lexed.tokens);
        diags.extend(lexed.diagnostics);
        (file, diags)
    }

    fn ok(text: &str) -> File {
        let (file, diags) = parse_text(text);
        assert!(diags.is_empty(), "{diags:#?}");
        file
    }

    fn codes(text: &str) -> Vec<&'static str> {
        let mut diags = parse_text(text).1;
        diagnostic::sort(&mut diags);
        diags.iter().map(|d| d.code).collect()
    }

    fn block(member: &Member) -> &Block {
        match member {
            Member::Block(b) => b,
            other => panic!("not a block: {other:?}"),
        }
    }

    fn field(member: &Member) -> &Field {
        match member {
            Member::Field(f) => f,
            other => panic!("not a field: {other:?}"),
        }
    }

    #[test]
    fn spans_cover_their_text() {
        let text = "pipeline p {\n  stage s { job j { timeout = 1h30m run \"make\" { when = failed } } }\n}\n";
        let file = ok(text);
        assert_eq!(file.span, Span::new(0, text.len()));
        let p = block(&file.members[0]);
        assert_eq!(&text[p.span.range()], text.trim_end());
        assert_eq!(&text[p.kind_span.range()], "pipeline");
        let s = block(&p.body.members()[0]);
        let Body::Members { span, .. } = &s.body else { panic!() };
        assert!(text[span.range()].starts_with('{') && text[span.range()].ends_with('}'));
        let j = block(&s.body.members()[0]);
        let timeout = field(&j.body.members()[0]);
        assert_eq!(&text[timeout.span.range()], "timeout = 1h30m");
        assert_eq!(&text[timeout.value.span.range()], "1h30m");
        assert_eq!(timeout.value.kind, ExprKind::Duration(5400));
        let Member::Task(task) = &j.body.members()[1] else { panic!() };
        assert_eq!(&text[task.span.range()], "run \"make\" { when = failed }");
        assert_eq!(&text[task.kind_span.range()], "run");
        assert_eq!(&text[task.options[0].span.range()], "when = failed");
    }

    #[test]
    fn values() {
        let file =
            ok(r#"a = "x" b = 3 c = -2 d = true e = [1, "y",] f = 1..4 g = secret("k") h = build.test i = manual"#);
        let kinds: Vec<_> = file.members.iter().map(|m| field(m).value.kind.clone()).collect();
        assert_eq!(kinds[0], ExprKind::Str(StrLit::plain("x")));
        assert_eq!(kinds[1], ExprKind::Int(3));
        assert_eq!(kinds[2], ExprKind::Int(-2));
        assert_eq!(kinds[3], ExprKind::Bool(true));
        assert!(matches!(&kinds[4], ExprKind::List(items) if items.len() == 2));
        assert_eq!(kinds[5], ExprKind::Range(1, 4));
        assert!(matches!(&kinds[6], ExprKind::Call(call) if call.name.name == "secret" && call.args.len() == 1));
        let ExprKind::Path(path) = &kinds[7] else { panic!() };
        assert_eq!(path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["build", "test"]);
        assert!(matches!(&kinds[8], ExprKind::Path(p) if p.len() == 1));
    }

    #[test]
    fn blocks_of_every_kind() {
        let text = "template stage t(a: string, n: int = 2,) { job j = other(x = a,) }\n\
                    pipeline p = t(a = \"v\")\n\
                    material m { git = \"g\" }\n\
                    job k for s in discover(\"ls\") { env { A = \"1\" } fetch a.b.c into \"d\" artifact out = \"o\" }";
        let file = ok(text);
        let t = block(&file.members[0]);
        assert_eq!(t.kind, BlockKind::Template);
        assert_eq!(t.template_of.map(|(k, s)| (k, &text[s.range()])), Some((BlockKind::Stage, "stage")));
        assert_eq!(t.params.len(), 2);
        assert_eq!(&text[t.params[1].span.range()], "n: int = 2");
        let Body::Instance(call) = &block(&t.body.members()[0]).body else { panic!() };
        assert_eq!(&text[call.span.range()], "other(x = a,)");
        assert_eq!(&text[call.args[0].span.range()], "x = a");
        let Body::Instance(call) = &block(&file.members[1]).body else { panic!() };
        assert_eq!(call.template.name, "t");
        let k = block(&file.members[3]);
        let fan = k.fan_out.as_ref().map(|f| (f.var.name.as_str(), &text[f.span.range()]));
        assert_eq!(fan, Some(("s", "for s in discover(\"ls\")")));
        let env = block(&k.body.members()[0]);
        assert_eq!((env.kind, env.name.is_none()), (BlockKind::Env, true));
        let Member::Task(fetch) = &k.body.members()[1] else { panic!() };
        let TaskKind::Fetch { into: Some(into), .. } = &fetch.kind else { panic!() };
        assert_eq!(&text[into.span.range()], "\"d\"");
        let Member::Artifact(a) = &k.body.members()[2] else { panic!() };
        assert_eq!(&text[a.span.range()], "artifact out = \"o\"");
    }

    #[test]
    fn interpolation_spans_point_at_names() {
        let text = "job j { run \"a #{ x } b\" run \"\"\"\n    c #{y}\n  \"\"\" }";
        let file = ok(text);
        let names: Vec<&str> = block(&file.members[0])
            .body
            .members()
            .iter()
            .flat_map(|m| match m {
                Member::Task(t) => match &t.kind {
                    TaskKind::Run { command: Expr { kind: ExprKind::Str(s), .. }, .. } => s.parts.clone(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            })
            .filter_map(|p| match p {
                StrPart::Interp(id) => Some(&text[id.span.range()]),
                StrPart::Text(_) => None,
            })
            .collect();
        assert_eq!(names, ["x", "y"]);
    }

    #[test]
    fn every_code_of_the_parser() {
        assert_eq!(codes("a = @"), ["E0101"]);
        assert_eq!(codes("a = \"open"), ["E0102"]);
        assert_eq!(codes(r#"a = "\q""#), ["E0103"]);
        assert_eq!(codes("a = 20x"), ["E0104"]);
        assert_eq!(codes("a b"), ["E0105"]);
        assert_eq!(codes(&format!("a = {}{}", "[".repeat(65), "]".repeat(65))), ["E0106"]);
        assert_eq!(codes(r##"a = "#{1}""##), ["E0107"]);
        assert_eq!(codes("a = 9223372036854775808"), ["E0108"]);
        assert_eq!(codes("a = -9223372036854775808"), Vec::<&str>::new());
    }

    #[test]
    fn sixty_four_levels_are_fine() {
        assert!(codes(&format!("a = {}{}", "[".repeat(64), "]".repeat(64))).is_empty());
        let mut text = String::from("pipeline p ");
        for _ in 0..32 {
            text.push_str("{ stage s ");
        }
        text.push_str("{ }");
        text.push_str(&"}".repeat(32));
        assert_eq!(codes(&text), Vec::<&str>::new());
    }

    #[test]
    fn lexer_errors_are_not_reported_twice() {
        assert_eq!(codes("job @ { run \"x }"), ["E0101", "E0102"]);
        let (file, _) = parse_text("a = \"\"\"never closed");
        assert_eq!(field(&file.members[0]).value.kind, ExprKind::Error);
    }

    #[test]
    fn missing_parts_leave_a_usable_tree() {
        let (file, diags) = parse_text("pipeline { stage s { job j run \"x\" } }\njob k = \njob = t()");
        assert_eq!(diags.len(), 4, "{diags:#?}");
        let p = block(&file.members[0]);
        assert!(p.name.is_none());
        let s = block(&p.body.members()[0]);
        let j = block(&s.body.members()[0]);
        assert_eq!(j.body, Body::Missing);
        assert!(matches!(s.body.members()[1], Member::Task(_)));
        assert_eq!(block(&file.members[1]).body, Body::Missing);
        assert!(block(&file.members[2]).name.is_none());
    }

    #[test]
    fn a_missing_value_has_an_empty_span_after_the_equals_sign() {
        let text = "job j { timeout =\n}";
        let (file, diags) = parse_text(text);
        assert_eq!(diags.len(), 1);
        let f = field(&block(&file.members[0]).body.members()[0]);
        assert_eq!(f.value.kind, ExprKind::Error);
        assert_eq!(f.value.span, Span::new(17, 17));
        assert_eq!(&text[f.span.range()], "timeout =");
    }

    #[test]
    fn an_unclosed_brace_is_one_error_pointing_at_it() {
        let text = "pipeline p {\n  stage s {\n    job j { run \"x\" }\n";
        let (file, diags) = parse_text(text);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!(diags[0].message, "expected `}`, found end of file");
        assert_eq!(diags[0].span, Span::new(text.len(), text.len()));
        assert_eq!(
            diags[0].labels[0].span,
            Span::new(text.find("s {").unwrap_or(0) + 2, text.find("s {").unwrap_or(0) + 3)
        );
        let s = block(&block(&file.members[0]).body.members()[0]);
        assert_eq!(s.body.members().len(), 1);
    }

    #[test]
    fn junk_becomes_error_members() {
        let text = "material m { git = \"x\" \"y\" 3 [a = 1] branch = \"b\" }";
        let (file, diags) = parse_text(text);
        assert_eq!(diags.len(), 1);
        let members = block(&file.members[0]).body.members();
        assert_eq!(members.len(), 3);
        assert_eq!(&text[members[1].span().range()], "\"y\" 3 [a = 1]");
        assert_eq!(field(&members[2]).name.name, "branch");
    }
}
