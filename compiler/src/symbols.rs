//! Every named entity of the workspace and every place that refers to one, for go-to-definition,
//! references, rename, hover, outline and completion.

use crate::source::{FileId, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymbolId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SymbolKind {
    Material,
    Pipeline,
    Stage,
    Job,
    Artifact,
    Template,
    Param,
    ForVar,
    EnvVar,
}

impl SymbolKind {
    pub fn describe(self) -> &'static str {
        match self {
            SymbolKind::Material => "material",
            SymbolKind::Pipeline => "pipeline",
            SymbolKind::Stage => "stage",
            SymbolKind::Job => "job",
            SymbolKind::Artifact => "artifact",
            SymbolKind::Template => "template",
            SymbolKind::Param => "parameter",
            SymbolKind::ForVar => "`for` variable",
            SymbolKind::EnvVar => "environment variable",
        }
    }
}

/// A definition, as written in the source (templates are not expanded here).
#[derive(Clone, Debug)]
pub struct Symbol {
    pub kind: SymbolKind,
    pub name: String,
    /// Dotted path from the top, such as `build.compile.linux.webapp`; a template's members
    /// start with the template's name.
    pub path: String,
    pub file: FileId,
    pub name_span: Span,
    /// The whole definition.
    pub span: Span,
    pub parent: Option<SymbolId>,
}

/// A place that names a symbol.
#[derive(Clone, Debug)]
pub struct Reference {
    pub file: FileId,
    pub span: Span,
    pub target: SymbolId,
}

#[derive(Clone, Debug, Default)]
pub struct Symbols {
    pub symbols: Vec<Symbol>,
    pub references: Vec<Reference>,
}

impl Symbols {
    pub fn add(&mut self, symbol: Symbol) -> SymbolId {
        self.symbols.push(symbol);
        SymbolId((self.symbols.len() - 1) as u32)
    }

    pub(crate) fn refer(&mut self, file: FileId, span: Span, target: SymbolId) {
        self.references.push(Reference { file, span, target });
    }

    pub fn get(&self, id: SymbolId) -> &Symbol {
        &self.symbols[id.0 as usize]
    }

    pub fn ids(&self) -> impl Iterator<Item = SymbolId> + '_ {
        (0..self.symbols.len()).map(|i| SymbolId(i as u32))
    }

    /// The symbol defined or referred to at `offset` of `file`.
    pub fn at(&self, file: FileId, offset: usize) -> Option<SymbolId> {
        let defined = self.ids().find(|&id| {
            let s = self.get(id);
            s.file == file && s.name_span.contains(offset)
        });
        defined.or_else(|| self.references.iter().find(|r| r.file == file && r.span.contains(offset)).map(|r| r.target))
    }

    /// The places that refer to `id`.
    pub fn references_to(&self, id: SymbolId) -> impl Iterator<Item = &Reference> + '_ {
        self.references.iter().filter(move |r| r.target == id)
    }

    /// The symbols directly inside `parent` (`None`: the top level).
    pub fn children(&self, parent: Option<SymbolId>) -> impl Iterator<Item = SymbolId> + '_ {
        self.ids().filter(move |&id| self.get(id).parent == parent)
    }
}
