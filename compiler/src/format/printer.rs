//! Prints a syntax tree in the canonical layout, placing each comment where it was written.

use super::comments::{Comments, Placement};
use super::MAX_WIDTH;
use crate::ast::{Block, BlockKind, Body, Expr, ExprKind, Field, Member, Param, Task, TaskKind, TemplateCall};
use crate::source::Span;

const INDENT: &str = "  ";

/// Prints `file` (parsed from `text`, with comments at `comments`).
pub(super) fn print(text: &str, file: &crate::ast::File, comments: &[Span]) -> String {
    let mut p =
        Printer { src: text, out: String::with_capacity(text.len() + text.len() / 4), indent: 0, trailing: Vec::new() };
    let mut queue = Comments::new(text, comments);
    p.members(&mut queue, &file.members, true, 0, text.len());
    let mut out = align_trailing_comments(&p.out, &p.trailing);
    out.truncate(out.trim_end().len());
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// Spaces between code and a trailing comment; comments on consecutive lines line up.
const COMMENT_GAP: usize = 2;

/// Lines up the trailing comments (starting at byte `marks` of `out`) of each run of consecutive
/// lines of one indentation, two spaces after the longest code.
fn align_trailing_comments(out: &str, marks: &[usize]) -> String {
    // (line number, indentation, where the code ends, where the comment starts, the code's width)
    let mut found = Vec::with_capacity(marks.len());
    let (mut line, mut counted) = (0, 0);
    for &mark in marks {
        line += out[counted..mark].matches('\n').count();
        counted = mark;
        let line_start = out[..mark].rfind('\n').map_or(0, |i| i + 1);
        let code = out[line_start..mark].trim_end();
        let indent = code.len() - code.trim_start().len();
        found.push((line, indent, line_start + code.len(), mark, code.chars().count()));
    }
    let mut result = String::with_capacity(out.len() + marks.len() * 8);
    let mut copied = 0;
    let mut i = 0;
    while i < found.len() {
        let mut end = i + 1;
        while end < found.len() && found[end].0 == found[end - 1].0 + 1 && found[end].1 == found[i].1 {
            end += 1;
        }
        let column = found[i..end].iter().map(|f| f.4).max().unwrap_or(0) + COMMENT_GAP;
        for &(_, _, code_end, mark, width) in &found[i..end] {
            result.push_str(&out[copied..code_end]);
            result.extend(std::iter::repeat_n(' ', column - width));
            copied = mark;
        }
        i = end;
    }
    result.push_str(&out[copied..]);
    result
}

struct Printer<'a> {
    src: &'a str,
    out: String,
    indent: usize,
    /// Where each trailing comment starts in `out`.
    trailing: Vec<usize>,
}

type Queue<'a> = Comments<'a>;

impl<'a> Printer<'a> {
    /// Starts a new line (after a blank one when `blank`), indented.
    fn newline(&mut self, blank: bool) {
        if self.out.is_empty() {
            return;
        }
        self.out.push('\n');
        if blank {
            self.out.push('\n');
        }
        for _ in 0..self.indent {
            self.out.push_str(INDENT);
        }
    }

    fn column(&self) -> usize {
        let line_start = self.out.rfind('\n').map_or(0, |i| i + 1);
        self.out[line_start..].chars().count()
    }

    fn comment(&mut self, q: &Queue<'a>, c: Span) {
        self.out.push_str(q.text(c));
    }

    /// Appends `c` at the end of the current line.
    fn trailing_comment(&mut self, q: &Queue<'a>, c: Span) {
        self.out.push(' ');
        self.trailing.push(self.out.len());
        self.comment(q, c);
    }

    /// Prints the members of a file or body, and the comments among them, each on its own line.
    /// `open` is where the members start (after the `{`), `close` where they end (the `}`).
    fn members(&mut self, q: &mut Queue<'a>, members: &[Member], top: bool, open: usize, close: usize) {
        let widths = alignment(q, members);
        let mut prev_end = open;
        let mut prev: Option<&Member> = None;
        let mut printed_any = false;
        for (i, member) in members.iter().enumerate() {
            let start = member.span().start;
            let mut forced = prev.is_some_and(|p| separated(p, member, top));
            while let Some(c) = q.take_before(start) {
                self.own_line_comment(q, c, top, printed_any, forced || q.blank_between(prev_end, c.start));
                forced = false;
                printed_any = true;
                prev_end = c.end;
            }
            self.newline(printed_any && (forced || q.blank_between(prev_end, start)));
            self.member(q, member, widths[i]);
            let end = member.span().end;
            let line_has_comment = self.leftover_comments(q, end);
            prev_end = end;
            if let Some(c) = q.take_trailing(end) {
                if line_has_comment {
                    self.newline(false);
                    self.comment(q, c);
                } else {
                    self.trailing_comment(q, c);
                }
                prev_end = c.end;
            }
            prev = Some(member);
            printed_any = true;
        }
        while let Some(c) = q.take_before(close) {
            self.own_line_comment(q, c, top, printed_any, q.blank_between(prev_end, c.start));
            printed_any = true;
            prev_end = c.end;
        }
    }

    /// A comment between members: on its own line, or after the `{` where it was written there.
    fn own_line_comment(&mut self, q: &Queue<'a>, c: Span, top: bool, printed_any: bool, blank: bool) {
        if !printed_any && !top && q.placement(c) == Placement::Trailing {
            self.trailing_comment(q, c);
        } else {
            self.newline(printed_any && blank);
            self.comment(q, c);
        }
    }

    /// Comments inside a printed construct that no part of it placed (they stood between two
    /// tokens that always share a line): printed after it, so none is lost. Returns whether the
    /// current line now ends in a comment.
    fn leftover_comments(&mut self, q: &mut Queue<'a>, end: usize) -> bool {
        let mut line_has_comment = false;
        while let Some(c) = q.take_before(end) {
            if line_has_comment {
                self.newline(false);
                self.comment(q, c);
            } else {
                self.trailing_comment(q, c);
            }
            line_has_comment = true;
        }
        line_has_comment
    }

    fn member(&mut self, q: &mut Queue<'a>, member: &Member, width: usize) {
        match member {
            Member::Field(f) => self.field(q, f, width),
            Member::Block(b) => self.block(q, b),
            Member::Task(t) => self.task(q, t),
            Member::Artifact(a) => {
                self.out.push_str("artifact ");
                self.out.push_str(&a.name.name);
                for _ in a.name.name.chars().count()..width {
                    self.out.push(' ');
                }
                self.out.push_str(" = ");
                let options_span = Span::new(a.path.span.end, a.span.end);
                let inline = self.inline_option(q, &a.options, options_span);
                self.expr(q, &a.path, inline.as_ref().map_or(0, |line| line.chars().count()));
                self.options(q, &a.options, inline, options_span);
            }
            Member::Error(span) => self.out.push_str(self.src[span.range()].trim()),
        }
    }

    fn field(&mut self, q: &mut Queue<'a>, f: &Field, width: usize) {
        self.out.push_str(&f.name.name);
        for _ in f.name.name.chars().count()..width {
            self.out.push(' ');
        }
        self.out.push_str(" = ");
        self.expr(q, &f.value, 0);
    }

    fn block(&mut self, q: &mut Queue<'a>, b: &Block) {
        self.out.push_str(b.kind.keyword());
        if let Some((of, _)) = b.template_of {
            self.out.push(' ');
            self.out.push_str(of.keyword());
        }
        if let Some(name) = &b.name {
            self.out.push(' ');
            self.out.push_str(&name.name);
        }
        if b.kind == BlockKind::Template {
            let end = match &b.body {
                Body::Members { span, .. } => span.start,
                _ => b.span.end,
            };
            let from = b.name.as_ref().map_or(b.kind_span.end, |n| n.span.end);
            self.params(q, &b.params, Span::new(from, end));
        }
        if let Some(f) = &b.fan_out {
            self.out.push_str(" for ");
            self.out.push_str(&f.var.name);
            self.out.push_str(" in ");
            let after = match &b.body {
                Body::Instance(call) => 3 + self.flat_call(call).chars().count(),
                _ => 2,
            };
            self.expr(q, &f.source, after);
        }
        match &b.body {
            Body::Members { members, span } => {
                self.out.push(' ');
                if b.kind == BlockKind::Env && self.inline_env(q, members, *span) {
                    return;
                }
                self.body(q, members, *span);
            }
            Body::Instance(call) => {
                self.out.push_str(" = ");
                self.template_call(q, call);
            }
            Body::Missing => {}
        }
    }

    fn body(&mut self, q: &mut Queue<'a>, members: &[Member], span: Span) {
        if members.is_empty() && !q.any_within(span) {
            self.out.push_str("{}");
            return;
        }
        self.out.push('{');
        self.indent += 1;
        self.members(q, members, false, span.start + 1, span.end.saturating_sub(1).max(span.start + 1));
        self.indent -= 1;
        self.newline(false);
        self.out.push('}');
    }

    /// `env { NAME = "value" }` on one line, when it has one field, no comment, and fits.
    fn inline_env(&mut self, q: &mut Queue<'a>, members: &[Member], span: Span) -> bool {
        let [Member::Field(f)] = members else { return false };
        if q.any_within(span) {
            return false;
        }
        let value = self.flat(&f.value);
        let line = format!("{{ {} = {value} }}", f.name.name);
        if line.contains('\n') || self.column() + line.chars().count() > MAX_WIDTH {
            return false;
        }
        self.out.push_str(&line);
        true
    }

    /// A single option stays on the line before it: ` { when = failed }`.
    fn inline_option(&self, q: &Queue<'a>, options: &[Field], span: Span) -> Option<String> {
        match options {
            [f] if !q.any_within(span) => Some(format!(" {{ {} = {} }}", f.name.name, self.flat(&f.value))),
            _ => None,
        }
        .filter(|line| !line.contains('\n'))
    }

    /// The options of a task or an artifact, after its text; `span` runs from the end of that
    /// text to the end of the entity.
    fn options(&mut self, q: &mut Queue<'a>, options: &[Field], inline: Option<String>, span: Span) {
        if options.is_empty() {
            return;
        }
        if let Some(line) = inline.filter(|line| self.column() + line.chars().count() <= MAX_WIDTH) {
            self.out.push_str(&line);
            return;
        }
        let last = span.start;
        let options: Vec<Member> = options.iter().cloned().map(Member::field).collect();
        let open = self.src[last..span.end].find('{').map_or(last, |i| last + i);
        self.out.push_str(" {");
        self.indent += 1;
        self.members(q, &options, false, open + 1, span.end.saturating_sub(1).max(open + 1));
        self.indent -= 1;
        self.newline(false);
        self.out.push('}');
    }

    fn task(&mut self, q: &mut Queue<'a>, t: &Task) {
        let options_span = Span::new(command_end(t), t.span.end);
        let inline = self.inline_option(q, &t.options, options_span);
        let reserve = inline.as_ref().map_or(0, |line| line.chars().count());
        match &t.kind {
            TaskKind::Run { command, dir } => {
                self.out.push_str("run ");
                let dir_width = dir.as_ref().map_or(0, |d| 4 + self.flat(d).chars().count());
                self.expr(q, command, reserve + dir_width);
                if let Some(dir) = dir {
                    self.out.push_str(" in ");
                    self.expr(q, dir, reserve);
                }
            }
            TaskKind::Fetch { source, into } => {
                self.out.push_str("fetch ");
                let into_width = into.as_ref().map_or(0, |i| 6 + self.flat(i).chars().count());
                self.expr(q, source, reserve + into_width);
                if let Some(into) = into {
                    self.out.push_str(" into ");
                    self.expr(q, into, reserve);
                }
            }
        }
        self.options(q, &t.options, inline, options_span);
    }

    fn params(&mut self, q: &mut Queue<'a>, params: &[Param], span: Span) {
        let flat: Vec<String> = params.iter().map(|p| self.flat_param(p)).collect();
        let line = format!("({})", flat.join(", "));
        let fits = line.contains('\n') || self.column() + line.chars().count() + 2 <= MAX_WIDTH;
        if params.is_empty() || (fits && !q.any_within(span)) {
            self.out.push_str(&line);
            return;
        }
        let open = self.src.get(span.range()).and_then(|s| s.find('(')).map_or(span.start, |i| span.start + i + 1);
        let spans: Vec<Span> = params.iter().map(|p| p.span).collect();
        self.wrapped(q, ('(', ')'), &spans, Span::new(open, span.end), |p, q, i| {
            let param = &params[i];
            p.out.push_str(&param.name.name);
            p.out.push_str(": ");
            p.out.push_str(&param.ty.name);
            if let Some(d) = &param.default {
                p.out.push_str(" = ");
                p.expr(q, d, 1);
            }
        });
    }

    fn flat_param(&self, p: &Param) -> String {
        match &p.default {
            Some(d) => format!("{}: {} = {}", p.name.name, p.ty.name, self.flat(d)),
            None => format!("{}: {}", p.name.name, p.ty.name),
        }
    }

    /// `t(a = 1, b = "x")` on one line.
    fn flat_call(&self, call: &TemplateCall) -> String {
        let args: Vec<String> =
            call.args.iter().map(|a| format!("{} = {}", a.name.name, self.flat(&a.value))).collect();
        format!("{}({})", call.template.name, args.join(", "))
    }

    fn template_call(&mut self, q: &mut Queue<'a>, call: &TemplateCall) {
        self.out.push_str(&call.template.name);
        let line = self.flat_call(call)[call.template.name.len()..].to_string();
        let fits = line.contains('\n') || self.column() + line.chars().count() <= MAX_WIDTH;
        let inner = Span::new(call.template.span.end, call.span.end);
        if call.args.is_empty() || (fits && !q.any_within(inner)) {
            self.out.push_str(&line);
            return;
        }
        let width = call.args.iter().map(|a| a.name.name.chars().count()).max().unwrap_or(0);
        let open = self.src.get(inner.range()).and_then(|s| s.find('(')).map_or(inner.start, |i| inner.start + i + 1);
        let spans: Vec<Span> = call.args.iter().map(|a| a.span).collect();
        self.wrapped(q, ('(', ')'), &spans, Span::new(open, call.span.end), |p, q, i| {
            let arg = &call.args[i];
            p.out.push_str(&arg.name.name);
            for _ in arg.name.name.chars().count()..width {
                p.out.push(' ');
            }
            p.out.push_str(" = ");
            p.expr(q, &arg.value, 1);
        });
    }

    /// Prints `e`, wrapping its lists and calls one item per line when the line would pass
    /// [`MAX_WIDTH`] (with `reserve` columns to spare) or when comments stand among the items.
    fn expr(&mut self, q: &mut Queue<'a>, e: &Expr, reserve: usize) {
        let flat = self.flat(e);
        let fits = flat.contains('\n') || self.column() + flat.chars().count() + reserve <= MAX_WIDTH;
        let has_comments = q.any_within(e.span);
        match &e.kind {
            ExprKind::List(items) if !items.is_empty() && (!fits || has_comments) => {
                let spans: Vec<Span> = items.iter().map(|i| i.span).collect();
                self.wrapped(q, ('[', ']'), &spans, Span::new(e.span.start + 1, e.span.end), |p, q, i| {
                    p.expr(q, &items[i], 1)
                });
            }
            ExprKind::Call(call) if !call.args.is_empty() && (!fits || has_comments) => {
                let crate::ast::Call { name, args } = &**call;
                self.out.push_str(&name.name);
                let open = self
                    .src
                    .get(name.span.end..e.span.end)
                    .and_then(|s| s.find('('))
                    .map_or(name.span.end, |i| name.span.end + i + 1);
                let spans: Vec<Span> = args.iter().map(|a| a.span).collect();
                self.wrapped(q, ('(', ')'), &spans, Span::new(open, e.span.end), |p, q, i| p.expr(q, &args[i], 1));
            }
            _ => self.out.push_str(&flat),
        }
    }

    /// Prints items one per line between `open` and `close`, each followed by a comma, with the
    /// comments among them. `bounds` holds the items in the source, from after the opening
    /// delimiter to after the closing one.
    fn wrapped(
        &mut self,
        q: &mut Queue<'a>,
        (open, close): (char, char),
        items: &[Span],
        bounds: Span,
        mut item: impl FnMut(&mut Self, &mut Queue<'a>, usize),
    ) {
        let (from, to) = (bounds.start, bounds.end);
        self.out.push(open);
        if let Some(c) = q.take_trailing(from) {
            self.trailing_comment(q, c);
        }
        self.indent += 1;
        for (i, span) in items.iter().enumerate() {
            while let Some(c) = q.take_before(span.start) {
                self.newline(false);
                self.comment(q, c);
            }
            self.newline(false);
            item(self, q, i);
            self.out.push(',');
            let line_has_comment = self.leftover_comments(q, span.end);
            if let Some(c) = q.take_trailing(span.end) {
                if line_has_comment {
                    self.newline(false);
                    self.comment(q, c);
                } else {
                    self.trailing_comment(q, c);
                }
            }
        }
        while let Some(c) = q.take_before(to.saturating_sub(1)) {
            self.newline(false);
            self.comment(q, c);
        }
        self.indent -= 1;
        self.newline(false);
        self.out.push(close);
    }

    /// `e` on one line, literals copied from the source.
    fn flat(&self, e: &Expr) -> String {
        let mut out = String::new();
        self.write_flat(e, &mut out);
        out
    }

    fn write_flat(&self, e: &Expr, out: &mut String) {
        let source = || self.src.get(e.span.range()).unwrap_or_default();
        match &e.kind {
            ExprKind::Str(_) | ExprKind::Int(_) | ExprKind::Duration(_) | ExprKind::Never | ExprKind::Error => {
                out.push_str(source())
            }
            ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            ExprKind::Range(a, b) => out.push_str(&format!("{a}..{b}")),
            ExprKind::Path(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push('.');
                    }
                    out.push_str(&part.name);
                }
            }
            ExprKind::List(items) => {
                out.push('[');
                self.write_items(items, out);
                out.push(']');
            }
            ExprKind::Call(call) => {
                let crate::ast::Call { name, args } = &**call;
                out.push_str(&name.name);
                out.push('(');
                self.write_items(args, out);
                out.push(')');
            }
        }
    }

    fn write_items(&self, items: &[Expr], out: &mut String) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            self.write_flat(item, out);
        }
    }
}

/// Where a task's command (and `in` or `into`) ends: its options follow.
fn command_end(t: &Task) -> usize {
    match &t.kind {
        TaskKind::Run { command, dir } => dir.as_ref().unwrap_or(command).span.end,
        TaskKind::Fetch { source, into } => into.as_ref().unwrap_or(source).span.end,
    }
}

/// Whether a blank line always separates these two members: two entities (at the top level,
/// any blocks; in a body, stages and jobs).
fn separated(prev: &Member, next: &Member, top: bool) -> bool {
    let entity = |m: &Member| match m {
        Member::Block(b) => top || b.kind != BlockKind::Env,
        _ => false,
    };
    entity(prev) && entity(next)
}

/// For each member, the width its name is padded to: the longest name in its run of
/// consecutive fields, or of consecutive artifacts (a blank line or another member ends a run).
fn alignment(q: &Queue<'_>, members: &[Member]) -> Vec<usize> {
    let key = |m: &Member| match m {
        Member::Field(f) => Some((false, f.name.name.chars().count())),
        Member::Artifact(a) => Some((true, a.name.name.chars().count())),
        _ => None,
    };
    let mut widths = vec![0; members.len()];
    let mut i = 0;
    while i < members.len() {
        let Some((artifact, _)) = key(&members[i]) else {
            i += 1;
            continue;
        };
        let mut end = i + 1;
        while end < members.len()
            && key(&members[end]).is_some_and(|(a, _)| a == artifact)
            && !q.blank_between(members[end - 1].span().end, members[end].span().start)
        {
            end += 1;
        }
        let width = members[i..end].iter().filter_map(|m| key(m).map(|k| k.1)).max().unwrap_or(0);
        widths[i..end].fill(width);
        i = end;
    }
    widths
}
