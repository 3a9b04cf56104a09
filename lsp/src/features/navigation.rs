//! Go to definition, find references and rename, from the checker's symbol table.

use crate::state::Snapshot;
use pw_compiler::symbols::{SymbolId, Symbols};
use pw_compiler::{FileId, Span};
use std::collections::HashMap;
use tower_lsp_server::ls_types::{Location, Range, TextEdit, Uri, WorkspaceEdit};

/// The longest name the language accepts.
const MAX_NAME: usize = 255;

const KEYWORDS: &[&str] = &[
    "material", "template", "pipeline", "stage", "job", "env", "run", "fetch", "into", "artifact", "for", "in", "true",
    "false",
];

fn symbols(snap: &Snapshot) -> &Symbols {
    &snap.analysis.program.symbols
}

pub fn definition(snap: &Snapshot, file: FileId, offset: usize) -> Option<Location> {
    let symbol = symbols(snap).get(symbols(snap).at(file, offset)?);
    Some(snap.location(symbol.file, symbol.name_span))
}

/// Every place that names the symbol at `offset`, its definition first when asked for.
pub fn references(snap: &Snapshot, file: FileId, offset: usize, declaration: bool) -> Option<Vec<Location>> {
    let id = symbols(snap).at(file, offset)?;
    Some(occurrences(snap, id, declaration).into_iter().map(|(f, s)| snap.location(f, s)).collect())
}

fn occurrences(snap: &Snapshot, id: SymbolId, declaration: bool) -> Vec<(FileId, Span)> {
    let table = symbols(snap);
    let symbol = table.get(id);
    let mut out: Vec<(FileId, Span)> = Vec::new();
    if declaration {
        out.push((symbol.file, symbol.name_span));
    }
    for r in table.references_to(id) {
        if !out.contains(&(r.file, r.span)) {
            out.push((r.file, r.span));
        }
    }
    out
}

/// The range of the name that a rename at `offset` would change.
pub(crate) fn prepare_rename(snap: &Snapshot, file: FileId, offset: usize) -> Option<Range> {
    let table = symbols(snap);
    let id = table.at(file, offset)?;
    let symbol = table.get(id);
    if symbol.file == file && symbol.name_span.contains(offset) {
        return Some(snap.range(file, symbol.name_span));
    }
    let r = table.references.iter().find(|r| r.file == file && r.span.contains(offset))?;
    Some(snap.range(file, r.span))
}

/// The edits that rename the symbol at `offset` to `new_name` everywhere, or why it can't be.
pub fn rename(snap: &Snapshot, file: FileId, offset: usize, new_name: &str) -> Result<WorkspaceEdit, String> {
    let table = symbols(snap);
    let id = table.at(file, offset).ok_or("there is nothing to rename here")?;
    let symbol = table.get(id);
    check_name(new_name)?;
    let taken = table.ids().filter(|&other| other != id).map(|other| table.get(other)).find(|other| {
        other.kind == symbol.kind && other.parent == symbol.parent && other.name.eq_ignore_ascii_case(new_name)
    });
    if let Some(other) = taken {
        let at = snap.source(other.file).line_col(other.name_span.start);
        return Err(format!(
            "`{new_name}` is already the name of {} `{}` ({}:{})",
            other.kind.describe(),
            other.path,
            snap.source(other.file).path,
            at.line
        ));
    }
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for (f, span) in occurrences(snap, id, true) {
        changes.entry(snap.uri(f).clone()).or_default().push(TextEdit::new(snap.range(f, span), new_name.to_string()));
    }
    Ok(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() })
}

/// Names are letters, digits, `_` and `-`, start with a letter or `_`, are at most 255
/// characters, and are not keywords.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !valid_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(format!(
            "`{name}` is not a valid name: names are letters, digits, `_` and `-`, and start with a letter or `_`"
        ));
    }
    if name.len() > MAX_NAME {
        return Err(format!("a name has at most {MAX_NAME} characters; this one has {}", name.len()));
    }
    if KEYWORDS.contains(&name) {
        return Err(format!("`{name}` is a keyword and cannot be a name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_follow_the_language() {
        assert!(check_name("build-2_x").is_ok());
        assert!(check_name("2build").is_err());
        assert!(check_name("a.b").is_err());
        assert!(check_name("stage").is_err());
        assert!(check_name("").is_err());
        assert!(check_name(&"a".repeat(256)).is_err());
    }
}
