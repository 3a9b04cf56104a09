//! Decoding of string literals: escapes, `"""` indentation stripping and `#{name}` interpolations.
//!
//! Decoding works on the source text itself so that every interpolation keeps the exact byte span
//! of its name, and every bad escape is reported at its two characters.

use crate::ast::{Ident, StrLit, StrPart};
use crate::codes::Code::{E0103, E0107};
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};

const ESCAPES_NOTE: &str = "the escapes are `\\\\`, `\\\"`, `\\n`, `\\t`, `\\r` and `\\#`";

/// Decodes the string token at `span` of `text`: `"..."` or, when `multiline`, a closed `"""..."""`.
pub(crate) fn decode(file: FileId, text: &str, span: Span, multiline: bool, diags: &mut Vec<Diagnostic>) -> StrLit {
    let quote = if multiline { 3 } else { 1 };
    if span.end < span.start + 2 * quote || span.end > text.len() {
        return StrLit { parts: vec![StrPart::Text(String::new())], multiline };
    }
    let content = Span::new(span.start + quote, span.end - quote);
    let raw = &text[content.range()];
    if !multiline && !raw.bytes().any(|b| b == b'\\' || b == b'#') {
        return StrLit { parts: vec![StrPart::Text(raw.to_string())], multiline };
    }
    let mut decoder = Decoder { file, text, parts: Vec::new(), buf: String::with_capacity(raw.len()), diags };
    if multiline {
        decoder.multiline(content);
    } else {
        decoder.segment(content.start, content.end);
    }
    decoder.finish(multiline)
}

struct Decoder<'a> {
    file: FileId,
    text: &'a str,
    parts: Vec<StrPart>,
    buf: String,
    diags: &'a mut Vec<Diagnostic>,
}

impl Decoder<'_> {
    fn finish(mut self, multiline: bool) -> StrLit {
        if !self.buf.is_empty() || self.parts.is_empty() {
            self.parts.push(StrPart::Text(std::mem::take(&mut self.buf)));
        }
        StrLit { parts: self.parts, multiline }
    }

    /// A `"""` string: drops a blank first and last line, removes the common indentation of the
    /// other lines, and joins them with `\n`.
    fn multiline(&mut self, content: Span) {
        let mut lines = line_ranges(self.text, content);
        if lines.len() > 1 && self.is_blank(lines[0]) {
            lines.remove(0);
        }
        if lines.len() > 1 && lines.last().is_some_and(|&l| self.is_blank(l)) {
            lines.pop();
        }
        let indent = self.common_indent(&lines);
        for (i, &(start, end)) in lines.iter().enumerate() {
            if i > 0 {
                self.buf.push('\n');
            }
            let leading = self.text[start..end].bytes().take_while(|b| matches!(b, b' ' | b'\t')).count();
            self.segment(start + leading.min(indent), end);
        }
    }

    fn is_blank(&self, (start, end): (usize, usize)) -> bool {
        self.text[start..end].bytes().all(|b| matches!(b, b' ' | b'\t'))
    }

    /// Length in bytes of the leading whitespace shared by every non-blank line.
    fn common_indent(&self, lines: &[(usize, usize)]) -> usize {
        let mut common: Option<&str> = None;
        for &(start, end) in lines {
            let line = &self.text[start..end];
            if line.bytes().all(|b| matches!(b, b' ' | b'\t')) {
                continue;
            }
            let ws = &line[..line.bytes().take_while(|b| matches!(b, b' ' | b'\t')).count()];
            common = Some(match common {
                None => ws,
                Some(c) => &c[..c.bytes().zip(ws.bytes()).take_while(|(a, b)| a == b).count()],
            });
        }
        common.map_or(0, str::len)
    }

    /// Decodes the source bytes `start..end` (one line) into the current parts.
    fn segment(&mut self, start: usize, end: usize) {
        let text = self.text;
        let mut i = start;
        while i < end {
            let rest = &text.as_bytes()[i..end];
            let Some(special) = rest.iter().position(|&b| b == b'\\' || b == b'#') else {
                self.buf.push_str(&text[i..end]);
                return;
            };
            self.buf.push_str(&text[i..i + special]);
            i += special;
            i = if text.as_bytes()[i] == b'\\' { self.escape(i, end) } else { self.hash(i, end) };
        }
    }

    /// The escape starting with the backslash at `i`; returns where decoding continues.
    fn escape(&mut self, i: usize, end: usize) -> usize {
        let Some(c) = self.text[i + 1..end].chars().next() else {
            // A backslash ending a line of a `"""` string stays, as a shell line continuation.
            self.buf.push('\\');
            return i + 1;
        };
        let decoded = match c {
            '\\' => '\\',
            '"' => '"',
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '#' => '#',
            _ => {
                let span = Span::new(i, i + 1 + c.len_utf8());
                self.diags.push(
                    Diagnostic::error(E0103, self.file, span, format!("unknown escape `\\{}`", c.escape_default()))
                        .with_label("not a valid escape")
                        .with_note(ESCAPES_NOTE)
                        .with_help("write `\\\\` for a backslash"),
                );
                self.buf.push('\\');
                self.buf.push(c);
                return span.end;
            }
        };
        self.buf.push(decoded);
        i + 1 + c.len_utf8()
    }

    /// The `#` at `i`: an interpolation when followed by `{`, else plain text.
    fn hash(&mut self, i: usize, end: usize) -> usize {
        let bytes = self.text.as_bytes();
        if i + 1 >= end || bytes[i + 1] != b'{' {
            self.buf.push('#');
            return i + 1;
        }
        let Some(close) = bytes[i + 2..end].iter().position(|&b| b == b'}').map(|p| i + 2 + p) else {
            self.diags.push(
                Diagnostic::error(E0107, self.file, Span::new(i, end), "unclosed interpolation")
                    .with_label("this `#{` has no closing `}`")
                    .with_help("close it as in `#{name}`, or write `\\#{` to keep `#{` as text"),
            );
            self.buf.push_str(&self.text[i..end]);
            return end;
        };
        let inner = &self.text[i + 2..close];
        let name_start = i + 2 + (inner.len() - inner.trim_start_matches([' ', '\t']).len());
        let name_end = close - (inner.len() - inner.trim_end_matches([' ', '\t']).len());
        let name = &self.text[name_start..name_end.max(name_start)];
        if is_name(name) {
            if !self.buf.is_empty() {
                self.parts.push(StrPart::Text(std::mem::take(&mut self.buf)));
            }
            let span = Span::new(name_start, name_end);
            self.parts.push(StrPart::Interp(Ident { name: name.to_string(), span }));
        } else {
            let label = if name.is_empty() {
                "expected a name between the braces".to_string()
            } else {
                format!("`{name}` is not a name")
            };
            self.diags.push(
                Diagnostic::error(E0107, self.file, Span::new(i, close + 1), "invalid interpolation")
                    .with_label(label)
                    .with_help(
                        "interpolate a template parameter or a `for` variable by name, as in `#{server}`; \
                         write `\\#{` to keep `#{` as text",
                    ),
            );
            self.buf.push_str(&self.text[i..close + 1]);
        }
        close + 1
    }
}

/// Whether `s` is a name: `[A-Za-z_][A-Za-z0-9_-]*`.
pub(crate) fn is_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The lines of `content` as byte ranges, line breaks (`\n` or `\r\n`) excluded.
fn line_ranges(text: &str, content: Span) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = content.start;
    for (offset, _) in text[content.range()].match_indices('\n') {
        let end = content.start + offset;
        lines.push((start, trim_cr(text, start, end)));
        start = end + 1;
    }
    lines.push((start, trim_cr(text, start, content.end)));
    lines
}

fn trim_cr(text: &str, start: usize, end: usize) -> usize {
    if end > start && text.as_bytes()[end - 1] == b'\r' {
        end - 1
    } else {
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, multiline: bool) -> (StrLit, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let lit = decode(FileId(0), src, Span::new(0, src.len()), multiline, &mut diags);
        (lit, diags)
    }

    fn text(src: &str, multiline: bool) -> String {
        let (lit, diags) = run(src, multiline);
        assert!(diags.is_empty(), "{diags:?}");
        lit.template_text()
    }

    #[test]
    fn decodes_escapes() {
        assert_eq!(text(r#""a\\b\"c\n\t\r""#, false), "a\\b\"c\n\t\r");
        assert_eq!(text(r#""""#, false), "");
        assert_eq!(run(r#""""#, false).0.parts, vec![StrPart::Text(String::new())]);
    }

    #[test]
    fn escaped_hash_is_not_an_interpolation() {
        let (lit, diags) = run(r##""\#{x} #x $HOME ${VAR}""##, false);
        assert!(diags.is_empty());
        assert_eq!(lit.parts, vec![StrPart::Text("#{x} #x $HOME ${VAR}".into())]);
    }

    #[test]
    fn bad_escape_spans_its_two_characters() {
        let src = r#""ab\qc\é""#;
        let (lit, diags) = run(src, false);
        assert_eq!(diags.len(), 2);
        assert_eq!(diags[0].code, "E0103");
        assert_eq!(&src[diags[0].span.range()], "\\q");
        assert_eq!(&src[diags[1].span.range()], "\\é");
        assert_eq!(lit.template_text(), "ab\\qc\\é");
    }

    #[test]
    fn interpolations_keep_the_span_of_their_name() {
        let src = r##""scp #{ server }:/srv #{x-1}""##;
        let (lit, diags) = run(src, false);
        assert!(diags.is_empty());
        let names: Vec<_> = lit
            .parts
            .iter()
            .filter_map(|p| match p {
                StrPart::Interp(id) => Some((id.name.clone(), &src[id.span.range()])),
                StrPart::Text(_) => None,
            })
            .collect();
        assert_eq!(names, vec![("server".to_string(), "server"), ("x-1".to_string(), "x-1")]);
        assert_eq!(lit.parts.len(), 4);
    }

    #[test]
    fn bad_interpolations_are_e0107() {
        for (src, span) in [
            (r##""a #{1x} b""##, "#{1x}"),
            (r##""#{}""##, "#{}"),
            (r##""#{a b}""##, "#{a b}"),
            (r##""x #{abc""##, "#{abc"),
        ] {
            let (_, diags) = run(src, false);
            assert_eq!(diags.len(), 1, "{src}");
            assert_eq!(diags[0].code, "E0107");
            assert_eq!(&src[diags[0].span.range()], span);
        }
    }

    #[test]
    fn multiline_strips_common_indentation() {
        let src = "\"\"\"\n    ./ci/start-db.sh\n      ./ci/integration.sh bin/webapp\n    \"\"\"";
        assert_eq!(text(src, true), "./ci/start-db.sh\n  ./ci/integration.sh bin/webapp");
    }

    #[test]
    fn multiline_keeps_text_on_the_first_line_and_inner_blank_lines() {
        assert_eq!(text("\"\"\"one\n  two\n\n  three\"\"\"", true), "one\n  two\n\n  three");
        assert_eq!(text("\"\"\"  \n\t\ta\n\t\t\tb\n\t\t\"\"\"", true), "a\n\tb");
        assert_eq!(text("\"\"\"x\"\"\"", true), "x");
        assert_eq!(text("\"\"\"\"\"\"", true), "");
    }

    #[test]
    fn multiline_handles_crlf_and_line_continuations() {
        let src = "\"\"\"\r\n  make \\\r\n    all\r\n  \"\"\"";
        assert_eq!(text(src, true), "make \\\n  all");
    }

    #[test]
    fn multiline_interpolation_spans_point_into_the_source() {
        let src = "\"\"\"\n      deploy #{env} \\#{not}\n    \"\"\"";
        let (lit, diags) = run(src, true);
        assert!(diags.is_empty());
        let StrPart::Interp(id) = &lit.parts[1] else { panic!("{lit:?}") };
        assert_eq!(&src[id.span.range()], "env");
        assert_eq!(lit.template_text(), "deploy #{env} #{not}");
    }

    #[test]
    fn names() {
        assert!(is_name("a-1_b"));
        assert!(is_name("_x"));
        assert!(!is_name("1a"));
        assert!(!is_name(""));
        assert!(!is_name("a.b"));
    }
}
