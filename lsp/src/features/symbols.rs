//! The outline of a document (pipeline › stage › job › task) and the workspace's symbols.

use crate::state::Snapshot;
use pw_compiler::ast::{Block, BlockKind, Body, Member, TaskKind};
use pw_compiler::symbols::SymbolKind as PwKind;
use pw_compiler::FileId;
use tower_lsp_server::ls_types::{DocumentSymbol, OneOf, SymbolKind, WorkspaceSymbol};

/// The outline of one document, from its syntax tree.
pub fn document(snap: &Snapshot, file: FileId) -> Vec<DocumentSymbol> {
    outline(snap, file, &snap.parsed(file).ast.members, 0)
}

fn outline(snap: &Snapshot, file: FileId, members: &[Member], depth: usize) -> Vec<DocumentSymbol> {
    let mut out = Vec::new();
    for member in members {
        let symbol = match member {
            Member::Block(b) => block(snap, file, b, depth),
            Member::Task(t) => {
                let (word, detail) = match &t.kind {
                    TaskKind::Run { command, .. } => ("run", snippet(&snap.text(file)[command.span.range()])),
                    TaskKind::Fetch { source, .. } => ("fetch", snippet(&snap.text(file)[source.span.range()])),
                };
                Some(symbol(snap, file, word.into(), Some(detail), SymbolKind::EVENT, t.span, t.kind_span, None))
            }
            Member::Artifact(a) => Some(symbol(
                snap,
                file,
                a.name.name.clone(),
                Some("artifact".into()),
                SymbolKind::FILE,
                a.span,
                a.name.span,
                None,
            )),
            Member::Field(_) | Member::Error(_) => None,
        };
        out.extend(symbol);
    }
    out
}

fn block(snap: &Snapshot, file: FileId, b: &Block, depth: usize) -> Option<DocumentSymbol> {
    let (kind, detail) = match (b.kind, b.template_of) {
        (BlockKind::Material, _) => (SymbolKind::MODULE, "material".to_string()),
        (BlockKind::Pipeline, _) => (SymbolKind::NAMESPACE, "pipeline".into()),
        (BlockKind::Stage, _) => (SymbolKind::CLASS, "stage".into()),
        (BlockKind::Job, _) => (SymbolKind::FUNCTION, "job".into()),
        (BlockKind::Env, _) => (SymbolKind::OBJECT, "env".into()),
        (BlockKind::Template, of) => {
            (SymbolKind::INTERFACE, format!("template {}", of.map_or("", |(k, _)| k.keyword())))
        }
    };
    let detail = match &b.body {
        Body::Instance(call) => format!("{detail} = {}(...)", call.template.name),
        _ => detail,
    };
    let (name, selection) = match &b.name {
        Some(n) => (n.name.clone(), n.span),
        None => (b.kind.keyword().to_string(), b.kind_span),
    };
    let children = (depth < 16).then(|| outline(snap, file, b.body.members(), depth + 1));
    Some(symbol(snap, file, name, Some(detail), kind, b.span, selection, children))
}

#[allow(clippy::too_many_arguments)]
fn symbol(
    snap: &Snapshot,
    file: FileId,
    name: String,
    detail: Option<String>,
    kind: SymbolKind,
    span: pw_compiler::Span,
    selection: pw_compiler::Span,
    children: Option<Vec<DocumentSymbol>>,
) -> DocumentSymbol {
    #[allow(deprecated)]
    DocumentSymbol {
        name,
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: snap.range(file, span),
        selection_range: snap.range(file, selection),
        children: children.filter(|c| !c.is_empty()),
    }
}

/// The first line of a command, shortened.
fn snippet(text: &str) -> String {
    let line = text.trim_matches('"').trim().lines().next().unwrap_or_default().trim();
    if line.chars().count() > 40 {
        format!("{}…", line.chars().take(40).collect::<String>())
    } else {
        line.to_string()
    }
}

/// The symbols of the whole workspace whose path contains `query`'s characters in order.
pub fn workspace(snap: &Snapshot, query: &str) -> Vec<WorkspaceSymbol> {
    let table = &snap.analysis.program.symbols;
    let query = query.to_ascii_lowercase();
    table
        .symbols
        .iter()
        .filter(|s| {
            matches!(
                s.kind,
                PwKind::Material | PwKind::Pipeline | PwKind::Stage | PwKind::Job | PwKind::Artifact | PwKind::Template
            )
        })
        .filter(|s| subsequence(&query, &s.path.to_ascii_lowercase()))
        .take(500)
        .map(|s| WorkspaceSymbol {
            name: s.name.clone(),
            kind: lsp_kind(s.kind),
            tags: None,
            container_name: s.path.rsplit_once('.').map(|(parent, _)| parent.to_string()),
            location: OneOf::Left(snap.location(s.file, s.name_span)),
            data: None,
        })
        .collect()
}

fn subsequence(query: &str, text: &str) -> bool {
    let mut chars = text.chars();
    query.chars().all(|q| chars.any(|c| c == q))
}

pub(crate) fn lsp_kind(kind: PwKind) -> SymbolKind {
    match kind {
        PwKind::Material => SymbolKind::MODULE,
        PwKind::Pipeline => SymbolKind::NAMESPACE,
        PwKind::Stage => SymbolKind::CLASS,
        PwKind::Job => SymbolKind::FUNCTION,
        PwKind::Artifact => SymbolKind::FILE,
        PwKind::Template => SymbolKind::INTERFACE,
        PwKind::Param | PwKind::ForVar => SymbolKind::VARIABLE,
        PwKind::EnvVar => SymbolKind::CONSTANT,
    }
}
