//! Source files of a workspace, and the mapping between byte offsets, lines and columns.

use serde::Serialize;

/// A byte range within one source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn contains(self, offset: usize) -> bool {
        self.start <= offset && offset <= self.end
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

impl From<std::ops::Range<usize>> for Span {
    fn from(r: std::ops::Range<usize>) -> Self {
        Span::new(r.start, r.end)
    }
}

/// Index of a file in its [`Workspace`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FileId(pub u32);

/// A 1-based line and a 1-based column counted in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// One `.pw` file: its path as shown to users, its text, and where its lines start.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        SourceFile { path: path.into(), text, line_starts }
    }

    /// The 0-based line holding `offset`.
    pub fn line_index(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.line_starts.partition_point(|&s| s <= offset).saturating_sub(1)
    }

    /// Byte offset where 0-based `line` starts, or the end of the text.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts.get(line).copied().unwrap_or(self.text.len())
    }

    /// Number of lines (a trailing newline starts an empty last line).
    pub(crate) fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// The text of 0-based `line`, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_start(line);
        let end = self.line_starts.get(line + 1).map_or(self.text.len(), |&e| e);
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// 1-based line and character column of a byte offset.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = self.floor_char_boundary(offset);
        let line = self.line_index(offset);
        let column = self.text[self.line_start(line)..offset].chars().count() + 1;
        LineCol { line: line + 1, column }
    }

    /// Column of `offset` within its line in UTF-16 code units (0-based), as editors count.
    pub fn utf16_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.floor_char_boundary(offset);
        let line = self.line_index(offset);
        let col = self.text[self.line_start(line)..offset].encode_utf16().count();
        (line, col)
    }

    /// Byte offset of a 0-based line and UTF-16 column; clamped to the line.
    pub fn offset_of_utf16(&self, line: usize, col: usize) -> usize {
        self.offset_of_units(line, col, char::len_utf16)
    }

    /// Byte offset of a 0-based line and UTF-8 column; clamped to the line.
    pub fn offset_of_utf8(&self, line: usize, col: usize) -> usize {
        self.offset_of_units(line, col, char::len_utf8)
    }

    fn offset_of_units(&self, line: usize, col: usize, units: fn(char) -> usize) -> usize {
        if line >= self.line_count() {
            return self.text.len();
        }
        let start = self.line_start(line);
        let mut seen = 0;
        for (i, ch) in self.line_text(line).char_indices() {
            if seen >= col {
                return start + i;
            }
            seen += units(ch);
        }
        start + self.line_text(line).len()
    }

    fn floor_char_boundary(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

/// All the `.pw` files given to one command: one namespace.
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    pub files: Vec<SourceFile>,
}

impl Workspace {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, path: impl Into<String>, text: impl Into<String>) -> FileId {
        self.push(SourceFile::new(path, text))
    }

    /// Adds a file read elsewhere.
    pub fn push(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId((self.files.len() - 1) as u32)
    }

    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn ids(&self) -> impl Iterator<Item = FileId> + '_ {
        (0..self.files.len()).map(|i| FileId(i as u32))
    }

    /// The file with this path, if the workspace holds it.
    pub fn find(&self, path: &str) -> Option<FileId> {
        self.files.iter().position(|f| f.path == path).map(|i| FileId(i as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_columns_count_characters() {
        let f = SourceFile::new("a.pw", "ab\nçé x\n");
        assert_eq!(f.line_col(0), LineCol { line: 1, column: 1 });
        let x = f.text.find('x').unwrap_or_default();
        assert_eq!(f.line_col(x), LineCol { line: 2, column: 4 });
        assert_eq!(f.utf16_col(x), (1, 3));
        assert_eq!(f.offset_of_utf16(1, 3), x);
        assert_eq!(f.offset_of_utf8(1, 5), x);
        assert_eq!(f.offset_of_utf16(9, 0), f.text.len());
    }

    #[test]
    fn astral_characters_take_two_utf16_units() {
        let f = SourceFile::new("a.pw", "\"🚀\" x");
        let x = f.text.find('x').unwrap_or_default();
        assert_eq!(f.utf16_col(x), (0, 5));
        assert_eq!(f.offset_of_utf16(0, 5), x);
    }
}
