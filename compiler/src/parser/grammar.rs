//! The grammar of `.pw` files as chumsky parsers over the tokens, with error recovery.
//!
//! Recovery follows three rules, so that a file yields every error and a usable tree:
//! - once a member's first token is read, the member never fails: a missing token is reported
//!   and treated as present (names become `None`, values [`ExprKind::Error`], bodies
//!   [`Body::Missing`]);
//! - text that cannot start a member is skipped up to the next token that can (a keyword, a name,
//!   the body's `}`), balanced `{ [ (` groups as a whole, and kept as [`Member::Error`];
//! - a broken list, call or parameter list becomes an error as a whole: the text from where it
//!   breaks is skipped up to its closing delimiter or, when there is none, the next member
//!   boundary; nothing is read twice, so recovery stays linear however deep the nesting.
//!
//! Members and values are dispatched on their first token rather than by trying alternatives in
//! turn, which keeps the happy path free of failed attempts and their error bookkeeping.

use super::durations;
use super::errors::{already_reported, expect, starts_member, SyntaxError};
use super::nesting::{closer_of, is_closer};
use super::strings;
use crate::ast::*;
use crate::codes::Code::{E0105, E0108};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::lexer::Token;
use crate::source::{FileId, Span};
use chumsky::error::{LabelError, RichPattern};
use chumsky::input::{Checkpoint, Cursor, InputRef, MappedInput};
use chumsky::inspector::Inspector;
use chumsky::prelude::*;
use chumsky::util::MaybeRef;

/// The token input: a slice of `(token, span)` pairs.
pub(crate) type In<'t, 's> = MappedInput<'t, Token<'s>, Span, &'t [(Token<'s>, Span)]>;
pub(crate) type Ex<'t, 's> = extra::Full<SyntaxError<'t, 's>, Sink<'s>, ()>;
type Boxed<'t, 's, O> = chumsky::Boxed<'t, 't, In<'t, 's>, O, Ex<'t, 's>>;
type Ref<'t, 'p, 's> = InputRef<'t, 'p, In<'t, 's>, Ex<'t, 's>>;

/// The parser's state: what it needs to decode literals, and the diagnostics that are not syntax
/// errors (bad escapes, durations, numbers). Diagnostics from input the parser backtracks over are
/// dropped with it.
pub(crate) struct Sink<'s> {
    pub file: FileId,
    pub text: &'s str,
    pub diags: Vec<Diagnostic>,
    /// Help for the syntax error found at an offset, if there is one there.
    pub hints: Vec<(usize, String)>,
}

impl<'t, I: Input<'t>> Inspector<'t, I> for Sink<'_> {
    type Checkpoint = (usize, usize);

    fn on_token(&mut self, _: &I::Token) {}

    fn on_save<'p>(&self, _: &Cursor<'t, 'p, I>) -> (usize, usize) {
        (self.diags.len(), self.hints.len())
    }

    fn on_rewind<'p>(&mut self, checkpoint: &Checkpoint<'t, 'p, I, (usize, usize)>) {
        let (diags, hints) = *checkpoint.inspector();
        self.diags.truncate(diags);
        self.hints.truncate(hints);
    }
}

impl chumsky::span::Span for Span {
    type Context = ();
    type Offset = usize;

    fn new((): (), range: std::ops::Range<usize>) -> Self {
        Span::new(range.start, range.end)
    }

    fn context(&self) {}

    fn start(&self) -> usize {
        self.start
    }

    fn end(&self) -> usize {
        self.end
    }
}

/// The whole file: its members.
pub(crate) fn file<'t, 's: 't>() -> Boxed<'t, 's, Vec<Member>> {
    let member = member(expr());
    choice((member, junk(Level::Top), last_resort())).repeated().collect().boxed()
}

// ----- members -----

fn member<'t, 's: 't>(expr: Boxed<'t, 's, Expr>) -> Boxed<'t, 's, Member> {
    recursive(move |member| {
        let member: Boxed<'t, 's, Member> = member.boxed();
        let value = expr_or_missing(expr.clone());
        let braces = braces(member);
        let body = body_recovery(braces.clone());
        let body_or_instance = body_recovery(
            choice((
                braces.clone(),
                just(Token::Eq).ignore_then(
                    call(value.clone())
                        .map(|c| Body::Instance(Box::new(c)))
                        .recover_with(via_parser(empty().to(Body::Missing))),
                ),
            ))
            .boxed(),
        );
        let block = |kind: BlockKind, token: Token<'s>| keyword(token).map(move |span| (kind, span));
        let plain = |kind, token, body: Boxed<'t, 's, Body>| {
            block(kind, token).then(opt_ident()).then(body).map_with(|(((kind, kind_span), name), body), e| {
                Member::block(Block {
                    kind,
                    kind_span,
                    template_of: None,
                    name,
                    params: Vec::new(),
                    fan_out: None,
                    body,
                    span: e.span(),
                })
            })
        };
        let material = plain(BlockKind::Material, Token::Material, body.clone());
        let pipeline = plain(BlockKind::Pipeline, Token::Pipeline, body_or_instance.clone());
        let stage = plain(BlockKind::Stage, Token::Stage, body_or_instance.clone());
        let job = block(BlockKind::Job, Token::Job)
            .then(opt_ident())
            .then(for_clause(value.clone()).or_not().map(Option::flatten))
            .then(body_or_instance)
            .map_with(|((((kind, kind_span), name), fan_out), body), e| {
                Member::block(Block {
                    kind,
                    kind_span,
                    template_of: None,
                    name,
                    params: Vec::new(),
                    fan_out: fan_out.map(Box::new),
                    body,
                    span: e.span(),
                })
            });
        let env = block(BlockKind::Env, Token::Env).then(body.clone()).map_with(|((kind, kind_span), body), e| {
            Member::block(Block {
                kind,
                kind_span,
                template_of: None,
                name: None,
                params: Vec::new(),
                fan_out: None,
                body,
                span: e.span(),
            })
        });
        let template = block(BlockKind::Template, Token::Template)
            .then(template_kind())
            .then(opt_ident())
            .then(params(value.clone()))
            .then(body)
            .map_with(|(((((kind, kind_span), template_of), name), params), body), e| {
                Member::block(Block { kind, kind_span, template_of, name, params, fan_out: None, body, span: e.span() })
            });
        let (material, pipeline, stage) = (material.boxed(), pipeline.boxed(), stage.boxed());
        let (job, env, template) = (job.boxed(), env.boxed(), template.boxed());
        let (task, artifact) = (task(value.clone()), artifact(value.clone()));
        let field = field_or_unknown_block(expr.clone(), value, braces);
        // The first token decides, so that no alternative is tried in vain.
        custom(move |inp: &mut Ref<'t, '_, 's>| match inp.peek() {
            Some(Token::Material) => inp.parse(&material),
            Some(Token::Pipeline) => inp.parse(&pipeline),
            Some(Token::Stage) => inp.parse(&stage),
            Some(Token::Job) => inp.parse(&job),
            Some(Token::Env) => inp.parse(&env),
            Some(Token::Template) => inp.parse(&template),
            Some(Token::Run | Token::Fetch) => inp.parse(&task),
            Some(Token::Artifact) => inp.parse(&artifact),
            Some(Token::Ident(_)) => inp.parse(&field),
            _ => Err(expected_here(inp, &[expect::FIELD, expect::BLOCK, expect::TASK, expect::ARTIFACT])),
        })
    })
    .boxed()
}

/// Members collected into a vector of exactly their number: the trees of a workspace stay in
/// memory while it is checked, and spare room in every body was most of their size.
struct Members(Vec<Member>);

impl FromIterator<Member> for Members {
    fn from_iter<I: IntoIterator<Item = Member>>(iter: I) -> Self {
        let mut members: Vec<Member> = iter.into_iter().collect();
        members.shrink_to_fit();
        Members(members)
    }
}

/// `{ members }`; the `}` may be missing at the end of the file.
fn braces<'t, 's: 't>(member: Boxed<'t, 's, Member>) -> Boxed<'t, 's, Body> {
    let members = choice((member, junk(Level::Body))).repeated().collect::<Members>();
    just(Token::LBrace)
        .ignore_then(members)
        .then_ignore(expect_token(Token::RBrace))
        .map_with(|members, e| Body::Members { members: members.0, span: e.span() })
        .boxed()
}

/// A block's body, or `Body::Missing` when it is not there. Stray text before a `{` (or the `=`
/// of an instance) is skipped and reported.
fn body_recovery<'t, 's: 't>(body: Boxed<'t, 's, Body>) -> Boxed<'t, 's, Body> {
    let skip_to_body = custom(|inp: &mut Ref<'t, '_, 's>| {
        let mut skipped = false;
        loop {
            if skipped && matches!(inp.peek(), Some(Token::LBrace | Token::Eq)) {
                return Ok(());
            }
            if at_boundary(inp, Level::Header) {
                return Err(no_match(inp));
            }
            skip_unit(inp);
            skipped = true;
        }
    });
    body.clone()
        .recover_with(via_parser(skip_to_body.ignore_then(body)))
        .recover_with(via_parser(empty().to(Body::Missing)))
        .boxed()
}

/// `= template(args)` after the `=`.
fn call<'t, 's: 't>(value: Boxed<'t, 's, Expr>) -> Boxed<'t, 's, TemplateCall> {
    let arg = ident().then_ignore(expect_token(Token::Eq)).then(value).map_with(|(name, value), e| Arg {
        name,
        value,
        span: e.span(),
    });
    let args = delimited_list(arg.boxed(), Token::LParen, Token::RParen).recover_with(via_parser(empty().to(None)));
    ident()
        .labelled(expect::TEMPLATE_NAME)
        .then(args)
        .map_with(|(template, args), e| TemplateCall { template, args: args.unwrap_or_default(), span: e.span() })
        .boxed()
}

/// `for var in source` on a job; `None` when the variable is missing (reported).
fn for_clause<'t, 's: 't>(value: Boxed<'t, 's, Expr>) -> Boxed<'t, 's, Option<ForClause>> {
    just(Token::For)
        .ignore_then(opt_ident())
        .then_ignore(expect_token(Token::In))
        .then(value)
        .map_with(|(var, source), e| var.map(|var| ForClause { var, source, span: e.span() }))
        .boxed()
}

/// The kind after `template`.
fn template_kind<'t, 's: 't>() -> Boxed<'t, 's, Option<(BlockKind, Span)>> {
    select! {
        Token::Job = e => Some((BlockKind::Job, e.span())),
        Token::Stage = e => Some((BlockKind::Stage, e.span())),
        Token::Pipeline = e => Some((BlockKind::Pipeline, e.span())),
    }
    .labelled(expect::TEMPLATE_KIND)
    .recover_with(via_parser(empty().to(None)))
    .boxed()
}

/// `(name: type [= default], ...)`; empty when broken or missing (reported).
fn params<'t, 's: 't>(value: Boxed<'t, 's, Expr>) -> Boxed<'t, 's, Vec<Param>> {
    let param = ident()
        .then_ignore(just(Token::Colon))
        .then(ident())
        .then(just(Token::Eq).ignore_then(value).or_not())
        .map_with(|((name, ty), default), e| Param { name, ty, default, span: e.span() });
    delimited_list(param.boxed(), Token::LParen, Token::RParen)
        .map(Option::unwrap_or_default)
        .recover_with(via_parser(empty().to(Vec::new())))
        .boxed()
}

/// `{ field = value ... }` after a task or an artifact, or nothing.
fn options<'t, 's: 't>(value: Boxed<'t, 's, Expr>) -> Boxed<'t, 's, Vec<Field>> {
    let field = field(value);
    just(Token::LBrace)
        .ignore_then(choice((field.map(Some), junk(Level::Options).map(|_| None))).repeated().collect::<Vec<_>>())
        .then_ignore(expect_token(Token::RBrace))
        .map(|fields| fields.into_iter().flatten().collect::<Vec<_>>())
        .or_not()
        .map(Option::unwrap_or_default)
        .boxed()
}

/// `run value [in value] [options]` or `fetch value [into value] [options]`.
fn task<'t, 's: 't>(value: Boxed<'t, 's, Expr>) -> Boxed<'t, 's, Member> {
    let options = options(value.clone());
    let run = keyword(Token::Run)
        .then(value.clone())
        .then(just(Token::In).ignore_then(value.clone()).or_not())
        .then_ignore(hint_at(Token::Into, "a `run` names its folder with `in`: `run \"make\" in \"services/api\"`"))
        .map(|((span, command), dir)| (span, TaskKind::Run { command, dir }));
    let fetch = keyword(Token::Fetch)
        .then(value.clone())
        .then(just(Token::Into).ignore_then(value).or_not())
        .then_ignore(hint_at(
            Token::In,
            "a `fetch` names its folder with `into`: `fetch build.compile.app into \"bin\"`",
        ))
        .map(|((span, source), into)| (span, TaskKind::Fetch { source, into }));
    choice((run, fetch))
        .then(options)
        .map_with(|((kind_span, kind), options), e| Member::task(Task { kind, kind_span, options, span: e.span() }))
        .boxed()
}

/// Reads nothing: where the next token is `token`, which cannot stand there, the syntax error
/// reported at it gets `help`.
fn hint_at<'t, 's: 't>(token: Token<'s>, help: &'static str) -> impl Parser<'t, In<'t, 's>, (), Ex<'t, 's>> + Clone {
    custom(move |inp: &mut Ref<'t, '_, 's>| {
        let (next, span) = peek_spanned(inp);
        if next == Some(token) {
            inp.state().hints.push((span.start, help.to_string()));
        }
        Ok(())
    })
}

/// `artifact name = path [options]`.
fn artifact<'t, 's: 't>(value: Boxed<'t, 's, Expr>) -> Boxed<'t, 's, Member> {
    just(Token::Artifact)
        .ignore_then(opt_ident())
        .then_ignore(expect_token(Token::Eq))
        .then(value.clone())
        .then(options(value))
        .map_with(|((name, path), options), e| match name {
            Some(name) => Member::artifact(Artifact { name, path, options, span: e.span() }),
            None => Member::Error(e.span()),
        })
        .boxed()
}

/// `name = value`.
fn field<'t, 's: 't>(value: Boxed<'t, 's, Expr>) -> Boxed<'t, 's, Field> {
    ident()
        .then_ignore(expect_token(Token::Eq))
        .then(value)
        .map_with(|(name, value), e| Field { name, value, span: e.span() })
        .labelled(expect::FIELD)
        .boxed()
}

/// `name = value`, or `word [name] { ... }`: a block whose keyword is misspelt.
fn field_or_unknown_block<'t, 's: 't>(
    expr: Boxed<'t, 's, Expr>,
    value: Boxed<'t, 's, Expr>,
    braces: Boxed<'t, 's, Body>,
) -> Boxed<'t, 's, Member> {
    // After a missing `=`, a value that is missing too is not reported a second time.
    let quiet_value = expr.or(empty().map_with(|(), e| Expr { kind: ExprKind::Error, span: gap(e.span()) }));
    let looks_like_block = custom(|inp: &mut Ref<'t, '_, 's>| {
        let checkpoint = inp.save();
        let mut next = inp.next();
        if matches!(next, Some(Token::Ident(_))) {
            next = inp.next();
        }
        inp.rewind(checkpoint);
        if next == Some(Token::LBrace) {
            Ok(())
        } else {
            Err(no_match(inp))
        }
    });
    let unknown_block = looks_like_block.ignore_then(ident().or_not()).then(braces).map(|_| ());
    ident()
        .then(
            choice((just(Token::Eq).ignore_then(value.clone()).map(Rest::Value), unknown_block.map(|()| Rest::Block)))
                .recover_with(via_parser(quiet_value.map(Rest::MissingEq))),
        )
        .map_with(|(name, rest), e| match rest {
            Rest::Value(value) => Member::field(Field { name, value, span: e.span() }),
            Rest::MissingEq(value) => {
                // `rnu "make"`: a misspelt task rather than a field without `=`.
                if value.kind != ExprKind::Error {
                    if let Some(task) = did_you_mean(&name.name, TASK_KEYWORDS) {
                        let state: &mut Sink = e.state();
                        state.hints.push((value.span.start, format!("did you mean `{task}`?")));
                    }
                }
                Member::field(Field { name, value, span: e.span() })
            }
            Rest::Block => {
                let help = match did_you_mean(&name.name, BLOCK_KEYWORDS) {
                    Some(keyword) => format!("did you mean `{keyword}`?"),
                    None => "the blocks are `material`, `pipeline`, `stage`, `job`, `env` and `template`".to_string(),
                };
                let state: &mut Sink = e.state();
                state.diags.push(
                    Diagnostic::error(E0105, state.file, name.span, format!("unknown block `{}`", name.name))
                        .with_label("not a kind of block")
                        .with_help(help),
                );
                Member::Error(e.span())
            }
        })
        .boxed()
}

/// What follows the name of a field.
#[derive(Clone)]
enum Rest {
    /// `= value`
    Value(Expr),
    /// A value with no `=` before it (reported).
    MissingEq(Expr),
    /// `{ ... }`: the name was meant as a block keyword (reported).
    Block,
}

const TASK_KEYWORDS: [&str; 3] = ["run", "fetch", "artifact"];
const BLOCK_KEYWORDS: [&str; 6] = ["material", "pipeline", "stage", "job", "env", "template"];

// ----- values -----

fn expr<'t, 's: 't>() -> Boxed<'t, 's, Expr> {
    recursive(|expr| {
        let expr: Boxed<'t, 's, Expr> = expr.boxed();
        let string = select! { Token::Str(_) => false, Token::TripleStr(true) => true }.map_with(|multiline, e| {
            let span = e.span();
            let state: &mut Sink = e.state();
            ExprKind::Str(strings::decode(state.file, state.text, span, multiline, &mut state.diags))
        });
        let int = select! { Token::Int(s) = e => (s, e.span()) }.labelled(expect::NUMBER);
        let number = int
            .then(just(Token::DotDot).ignore_then(int.map(Some).recover_with(via_parser(empty().to(None)))).or_not())
            .map_with(|(start, end), e| {
                let state: &mut Sink = e.state();
                let from = read_int(state, start);
                match end {
                    None => from.map_or(ExprKind::Error, ExprKind::Int),
                    Some(None) => ExprKind::Error,
                    Some(Some(end)) => match (from, read_int(state, end)) {
                        (Some(a), Some(b)) => ExprKind::Range(a, b),
                        _ => ExprKind::Error,
                    },
                }
            });
        let duration =
            select! { Token::Duration(s) = e => (s, e.span()) }.map_with(
                |(literal, span), e| match durations::seconds(literal) {
                    Ok(seconds) => ExprKind::Duration(seconds),
                    Err(error) => {
                        let state: &mut Sink = e.state();
                        state.diags.push(durations::diagnostic(state.file, span, literal, &error));
                        ExprKind::Error
                    }
                },
            );
        let boolean = select! { Token::True => ExprKind::Bool(true), Token::False => ExprKind::Bool(false) };
        let list = delimited_list(expr.clone(), Token::LBracket, Token::RBracket)
            .map(|items| items.map_or(ExprKind::Error, ExprKind::List));
        let args = delimited_list(expr, Token::LParen, Token::RParen);
        let segments = just(Token::Dot).ignore_then(opt_ident()).repeated().collect::<Vec<_>>();
        let word = ident().then(args.map(Ok).or(segments.map(Err))).map(|(name, rest)| match rest {
            Ok(Some(args)) => ExprKind::Call(Box::new(Call { name, args })),
            Ok(None) => ExprKind::Error,
            Err(segments) => {
                let mut path = Vec::with_capacity(segments.len() + 1);
                path.push(name);
                for segment in segments {
                    match segment {
                        Some(segment) => path.push(segment),
                        None => return ExprKind::Error,
                    }
                }
                ExprKind::Path(path)
            }
        });
        let (string, number, duration, boolean) = (string.boxed(), number.boxed(), duration.boxed(), boolean.boxed());
        let (list, word) = (list.boxed(), word.boxed());
        custom(move |inp: &mut Ref<'t, '_, 's>| match inp.peek() {
            Some(Token::Str(_) | Token::TripleStr(true)) => inp.parse(&string),
            Some(Token::Int(_)) => inp.parse(&number),
            Some(Token::Duration(_)) => inp.parse(&duration),
            Some(Token::True | Token::False) => inp.parse(&boolean),
            Some(Token::LBracket) => inp.parse(&list),
            Some(Token::Ident(_)) => inp.parse(&word),
            Some(token) if already_reported(&token) => {
                skip_reported(inp);
                Ok(ExprKind::Error)
            }
            _ => Err(expected_here(inp, &[expect::VALUE])),
        })
        .map_with(|kind, e| Expr { kind, span: e.span() })
    })
    .boxed()
}

/// A value, or an error value (reported) where there is none.
fn expr_or_missing<'t, 's: 't>(expr: Boxed<'t, 's, Expr>) -> Boxed<'t, 's, Expr> {
    expr.recover_with(via_parser(empty().map_with(|(), e| Expr { kind: ExprKind::Error, span: gap(e.span()) }))).boxed()
}

fn read_int(state: &mut Sink<'_>, (literal, span): (&str, Span)) -> Option<i64> {
    match literal.parse::<i64>() {
        Ok(value) => Some(value),
        Err(_) => {
            state.diags.push(
                Diagnostic::error(E0108, state.file, span, format!("number `{literal}` is out of range"))
                    .with_label(format!("numbers go from {} to {}", i64::MIN, i64::MAX)),
            );
            None
        }
    }
}

/// `open item, item, ... close` with a trailing comma allowed; `None` when broken (reported).
///
/// Recovery happens where the list breaks, never by reading it again from its opening delimiter
/// (which would cost the length of the rest of the file for each level of an unclosed nest): the
/// text from there to the closing delimiter is skipped, balanced groups whole, or, when there is
/// no closing delimiter, up to the next member boundary.
fn delimited_list<'t, 's: 't, O: 't>(
    item: Boxed<'t, 's, O>,
    open: Token<'s>,
    close: Token<'s>,
) -> Boxed<'t, 's, Option<Vec<O>>> {
    // Arguments and parameters are `name = value` and `name: type`; a list holds neither.
    let names_end_it = open == Token::LBracket;
    let skip_to_close = custom(move |inp: &mut Ref<'t, '_, 's>| loop {
        if inp.peek() == Some(close) {
            inp.skip();
            return Ok(false);
        }
        if at_boundary(inp, Level::Header) && (names_end_it || !matches!(inp.peek(), Some(Token::Ident(_)))) {
            return Ok(false);
        }
        skip_unit(inp);
    });
    just(open)
        .ignore_then(item.separated_by(just(Token::Comma)).allow_trailing().collect::<Vec<_>>())
        .then(just(close).to(true).recover_with(via_parser(skip_to_close)))
        .map(|(items, closed)| closed.then_some(items))
        .boxed()
}

// ----- tokens -----

fn ident<'t, 's: 't>() -> impl Parser<'t, In<'t, 's>, Ident, Ex<'t, 's>> + Clone {
    select! { Token::Ident(name) = e => Ident { name: name.to_string(), span: e.span() } }.labelled(expect::NAME)
}

/// A name, or `None` where it is missing (reported). A keyword written as a name (`stage job {`)
/// is reported and skipped, so that what follows it reads as intended.
fn opt_ident<'t, 's: 't>() -> impl Parser<'t, In<'t, 's>, Option<Ident>, Ex<'t, 's>> + Clone {
    let keyword_as_name = custom(|inp: &mut Ref<'t, '_, 's>| {
        let checkpoint = inp.save();
        let keyword = inp.next().is_some_and(|t| t.is_keyword());
        let then = inp.peek();
        if keyword
            && matches!(
                then,
                Some(Token::LBrace | Token::Eq | Token::LParen | Token::Dot | Token::Colon | Token::In | Token::For)
            )
        {
            return Ok(None);
        }
        inp.rewind(checkpoint);
        Err(no_match(inp))
    });
    ident().map(Some).recover_with(via_parser(keyword_as_name)).recover_with(via_parser(empty().to(None)))
}

fn keyword<'t, 's: 't>(token: Token<'s>) -> impl Parser<'t, In<'t, 's>, Span, Ex<'t, 's>> + Clone {
    just(token).map_with(|_, e| e.span())
}

/// `token`, reported and treated as present where it is missing.
fn expect_token<'t, 's: 't>(token: Token<'s>) -> impl Parser<'t, In<'t, 's>, (), Ex<'t, 's>> + Clone {
    just(token).ignored().recover_with(via_parser(empty()))
}

/// A zero-width span where nothing was read: just after the previous token.
fn gap(span: Span) -> Span {
    if span.start >= span.end {
        Span::new(span.end, span.end)
    } else {
        Span::new(span.start, span.start)
    }
}

// ----- skipping -----

/// Where text that cannot be read is skipped, and so where skipping stops.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// The top of the file: stops at a keyword that starts a member, or a name.
    Top,
    /// A body: also stops at its `}`.
    Body,
    /// The options of a task: stops like a body.
    Options,
    /// Between a block's keyword and its body: stops at a keyword that starts a member, `}`, or
    /// a name followed by `=`.
    Header,
}

impl Level {
    fn expected(self) -> Vec<RichPattern<'static, Token<'static>>> {
        let labels: &[&'static str] = match self {
            Level::Top => expect::TOP_LEVEL,
            Level::Body => &[expect::FIELD, expect::BLOCK, expect::TASK, expect::ARTIFACT],
            Level::Options => &[expect::FIELD],
            Level::Header => &[],
        };
        let close = (self != Level::Top).then_some(RichPattern::Token(MaybeRef::Val(Token::RBrace)));
        close.into_iter().chain(labels.iter().map(|l| RichPattern::Label((*l).into()))).collect()
    }
}

fn at_boundary(inp: &mut Ref<'_, '_, '_>, level: Level) -> bool {
    match inp.peek() {
        None => true,
        Some(token) if starts_member(token) => true,
        Some(Token::RBrace) => level != Level::Top,
        Some(Token::Ident(_)) if level != Level::Header => true,
        Some(Token::Ident(_)) => {
            let checkpoint = inp.save();
            inp.skip();
            let field = inp.peek() == Some(Token::Eq);
            inp.rewind(checkpoint);
            field
        }
        Some(_) => false,
    }
}

/// Skips one token, or a whole balanced `{ [ (` group.
fn skip_unit(inp: &mut Ref<'_, '_, '_>) {
    let Some(first) = inp.next() else { return };
    let Some(close) = closer_of(first) else { return };
    let after_open = inp.save();
    let mut closers = vec![close];
    while let Some(token) = inp.next() {
        if let Some(close) = closer_of(token) {
            closers.push(close);
        } else if is_closer(token) {
            if closers.last() != Some(&token) {
                break;
            }
            closers.pop();
            if closers.is_empty() {
                return;
            }
        }
    }
    inp.rewind(after_open);
}

/// Skips a token the lexer reported, and the word-like tokens glued to it (`@main`): they are
/// part of the same mistake.
fn skip_reported(inp: &mut Ref<'_, '_, '_>) {
    let (_, mut span) = peek_spanned(inp);
    inp.skip();
    loop {
        let (next, next_span) = peek_spanned(inp);
        let glued = next_span.start == span.end
            && matches!(
                next,
                Some(Token::Ident(_) | Token::Int(_) | Token::Duration(_) | Token::Str(_) | Token::Error | Token::Dot)
            );
        if !glued {
            return;
        }
        inp.skip();
        span = next_span;
    }
}

/// Text that cannot start a member at `level`: skipped, reported once, kept as `Member::Error`.
fn junk<'t, 's: 't>(level: Level) -> impl Parser<'t, In<'t, 's>, Member, Ex<'t, 's>> + Clone {
    custom(move |inp: &mut Ref<'t, '_, 's>| {
        if at_boundary(inp, level) {
            return Err(no_match(inp));
        }
        let start = inp.cursor();
        let (found, found_span) = peek_spanned(inp);
        while !at_boundary(inp, level) {
            skip_unit(inp);
        }
        let span = inp.span_since(&start);
        inp.emit(expected_found(level.expected(), found, found_span));
        Ok(Member::Error(span))
    })
}

/// Any one token, reported: guarantees progress at the top of the file.
fn last_resort<'t, 's: 't>() -> impl Parser<'t, In<'t, 's>, Member, Ex<'t, 's>> + Clone {
    custom(|inp: &mut Ref<'t, '_, 's>| {
        let (found, span) = peek_spanned(inp);
        if found.is_none() {
            return Err(no_match(inp));
        }
        inp.skip();
        inp.emit(expected_found(Level::Top.expected(), found, span));
        Ok(Member::Error(span))
    })
}

/// The next token and its span, without consuming it.
fn peek_spanned<'s>(inp: &mut Ref<'_, '_, 's>) -> (Option<Token<'s>>, Span) {
    let checkpoint = inp.save();
    let start = inp.cursor();
    let token = inp.next();
    let span = inp.span_since(&start);
    inp.rewind(checkpoint);
    (token, span)
}

/// The error for a token that starts none of `labels`.
fn expected_here<'t, 's>(inp: &mut Ref<'t, '_, 's>, labels: &[&'static str]) -> SyntaxError<'t, 's> {
    let (found, span) = peek_spanned(inp);
    expected_found(labels.iter().map(|l| RichPattern::Label((*l).into())).collect(), found, span)
}

fn expected_found<'t, 's>(
    expected: Vec<RichPattern<'static, Token<'static>>>,
    found: Option<Token<'s>>,
    span: Span,
) -> SyntaxError<'t, 's> {
    <SyntaxError<'t, 's> as LabelError<'t, In<'t, 's>, RichPattern<'t, Token<'s>>>>::expected_found(
        expected.into_iter().map(|p| p.map_token(|t| t)),
        found.map(MaybeRef::Val),
        span,
    )
}

/// The error of a custom parser that does not apply here: it adds nothing to what is expected.
fn no_match<'t, 's>(inp: &mut Ref<'t, '_, 's>) -> SyntaxError<'t, 's> {
    let (found, span) = peek_spanned(inp);
    expected_found(Vec::new(), found, span)
}
