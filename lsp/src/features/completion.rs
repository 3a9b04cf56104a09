//! Completion by cursor context: the members valid in the block, the values of a field, the
//! entity kinds, and in a dotted reference the names that resolve there.
//!
//! The context is read from the tokens before the cursor rather than from the tree, so that it
//! is right in the half-written text that completion is asked about.

use crate::state::Snapshot;
use crate::syntax;
use pw_compiler::ast::{BlockKind, Member};
use pw_compiler::lexer::{self, Token};
use pw_compiler::model::{Pipeline, Program};
use pw_compiler::schema::{self, FieldType, Owner};
use pw_compiler::{FileId, Span};
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, MarkupContent, MarkupKind, TextEdit,
};

/// The kind of body the cursor is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    Top,
    Block(BlockKind),
    /// A task's `{ when = ... }`.
    Options,
    /// An artifact's `{ kind = ... }`.
    ArtifactOptions,
    /// A brace whose header could not be read.
    Unknown,
}

/// What the cursor is about to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Context {
    /// Nothing to offer: inside a string or comment, or where a new name is written.
    Nothing,
    /// The start of a member of this frame.
    Member(Frame),
    /// The value of `field` (after its `=` or in its list).
    Value { frame: Frame, field: String },
    /// A dotted reference: the segments written so far; `field` is `None` after `fetch`.
    Reference { field: Option<String>, segments: Vec<String> },
    /// After `template`: the kind of entity it makes.
    TemplateKind,
}

/// The cursor's context, the span of the word being written, and the names of the enclosing
/// pipeline and stage.
#[derive(Debug)]
pub struct Cursor {
    pub context: Context,
    pub word: Span,
    pub pipeline: Option<String>,
    pub stage: Option<String>,
}

struct Open {
    frame: Frame,
    /// `{`, `[` or `(`.
    delim: char,
    /// Index of the opening token.
    at: usize,
    name: Option<String>,
}

pub fn cursor(text: &str, offset: usize) -> Cursor {
    let lexed = lexer::lex(FileId(0), text);
    let mut word = Span::new(offset, offset);
    let inside = |s: Span| s.start < offset && offset < s.end;
    if lexed.comments.iter().any(|(_, s)| s.start < offset && offset <= s.end) {
        return Cursor { context: Context::Nothing, word, pipeline: None, stage: None };
    }
    let mut tokens: Vec<(Token, Span)> = Vec::new();
    for &(token, span) in &lexed.tokens {
        if span.end < offset || (span.end == offset && !is_word(token)) {
            tokens.push((token, span));
        } else if span.start < offset && is_word(token) {
            word = Span::new(span.start, offset);
        } else if inside(span) {
            return Cursor { context: Context::Nothing, word, pipeline: None, stage: None };
        }
        if span.end >= offset {
            break;
        }
    }
    let stack = frames(&tokens);
    let name_of =
        |kind: BlockKind| stack.iter().rev().find(|o| o.frame == Frame::Block(kind)).and_then(|o| o.name.clone());
    let (pipeline, stage) = (name_of(BlockKind::Pipeline), name_of(BlockKind::Stage));
    let context = context_of(&tokens, &stack);
    Cursor { context, word, pipeline, stage }
}

fn is_word(token: Token) -> bool {
    matches!(token, Token::Ident(_)) || token.is_keyword()
}

fn block_kind(token: Token) -> Option<BlockKind> {
    Some(match token {
        Token::Material => BlockKind::Material,
        Token::Pipeline => BlockKind::Pipeline,
        Token::Stage => BlockKind::Stage,
        Token::Job => BlockKind::Job,
        Token::Env => BlockKind::Env,
        _ => return None,
    })
}

/// The open braces and brackets at the end of `tokens`, outermost first.
fn frames(tokens: &[(Token, Span)]) -> Vec<Open> {
    let mut stack: Vec<Open> = Vec::new();
    let mut pending: Option<(Frame, Option<String>)> = None;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i].0;
        let in_brackets = stack.last().is_some_and(|o| o.delim != '{');
        let name_after = |j: usize| match tokens.get(j) {
            Some((Token::Ident(n), _)) => Some(n.to_string()),
            _ => None,
        };
        match token {
            Token::Template if !in_brackets => {
                let of = tokens.get(i + 1).and_then(|t| block_kind(t.0));
                let skip = usize::from(of.is_some());
                pending = Some((Frame::Block(of.unwrap_or(BlockKind::Template)), name_after(i + 1 + skip)));
                i += skip;
            }
            t if !in_brackets && block_kind(t).is_some() => {
                pending = block_kind(t).map(|k| (Frame::Block(k), name_after(i + 1)));
            }
            Token::Run | Token::Fetch if !in_brackets => pending = Some((Frame::Options, None)),
            Token::Artifact if !in_brackets => pending = Some((Frame::ArtifactOptions, None)),
            Token::Eq if !in_brackets && matches!(pending, Some((Frame::Block(_), _))) => pending = None,
            Token::LBrace => {
                let (frame, name) = pending.take().unwrap_or((Frame::Unknown, None));
                stack.push(Open { frame, delim: '{', at: i, name });
            }
            Token::LBracket | Token::LParen => stack.push(Open {
                frame: Frame::Unknown,
                delim: if token == Token::LBracket { '[' } else { '(' },
                at: i,
                name: None,
            }),
            Token::RBrace => {
                while let Some(open) = stack.pop() {
                    if open.delim == '{' {
                        break;
                    }
                }
                pending = None;
            }
            Token::RBracket | Token::RParen if stack.last().is_some_and(|o| o.delim != '{') => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    stack
}

fn ident(tokens: &[(Token, Span)], i: usize) -> Option<String> {
    match tokens.get(i) {
        Some((Token::Ident(n), _)) => Some(n.to_string()),
        _ => None,
    }
}

fn context_of(tokens: &[(Token, Span)], stack: &[Open]) -> Context {
    let frame = stack.iter().rev().find(|o| o.delim == '{').map_or(Frame::Top, |o| o.frame);
    // The field whose list the cursor is in: `field = [ ...`.
    let list_field = stack.last().filter(|o| o.delim == '[').and_then(|o| {
        let eq = o.at.checked_sub(1)?;
        (tokens.get(eq)?.0 == Token::Eq).then(|| ident(tokens, eq.checked_sub(1)?)).flatten()
    });
    let Some(&(last, _)) = tokens.last() else { return Context::Member(Frame::Top) };
    if last == Token::Dot {
        let mut segments = Vec::new();
        let mut k = tokens.len() - 1;
        while k >= 1 && tokens[k].0 == Token::Dot {
            let Some(name) = ident(tokens, k - 1) else { return Context::Nothing };
            segments.push(name);
            if k < 2 {
                k = 0;
                break;
            }
            k -= 2;
        }
        segments.reverse();
        let anchor = tokens.get(k).map(|t| t.0);
        let field = match anchor {
            Some(Token::Fetch) => None,
            Some(Token::Eq) => Some(k.checked_sub(1).and_then(|j| ident(tokens, j)).unwrap_or_default()),
            Some(Token::LBracket | Token::Comma) => Some(list_field.clone().unwrap_or_default()),
            _ => return Context::Nothing,
        };
        return Context::Reference { field, segments };
    }
    if let Some(field) = list_field {
        return Context::Value { frame, field };
    }
    if stack.last().is_some_and(|o| o.delim != '{') {
        return Context::Nothing;
    }
    match last {
        Token::Eq => match tokens.len().checked_sub(2).and_then(|j| ident(tokens, j)) {
            Some(field) => Context::Value { frame, field },
            None => Context::Nothing,
        },
        Token::Fetch => Context::Reference { field: None, segments: Vec::new() },
        Token::Template => Context::TemplateKind,
        Token::Material | Token::Pipeline | Token::Stage | Token::Job | Token::Artifact | Token::For | Token::In => {
            Context::Nothing
        }
        Token::Ident(_) if tokens.len() >= 2 && block_kind(tokens[tokens.len() - 2].0).is_some() => Context::Nothing,
        Token::Run | Token::Into | Token::Colon | Token::DotDot => Context::Nothing,
        _ => Context::Member(frame),
    }
}

/// The completions at `offset`.
pub fn complete(snap: &Snapshot, file: FileId, offset: usize) -> Vec<CompletionItem> {
    let text = snap.text(file);
    let cursor = cursor(text, offset);
    let program = &snap.analysis.program;
    let items: Vec<Item> = match &cursor.context {
        Context::Nothing => Vec::new(),
        Context::TemplateKind => ["job", "stage", "pipeline"]
            .iter()
            .map(|k| Item::keyword(k, "the kind of entity the template makes"))
            .collect(),
        Context::Member(frame) => members(snap, file, offset, *frame),
        Context::Value { frame, field } => values(program, *frame, field),
        Context::Reference { field, segments } => references(program, &cursor, field.as_deref(), segments),
    };
    let range = snap.range(file, cursor.word);
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| CompletionItem {
            label: item.label.clone(),
            kind: Some(item.kind),
            detail: item.detail,
            documentation: item
                .doc
                .map(|d| Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value: d })),
            sort_text: Some(format!("{i:04}")),
            filter_text: Some(item.label),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(range, item.insert))),
            ..CompletionItem::default()
        })
        .collect()
}

struct Item {
    label: String,
    kind: CompletionItemKind,
    detail: Option<String>,
    doc: Option<String>,
    insert: String,
}

impl Item {
    fn keyword(word: &str, detail: &str) -> Item {
        Item {
            label: word.into(),
            kind: CompletionItemKind::KEYWORD,
            detail: Some(detail.into()),
            doc: super::hover::keyword_entry(word).map(str::to_string),
            insert: format!("{word} "),
        }
    }

    fn name(name: &str, kind: CompletionItemKind, detail: String) -> Item {
        Item { label: name.into(), kind, detail: Some(detail), doc: None, insert: name.into() }
    }
}

fn owner(frame: Frame) -> Option<Owner> {
    match frame {
        Frame::Block(BlockKind::Material) => Some(Owner::Material),
        Frame::Block(BlockKind::Pipeline) => Some(Owner::Pipeline),
        Frame::Block(BlockKind::Stage) => Some(Owner::Stage),
        Frame::Block(BlockKind::Job) => Some(Owner::Job),
        Frame::Options => Some(Owner::Task),
        Frame::ArtifactOptions => Some(Owner::Artifact),
        _ => None,
    }
}

/// The members that may start here: fields not yet given, nested blocks, tasks.
fn members(snap: &Snapshot, file: FileId, offset: usize, frame: Frame) -> Vec<Item> {
    let at = syntax::enclosing(&snap.parsed(file).ast, offset);
    let given: Vec<&str> = match at.blocks.last() {
        Some(b) => b
            .body
            .members()
            .iter()
            .filter_map(|m| match m {
                Member::Field(f) if !f.span.contains(offset) => Some(f.name.name.as_str()),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    };
    let mut items: Vec<Item> = owner(frame)
        .into_iter()
        .flat_map(schema::fields)
        .filter(|f| !given.iter().any(|g| g.eq_ignore_ascii_case(f.name)))
        .map(|f| Item {
            label: f.name.into(),
            kind: CompletionItemKind::PROPERTY,
            detail: Some(f.ty.describe()),
            doc: Some(super::hover::field_entry(f)),
            insert: format!("{} = ", f.name),
        })
        .collect();
    let keywords: &[(&str, &str)] = match frame {
        Frame::Top => &[
            ("material", "a git repository"),
            ("pipeline", "a pipeline"),
            ("template", "a reusable job, stage or pipeline"),
        ],
        Frame::Block(BlockKind::Pipeline) => {
            &[("stage", "a stage: its jobs run in parallel"), ("env", "environment variables")]
        }
        Frame::Block(BlockKind::Stage) => &[("job", "a job: runs on one agent"), ("env", "environment variables")],
        Frame::Block(BlockKind::Job) => &[
            ("run", "a command"),
            ("fetch", "download an artifact of an earlier stage"),
            ("artifact", "a file this job publishes"),
            ("env", "environment variables"),
        ],
        _ => &[],
    };
    items.extend(keywords.iter().map(|(k, d)| Item::keyword(k, d)));
    items
}

/// The values of a field: its words, or the names it takes.
fn values(program: &Program, frame: Frame, field: &str) -> Vec<Item> {
    let Some(spec) = owner(frame).and_then(|o| schema::lookup(o, field)) else { return Vec::new() };
    match spec.ty {
        FieldType::Enum(words) => words
            .iter()
            .map(|w| Item::name(w, CompletionItemKind::ENUM_MEMBER, format!("{} value", spec.name)))
            .collect(),
        FieldType::Bool => {
            ["true", "false"].iter().map(|w| Item::name(w, CompletionItemKind::KEYWORD, "bool".into())).collect()
        }
        FieldType::Materials => program
            .materials
            .iter()
            .map(|m| Item::name(&m.name, CompletionItemKind::MODULE, format!("material: {}", m.git)))
            .collect(),
        FieldType::Upstreams => program
            .pipelines
            .iter()
            .map(|p| Item::name(&p.name, CompletionItemKind::CLASS, "pipeline".into()))
            .collect(),
        _ => Vec::new(),
    }
}

/// The names that resolve after the segments written so far.
fn references(program: &Program, cursor: &Cursor, field: Option<&str>, segments: &[String]) -> Vec<Item> {
    let current = cursor.pipeline.as_deref().and_then(|p| program.pipeline(p));
    let seg = |i: usize| segments.get(i).map(String::as_str).unwrap_or_default();
    match (field, segments.len()) {
        (Some(f), 1) if f.eq_ignore_ascii_case("after") => program.pipeline(seg(0)).map(stages_of).unwrap_or_default(),
        (Some(_), _) => Vec::new(),
        (None, 0) => {
            let mut items = current.map(|p| earlier_stages(p, cursor.stage.as_deref())).unwrap_or_default();
            items.extend(
                current
                    .into_iter()
                    .flat_map(|p| &p.after)
                    .filter_map(|u| program.pipeline(&u.pipeline))
                    .map(|p| Item::name(&p.name, CompletionItemKind::CLASS, "upstream pipeline".into())),
            );
            items
        }
        (None, n) => {
            // Within the pipeline: stage.job.artifact; from an upstream: pipeline.stage.job.artifact.
            let own = current.and_then(|p| p.stage(seg(0)).map(|_| p));
            let (pipeline, rest) = match own {
                Some(p) => (Some(p), 0),
                None => {
                    let upstream =
                        current.is_some_and(|c| c.after.iter().any(|u| u.pipeline.eq_ignore_ascii_case(seg(0))));
                    (program.pipeline(seg(0)).filter(|_| upstream || current.is_none()), 1)
                }
            };
            let Some(pipeline) = pipeline else { return Vec::new() };
            match n - rest {
                0 => Some(stages_of(pipeline)),
                1 => pipeline.stage(seg(rest)).map(|s| {
                    s.jobs
                        .iter()
                        .map(|j| Item::name(&j.name, CompletionItemKind::FUNCTION, format!("job of stage {}", s.name)))
                        .collect()
                }),
                2 => pipeline.stage(seg(rest)).and_then(|s| s.job(seg(rest + 1))).map(|j| {
                    j.artifacts
                        .iter()
                        .map(|a| Item::name(&a.name, CompletionItemKind::FILE, format!("artifact: {}", a.path)))
                        .collect()
                }),
                _ => None,
            }
            .unwrap_or_default()
        }
    }
}

fn stages_of(p: &Pipeline) -> Vec<Item> {
    p.stages.iter().map(|s| Item::name(&s.name, CompletionItemKind::CLASS, format!("stage of {}", p.name))).collect()
}

/// The stages of `p` before `stage`: the only ones a fetch can take artifacts from.
fn earlier_stages(p: &Pipeline, stage: Option<&str>) -> Vec<Item> {
    let end =
        stage.and_then(|s| p.stages.iter().position(|x| x.name.eq_ignore_ascii_case(s))).unwrap_or(p.stages.len());
    p.stages[..end]
        .iter()
        .map(|s| Item::name(&s.name, CompletionItemKind::CLASS, format!("earlier stage of {}", p.name)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Context {
        let offset = text.find('|').expect("cursor");
        let text = text.replace('|', "");
        cursor(&text, offset).context
    }

    #[test]
    fn reads_the_context_from_half_written_text() {
        assert_eq!(at("|"), Context::Member(Frame::Top));
        assert_eq!(at("pipeline p {\n  |"), Context::Member(Frame::Block(BlockKind::Pipeline)));
        assert_eq!(at("pipeline p { stage s { job j { ti|"), Context::Member(Frame::Block(BlockKind::Job)));
        assert_eq!(at("pipeline p { stage s { job j { run \"x\" { |"), Context::Member(Frame::Options));
        assert_eq!(at("job j { artifact a = \"x\" { |"), Context::Member(Frame::ArtifactOptions));
        assert_eq!(
            at("pipeline p { stage s { job j { run \"x\" { when = failed }\n |"),
            Context::Member(Frame::Block(BlockKind::Job))
        );
        assert_eq!(
            at("pipeline p { stage s { approval = |"),
            Context::Value { frame: Frame::Block(BlockKind::Stage), field: "approval".into() }
        );
        assert_eq!(
            at("pipeline p { after = [a, build.|"),
            Context::Reference { field: Some("after".into()), segments: vec!["build".into()] }
        );
        assert_eq!(
            at("pipeline p { stage s { job j { fetch compile.linux.|"),
            Context::Reference { field: None, segments: vec!["compile".into(), "linux".into()] }
        );
        assert_eq!(at("template |"), Context::TemplateKind);
        assert_eq!(at("template job t(a: string) { |"), Context::Member(Frame::Block(BlockKind::Job)));
        assert_eq!(at("pipeline |"), Context::Nothing);
        assert_eq!(at("pipeline p { # a comm|ent"), Context::Nothing);
        assert_eq!(at("pipeline p { stage s { job j { run \"ab|c\""), Context::Nothing);
    }

    #[test]
    fn the_word_being_written_is_replaced() {
        let c = cursor("pipeline p { ma", 15);
        assert_eq!(c.word, Span::new(13, 15));
        assert_eq!(c.pipeline.as_deref(), Some("p"));
    }
}
