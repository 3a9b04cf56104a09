//! Terminal output to HTML: SGR colour and bold sequences become `<span class="...">`, every
//! other escape sequence is dropped, and all text is escaped.

use std::fmt::Write;

/// The SGR state in force: foreground and background colour (0-15) and bold.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Style {
    fg: Option<u8>,
    bg: Option<u8>,
    bold: bool,
}

impl Style {
    fn apply(&mut self, params: &str) {
        let codes: Vec<u32> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
        let mut i = 0;
        while i < codes.len() {
            match codes[i] {
                0 => *self = Style::default(),
                1 => self.bold = true,
                22 => self.bold = false,
                c @ 30..=37 => self.fg = Some((c - 30) as u8),
                c @ 90..=97 => self.fg = Some((c - 90 + 8) as u8),
                39 => self.fg = None,
                c @ 40..=47 => self.bg = Some((c - 40) as u8),
                c @ 100..=107 => self.bg = Some((c - 100 + 8) as u8),
                49 => self.bg = None,
                // 256-colour and true-colour forms: skip their arguments.
                38 | 48 => i += if codes.get(i + 1) == Some(&5) { 2 } else { 4 },
                _ => {}
            }
            i += 1;
        }
    }

    fn classes(&self) -> String {
        let mut c = Vec::new();
        if let Some(f) = self.fg {
            c.push(format!("f{f}"));
        }
        if let Some(b) = self.bg {
            c.push(format!("b{b}"));
        }
        if self.bold {
            c.push("bold".to_string());
        }
        c.join(" ")
    }
}

fn escape_into(out: &mut String, text: &str) {
    let _ = maud::Escaper::new(out).write_str(text);
}

/// `text` as HTML, its colours as spans of the classes `f0`..`f15`, `b0`..`b15` and `bold`.
pub(crate) fn to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut style = Style::default();
    let mut open = false;
    let mut rest = text;
    while let Some(at) = rest.find('\u{1b}') {
        escape_into(&mut out, &rest[..at]);
        let seq = &rest[at + 1..];
        let (consumed, sgr) = parse_escape(seq);
        if let Some(params) = sgr {
            let before = style;
            style.apply(params);
            if style != before {
                if open {
                    out.push_str("</span>");
                    open = false;
                }
                if style != Style::default() {
                    let _ = write!(out, "<span class=\"{}\">", style.classes());
                    open = true;
                }
            }
        }
        rest = &seq[consumed..];
    }
    escape_into(&mut out, rest);
    if open {
        out.push_str("</span>");
    }
    out
}

/// How many bytes after ESC an escape sequence takes, and its parameters when it sets the style.
fn parse_escape(seq: &str) -> (usize, Option<&str>) {
    let bytes = seq.as_bytes();
    match bytes.first() {
        Some(b'[') => {
            // CSI: parameters and intermediates up to a final byte in 0x40..=0x7e.
            let end = bytes[1..].iter().position(|b| (0x40..=0x7e).contains(b));
            match end {
                Some(e) => {
                    let params = &seq[1..1 + e];
                    let sgr = (bytes[1 + e] == b'm').then_some(params);
                    (e + 2, sgr)
                }
                None => (seq.len(), None),
            }
        }
        // OSC: up to BEL or ST.
        Some(b']') => {
            let bel = seq.find('\u{7}').map(|i| i + 1);
            let st = seq.find("\u{1b}\\").map(|i| i + 2);
            (bel.into_iter().chain(st).min().unwrap_or(seq.len()), None)
        }
        Some(_) => (seq.chars().next().map_or(0, char::len_utf8), None),
        None => (0, None),
    }
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn colours_become_spans_and_markup_stays_text() {
        let html = to_html("\u{1b}[1;31merror\u{1b}[0m: <b>x</b> & y\n");
        assert_eq!(html, "<span class=\"f1 bold\">error</span>: &lt;b&gt;x&lt;/b&gt; &amp; y\n");
    }

    #[test]
    fn other_sequences_are_dropped_and_cut_ones_end_the_text() {
        assert_eq!(to_html("a\u{1b}[2Kb\u{1b}]0;title\u{7}c\u{1b}[38;5;200md\u{1b}[39m"), "abcd");
        assert_eq!(to_html("x\u{1b}[31"), "x");
        assert_eq!(to_html("\u{1b}[92mok"), "<span class=\"f10\">ok</span>");
    }
}
