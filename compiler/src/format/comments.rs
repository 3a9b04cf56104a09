//! The comments of a file, handed out in source order as the printer passes their place.

use crate::source::Span;

/// Where a comment stands in its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Placement {
    /// Alone on its line.
    OwnLine,
    /// After code on the same line.
    Trailing,
}

/// The comments not printed yet, in source order.
pub(super) struct Comments<'a> {
    text: &'a str,
    spans: &'a [Span],
    next: usize,
}

impl<'a> Comments<'a> {
    pub(super) fn new(text: &'a str, spans: &'a [Span]) -> Self {
        Comments { text, spans, next: 0 }
    }

    /// The next comment, if it starts before `offset`.
    pub(super) fn next_before(&self, offset: usize) -> Option<Span> {
        self.spans.get(self.next).copied().filter(|c| c.start < offset)
    }

    /// Takes the next comment if it starts before `offset`.
    pub(super) fn take_before(&mut self, offset: usize) -> Option<Span> {
        let c = self.next_before(offset)?;
        self.next += 1;
        Some(c)
    }

    /// Takes the next comment if it is on the same line as `offset` (and after it).
    pub(super) fn take_trailing(&mut self, offset: usize) -> Option<Span> {
        let c = self.spans.get(self.next).copied()?;
        if c.start >= offset && !self.text[offset..c.start].contains('\n') {
            self.next += 1;
            return Some(c);
        }
        None
    }

    /// Whether a comment not yet printed starts inside `span`.
    pub(super) fn any_within(&self, span: Span) -> bool {
        let rest = &self.spans[self.next..];
        let i = rest.partition_point(|c| c.start < span.start);
        rest.get(i).is_some_and(|c| c.start < span.end)
    }

    /// The comment's text, trailing whitespace removed.
    pub(super) fn text(&self, c: Span) -> &'a str {
        self.text[c.range()].trim_end()
    }

    pub(super) fn placement(&self, c: Span) -> Placement {
        let line_start = self.text[..c.start].rfind('\n').map_or(0, |i| i + 1);
        if self.text[line_start..c.start].trim().is_empty() {
            Placement::OwnLine
        } else {
            Placement::Trailing
        }
    }

    /// Whether the source has a blank line between `from` and `to`: a line holding nothing but
    /// whitespace, strictly between the line of `from` and the line of `to`.
    pub(super) fn blank_between(&self, from: usize, to: usize) -> bool {
        if from >= to || to > self.text.len() {
            return false;
        }
        let lines: Vec<&str> = self.text[from..to].split('\n').collect();
        lines.len() >= 3 && lines[1..lines.len() - 1].iter().any(|l| l.trim().is_empty())
    }
}
