//! Formatting of a document or a range, as the smallest line edits that turn the text into the
//! formatter's output.

use crate::state::Snapshot;
use pw_compiler::source::SourceFile;
use pw_compiler::{FileId, Span};
use similar::{DiffOp, TextDiff};
use tower_lsp_server::ls_types::{Range, TextEdit};

/// The edits that format the document; with `range`, only those touching its lines. `None`
/// when the document has syntax errors (the formatter refuses it).
pub fn document(snap: &Snapshot, file: FileId, range: Option<Range>) -> Option<Vec<TextEdit>> {
    let source = snap.source(file);
    if pw_compiler::gocd::is_gocd_path(&source.path) {
        return None;
    }
    let formatted = pw_compiler::format::format_parsed(&source.text, snap.parsed(file)).ok()?;
    let lines = range.map(|r| (r.start.line as usize, r.end.line as usize));
    Some(
        line_edits(source, &formatted)
            .into_iter()
            .filter(|(old, _, _)| match lines {
                None => true,
                Some((first, last)) => old.start <= last + 1 && old.end >= first,
            })
            .map(|(_, span, text)| TextEdit::new(snap.encoding.range(source, span), text))
            .collect(),
    )
}

/// The changed runs of lines: the old line numbers, their span, and the new text.
pub(crate) fn line_edits(source: &SourceFile, new: &str) -> Vec<(std::ops::Range<usize>, Span, String)> {
    let diff = TextDiff::from_lines(source.text.as_str(), new);
    let new_lines = diff.new_slices();
    let mut out = Vec::new();
    for op in diff.ops() {
        if matches!(op, DiffOp::Equal { .. }) {
            continue;
        }
        let (old, new_range) = (op.old_range(), op.new_range());
        let span = Span::new(source.line_start(old.start), source.line_start(old.end));
        out.push((old, span, new_lines[new_range].concat()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_rebuild_the_new_text() {
        let old = SourceFile::new("a.pw", "a\nb\nc\nd");
        let new = "a\nB\nc\nd\ne\n";
        let mut text = old.text.clone();
        for (_, span, replacement) in line_edits(&old, new).into_iter().rev() {
            text.replace_range(span.range(), &replacement);
        }
        assert_eq!(text, new);
    }
}
