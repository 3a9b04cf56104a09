//! Conversion between byte offsets in a file and LSP positions, in the encoding the client and
//! the server agreed on: UTF-16 code units by default, UTF-8 bytes when the client offers it.

use pw_compiler::source::SourceFile;
use pw_compiler::Span;
use tower_lsp_server::ls_types::{Position, PositionEncodingKind, Range};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encoding {
    #[default]
    Utf16,
    Utf8,
}

impl Encoding {
    /// UTF-8 when the client lists it among the encodings it supports, else UTF-16.
    pub(crate) fn negotiate(offered: Option<&[PositionEncodingKind]>) -> Self {
        match offered {
            Some(kinds) if kinds.contains(&PositionEncodingKind::UTF8) => Encoding::Utf8,
            _ => Encoding::Utf16,
        }
    }

    pub fn kind(self) -> PositionEncodingKind {
        match self {
            Encoding::Utf16 => PositionEncodingKind::UTF16,
            Encoding::Utf8 => PositionEncodingKind::UTF8,
        }
    }

    /// The byte offset of `position` in `file`, clamped to the file.
    pub fn offset(self, file: &SourceFile, position: Position) -> usize {
        let (line, col) = (position.line as usize, position.character as usize);
        match self {
            Encoding::Utf16 => file.offset_of_utf16(line, col),
            Encoding::Utf8 => file.offset_of_utf8(line, col),
        }
    }

    /// The position of byte `offset` in `file`.
    pub fn position(self, file: &SourceFile, offset: usize) -> Position {
        let (line, col) = match self {
            Encoding::Utf16 => file.utf16_col(offset),
            Encoding::Utf8 => {
                let offset = floor_boundary(&file.text, offset);
                let line = file.line_index(offset);
                (line, offset - file.line_start(line))
            }
        };
        Position::new(line as u32, col as u32)
    }

    pub fn range(self, file: &SourceFile, span: Span) -> Range {
        Range::new(self.position(file, span.start), self.position(file, span.end))
    }

    pub fn span(self, file: &SourceFile, range: Range) -> Span {
        let start = self.offset(file, range.start);
        Span::new(start, self.offset(file, range.end).max(start))
    }

    /// The length of `text` in this encoding's units.
    pub fn len(self, text: &str) -> usize {
        match self {
            Encoding::Utf16 => text.encode_utf16().count(),
            Encoding::Utf8 => text.len(),
        }
    }
}

fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_non_ascii_text_in_both_encodings() {
        let file = SourceFile::new("a.pw", "# café 🚀\njob é { run \"🚀\" }\n");
        for offset in (0..file.text.len()).filter(|&o| file.text.is_char_boundary(o)) {
            for enc in [Encoding::Utf16, Encoding::Utf8] {
                let pos = enc.position(&file, offset);
                assert_eq!(enc.offset(&file, pos), offset, "{enc:?} at {offset}");
            }
        }
        let run = file.text.find("run").unwrap_or_default();
        assert_eq!(Encoding::Utf16.position(&file, run), Position::new(1, 8));
        assert_eq!(Encoding::Utf8.position(&file, run), Position::new(1, 9));
        let after_rocket = file.text.rfind('"').unwrap_or_default();
        assert_eq!(Encoding::Utf16.position(&file, after_rocket), Position::new(1, 15));
        assert_eq!(Encoding::Utf8.position(&file, after_rocket), Position::new(1, 18));
    }

    #[test]
    fn positions_past_the_end_are_clamped() {
        let file = SourceFile::new("a.pw", "ab\ncd");
        assert_eq!(Encoding::Utf16.offset(&file, Position::new(0, 99)), 2);
        assert_eq!(Encoding::Utf16.offset(&file, Position::new(7, 0)), 5);
        assert_eq!(Encoding::Utf8.position(&file, 99), Position::new(1, 2));
    }

    #[test]
    fn negotiates_utf8_only_when_offered() {
        assert_eq!(Encoding::negotiate(None), Encoding::Utf16);
        let offered = [PositionEncodingKind::UTF16, PositionEncodingKind::UTF8];
        assert_eq!(Encoding::negotiate(Some(&offered)), Encoding::Utf8);
    }
}
