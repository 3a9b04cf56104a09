//! The first pass of the checker: every definition in the source becomes a symbol, the top-level
//! names (materials, pipelines, templates) are collected, and misplaced top-level members,
//! invalid names and duplicates among them are reported.

use crate::ast::{Block, BlockKind, Body, Field, File, Ident, Member};
use crate::codes::Code::{E0207, E0302, E0303};
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};
use crate::symbols::{Symbol, SymbolId, SymbolKind, Symbols};
use rustc_hash::FxHashMap;

pub const MAX_NAME_LEN: usize = 255;

/// A top-level definition.
#[derive(Clone, Copy, Debug)]
pub(super) struct Decl<'a> {
    pub name: &'a Ident,
    pub block: &'a Block,
    pub file: FileId,
    pub symbol: SymbolId,
}

/// A top-level pipeline. Its tree is not borrowed: the caller hands it to the builder, which
/// may free it once its part of the program is built.
#[derive(Clone, Debug)]
pub(super) struct PipelineDecl {
    pub name: Ident,
    pub file: FileId,
    /// Its position in the caller's list of pipeline trees.
    pub at: usize,
}

/// A top-level pipeline's tree, where it stands in its file, and the tree itself.
pub(super) type PipelineTree<B> = (FileId, usize, B);

#[derive(Debug, Default)]
pub(super) struct Declared<'a> {
    pub materials: Vec<Decl<'a>>,
    pub pipelines: Vec<PipelineDecl>,
    pub templates: Vec<Decl<'a>>,
    /// The symbol whose name starts at this offset of this file.
    pub by_name: FxHashMap<(FileId, usize), SymbolId>,
    /// The first definition of each kind and lower-case name.
    index: FxHashMap<(BlockKind, String), First>,
}

/// The first top-level definition of a name: its position in `materials`, `pipelines` or
/// `templates`, and where it is named.
#[derive(Debug)]
struct First {
    position: usize,
    file: FileId,
    name: Span,
}

impl<'a> Declared<'a> {
    pub(super) fn symbol_at(&self, file: FileId, name: Span) -> Option<SymbolId> {
        self.by_name.get(&(file, name.start)).copied()
    }

    /// The position of a top-level definition in its list.
    pub(super) fn position(&self, kind: BlockKind, name: &str) -> Option<usize> {
        self.index.get(&(kind, name.to_ascii_lowercase())).map(|first| first.position)
    }

    pub(super) fn template(&self, name: &str) -> Option<&Decl<'a>> {
        self.position(BlockKind::Template, name).map(|i| &self.templates[i])
    }
}

/// Declares every symbol of the workspace. The top-level pipelines come apart from their files,
/// in the order of the files and their members: `pipelines` holds each one's file, its position
/// among the file's members (where the file holds the same tree, or a placeholder), and its tree.
pub(super) fn declare<'a>(
    files: &[&'a File],
    pipelines: &[PipelineTree<&Block>],
    symbols: &mut Symbols,
    diagnostics: &mut Vec<Diagnostic>,
) -> Declared<'a> {
    let mut pass = Pass { symbols, diagnostics, declared: Declared::default() };
    let mut next = pipelines.iter().enumerate().peekable();
    for (i, file) in files.iter().enumerate() {
        let id = FileId(i as u32);
        for (position, member) in file.members.iter().enumerate() {
            match next.next_if(|(_, (f, p, _))| *f == id && *p == position) {
                Some((at, (_, _, block))) => pass.pipeline(id, block, at),
                None => pass.top_level(id, member),
            }
        }
    }
    pass.declared
}

/// Whether a top-level member is a pipeline (which [`declare`] takes apart from its file).
pub(super) fn is_pipeline(member: &Member) -> bool {
    matches!(member, Member::Block(b) if b.kind == BlockKind::Pipeline)
}

struct Pass<'a, 's> {
    symbols: &'s mut Symbols,
    diagnostics: &'s mut Vec<Diagnostic>,
    declared: Declared<'a>,
}

impl<'a> Pass<'a, '_> {
    /// A top-level material or template; anything else but a pipeline is misplaced there.
    fn top_level(&mut self, file: FileId, member: &'a Member) {
        let block = match member {
            Member::Block(b) if matches!(b.kind, BlockKind::Material | BlockKind::Template) => b,
            Member::Error(_) => return,
            Member::Block(b) if b.kind == BlockKind::Pipeline => return,
            other => return self.diagnostics.push(misplaced_at_top(file, other)),
        };
        let Some(symbol) = self.block(file, block, None) else { return };
        let Some(name) = &block.name else { return };
        let position = self.list(block.kind).len();
        if self.is_first(block.kind, file, name, position) {
            self.list(block.kind).push(Decl { name, block, file, symbol });
        }
    }

    /// The materials, or the templates.
    fn list(&mut self, kind: BlockKind) -> &mut Vec<Decl<'a>> {
        match kind {
            BlockKind::Material => &mut self.declared.materials,
            _ => &mut self.declared.templates,
        }
    }

    /// A top-level pipeline, the `at`th of the caller's list.
    fn pipeline(&mut self, file: FileId, block: &Block, at: usize) {
        if self.block(file, block, None).is_none() {
            return;
        }
        let Some(name) = &block.name else { return };
        if self.is_first(BlockKind::Pipeline, file, name, self.declared.pipelines.len()) {
            self.declared.pipelines.push(PipelineDecl { name: name.clone(), file, at });
        }
    }

    /// Whether this is the first top-level definition of its kind with this name, to be the
    /// `position`th of its list; reports it as a duplicate when it is not.
    fn is_first(&mut self, kind: BlockKind, file: FileId, name: &Ident, position: usize) -> bool {
        let key = (kind, name.name.to_ascii_lowercase());
        if let Some(first) = self.declared.index.get(&key) {
            let what = if kind == BlockKind::Template { "template" } else { kind.keyword() };
            self.diagnostics.push(duplicate(what, file, name, first.file, first.name, "the workspace"));
            return false;
        }
        self.declared.index.insert(key, First { position, file, name: name.span });
        true
    }

    /// Declares a block and what it contains; returns its symbol.
    fn block(&mut self, file: FileId, block: &Block, parent: Option<SymbolId>) -> Option<SymbolId> {
        if block.kind == BlockKind::Env {
            for member in block.body.members() {
                if let Member::Field(f) = member {
                    self.env_var(file, f, parent);
                }
            }
            return None;
        }
        let name = block.name.as_ref()?;
        self.check_name(file, name);
        let kind = match block.kind {
            BlockKind::Material => SymbolKind::Material,
            BlockKind::Pipeline => SymbolKind::Pipeline,
            BlockKind::Stage => SymbolKind::Stage,
            BlockKind::Job => SymbolKind::Job,
            _ => SymbolKind::Template,
        };
        let id = self.add(kind, file, name, block.span, parent);
        for param in &block.params {
            self.check_name(file, &param.name);
            self.add(SymbolKind::Param, file, &param.name, param.span, Some(id));
        }
        if let Some(fan) = &block.fan_out {
            self.check_name(file, &fan.var);
            self.add(SymbolKind::ForVar, file, &fan.var, fan.span, Some(id));
        }
        if let Body::Members { members, .. } = &block.body {
            for member in members {
                match member {
                    Member::Block(inner) => {
                        self.block(file, inner, Some(id));
                    }
                    Member::Artifact(a) => {
                        self.check_name(file, &a.name);
                        self.add(SymbolKind::Artifact, file, &a.name, a.span, Some(id));
                    }
                    _ => {}
                }
            }
        }
        Some(id)
    }

    fn env_var(&mut self, file: FileId, field: &Field, parent: Option<SymbolId>) {
        let name = &field.name;
        let valid = name.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.diagnostics.push(
                Diagnostic::error(
                    E0302,
                    file,
                    name.span,
                    format!("`{}` is not a valid environment variable name", name.name),
                )
                .with_label("environment variable names are letters, digits and `_`")
                .with_help(format!("write `{}`", name.name.replace('-', "_"))),
            );
        }
        self.add(SymbolKind::EnvVar, file, name, field.span, parent);
    }

    fn add(&mut self, kind: SymbolKind, file: FileId, name: &Ident, span: Span, parent: Option<SymbolId>) -> SymbolId {
        let path = match parent {
            Some(p) => {
                let parent = &self.symbols.get(p).path;
                let mut path = String::with_capacity(parent.len() + 1 + name.name.len());
                path.push_str(parent);
                path.push('.');
                path.push_str(&name.name);
                path
            }
            None => name.name.clone(),
        };
        let id =
            self.symbols.add(Symbol { kind, name: name.name.clone(), path, file, name_span: name.span, span, parent });
        self.declared.by_name.insert((file, name.span.start), id);
        id
    }

    fn check_name(&mut self, file: FileId, name: &Ident) {
        if name.name.len() > MAX_NAME_LEN {
            self.diagnostics.push(
                Diagnostic::error(E0302, file, name.span, format!("this name is {} characters long", name.name.len()))
                    .with_label(format!("names are at most {MAX_NAME_LEN} characters"))
                    .with_help("choose a shorter name"),
            );
        }
    }
}

fn misplaced_at_top(file: FileId, member: &Member) -> Diagnostic {
    let (what, help) = match member {
        Member::Block(b) => match b.kind {
            BlockKind::Stage => ("a stage", "put it inside `pipeline NAME { ... }`"),
            BlockKind::Job => ("a job", "put it inside a stage: `stage NAME { job ... }`"),
            _ => ("an `env` block", "put it inside a pipeline, a stage or a job"),
        },
        Member::Field(_) => ("a field", "fields belong inside a material, pipeline, stage or job"),
        Member::Task(_) => ("a task", "tasks belong inside a job"),
        _ => ("an artifact", "artifacts are declared inside the job that makes them"),
    };
    Diagnostic::error(E0207, file, header_span(member), format!("{what} cannot stand at the top level of a file"))
        .with_label("not inside any pipeline")
        .with_note("the top level of a file holds `material`, `pipeline` and `template` definitions")
        .with_help(help)
}

/// The first line's worth of a member: enough to point at without underlining a whole block.
pub(super) fn header_span(member: &Member) -> Span {
    match member {
        Member::Block(b) => b.name.as_ref().map_or(b.kind_span, |n| b.kind_span.to(n.span)),
        Member::Field(f) => f.name.span,
        Member::Task(t) => t.kind_span,
        Member::Artifact(a) => a.name.span,
        Member::Error(s) => *s,
    }
}

/// `duplicate stage `test``, pointing at both definitions.
pub(super) fn duplicate(
    what: &str,
    file: FileId,
    name: &Ident,
    first_file: FileId,
    first: Span,
    within: &str,
) -> Diagnostic {
    Diagnostic::error(E0303, file, name.span, format!("{what} `{}` is defined twice in {within}", name.name))
        .with_label("defined again here")
        .with_secondary(first_file, first, "first defined here")
        .with_note("names are compared without regard to case")
        .with_help(format!("rename one of them, or remove the second {what}"))
}
