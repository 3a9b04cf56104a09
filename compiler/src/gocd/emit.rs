//! A syntax tree built from a GoCD file, written as `.pw` text with the import's notes as
//! comments at their places. The formatter then lays it out.

use super::lower::Note;
use crate::ast::{Block, Body, Expr, ExprKind, Field, File, Member, StrLit, StrPart, Task, TaskKind};

/// The `.pw` text of `file`, each note a comment at the top of the block it belongs to.
pub(super) fn emit(file: &File, notes: &[Note]) -> String {
    let mut e = Emitter { out: String::new(), notes: notes.iter().map(|n| (n, false)).collect(), depth: 0 };
    e.notes_at(file.span);
    for m in &file.members {
        e.member(m);
        e.out.push('\n');
    }
    e.out
}

struct Emitter<'a> {
    out: String,
    /// Each note, and whether it is written.
    notes: Vec<(&'a Note, bool)>,
    /// How many blocks deep the output is, for the lines of `"""` strings.
    depth: usize,
}

impl Emitter<'_> {
    fn notes_at(&mut self, at: crate::source::Span) {
        for (note, written) in &mut self.notes {
            if !*written && note.at == at {
                *written = true;
                for line in note.text.lines() {
                    self.out.push_str("# ");
                    self.out.push_str(line);
                    self.out.push('\n');
                }
            }
        }
    }

    fn member(&mut self, m: &Member) {
        match m {
            Member::Field(f) => self.field(f),
            Member::Block(b) => self.block(b),
            Member::Task(t) => self.task(t),
            Member::Artifact(a) => {
                self.out.push_str(&format!("artifact {} = ", a.name.name));
                self.expr(&a.path);
                if a.options.is_empty() {
                    self.out.push('\n');
                } else {
                    self.out.push_str(" {\n");
                    for f in &a.options {
                        self.field(f);
                    }
                    self.out.push_str("}\n");
                }
            }
            Member::Error(_) => {}
        }
    }

    fn field(&mut self, f: &Field) {
        self.out.push_str(&f.name.name);
        self.out.push_str(" = ");
        self.expr(&f.value);
        self.out.push('\n');
    }

    fn block(&mut self, b: &Block) {
        self.out.push_str(b.kind.keyword());
        if let Some(name) = &b.name {
            self.out.push(' ');
            self.out.push_str(&name.name);
        }
        if let Some(fan) = &b.fan_out {
            self.out.push_str(&format!(" for {} in ", fan.var.name));
            self.expr(&fan.source);
        }
        self.out.push_str(" {\n");
        self.depth += 1;
        if let Body::Members { members, span } = &b.body {
            self.notes_at(*span);
            for m in members {
                self.member(m);
            }
        }
        self.depth -= 1;
        self.out.push_str("}\n");
    }

    fn task(&mut self, t: &Task) {
        match &t.kind {
            TaskKind::Run { command, dir } => {
                self.out.push_str("run ");
                self.expr(command);
                if let Some(dir) = dir {
                    self.out.push_str(" in ");
                    self.expr(dir);
                }
            }
            TaskKind::Fetch { source, into } => {
                self.out.push_str("fetch ");
                self.expr(source);
                if let Some(into) = into {
                    self.out.push_str(" into ");
                    self.expr(into);
                }
            }
        }
        if !t.options.is_empty() {
            self.out.push_str(" {\n");
            for f in &t.options {
                self.field(f);
            }
            self.out.push('}');
        }
        self.out.push('\n');
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Str(s) => self.out.push_str(&string(s, self.depth + 1)),
            ExprKind::Int(n) => self.out.push_str(&n.to_string()),
            ExprKind::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            ExprKind::Duration(secs) => self.out.push_str(&crate::parser::format_duration(*secs)),
            ExprKind::List(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.expr(item);
                }
                self.out.push(']');
            }
            ExprKind::Path(segs) => {
                let names: Vec<&str> = segs.iter().map(|s| s.name.as_str()).collect();
                self.out.push_str(&names.join("."));
            }
            ExprKind::Call(call) => {
                let crate::ast::Call { name, args } = &**call;
                self.out.push_str(&name.name);
                self.out.push('(');
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.expr(a);
                }
                self.out.push(')');
            }
            ExprKind::Range(a, b) => self.out.push_str(&format!("{a}..{b}")),
            // `Never` is lowered only for `pw check`: an import leaves `timeout: 0` out.
            ExprKind::Never | ExprKind::Error => {}
        }
    }
}

/// A string literal: `"""` for a script of several lines when that keeps it exactly (its
/// lines indented `depth` levels), else `"..."` with escapes.
pub(super) fn string(s: &StrLit, depth: usize) -> String {
    let indent = "  ".repeat(depth);
    let text: String = s
        .parts
        .iter()
        .map(|p| match p {
            StrPart::Text(t) => t.clone(),
            StrPart::Interp(id) => format!("#{{{}}}", id.name),
        })
        .collect();
    if text.contains('\n') && fits_triple(&text) {
        let mut out = String::from("\"\"\"\n");
        for line in text.lines() {
            if !line.trim().is_empty() {
                out.push_str(&indent);
                out.push_str(&escape(line, true));
            }
            out.push('\n');
        }
        out.push_str(&indent);
        out.push_str("\"\"\"");
        return out;
    }
    format!("\"{}\"", escape(&text, false))
}

/// Whether the `"""` form gives back exactly this text: no `"""`, no `\` ending a line (kept
/// as written there), no leading or trailing blank line, no indentation common to every line.
fn fits_triple(text: &str) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    let non_blank: Vec<&&str> = lines.iter().filter(|l| !l.trim().is_empty()).collect();
    let common_indent = !non_blank.is_empty() && non_blank.iter().all(|l| l.starts_with([' ', '\t']));
    !text.contains("\"\"\"")
        && !text.contains('\r')
        && !lines.iter().any(|l| l.ends_with('\\') || (l.trim().is_empty() && !l.is_empty()))
        && lines.first().is_some_and(|l| !l.trim().is_empty())
        && lines.last().is_some_and(|l| !l.trim().is_empty())
        && !common_indent
}

fn escape(text: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' if !multiline => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '#' if chars.peek() == Some(&'{') => out.push_str("\\#"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    /// The text the `.pw` parser reads back from the literal written for `text`.
    fn read_back(text: &str) -> Option<String> {
        let src = format!("pipeline p {{ stage s {{ job j {{ run {} }} }} }}\n", string(&StrLit::plain(text), 4));
        let parsed = crate::parse_file(FileId(0), &src);
        if !parsed.diagnostics.is_empty() {
            return None;
        }
        let mut found = None;
        let mut todo: Vec<&Member> = parsed.ast.members.iter().collect();
        while let Some(m) = todo.pop() {
            match m {
                Member::Block(b) => todo.extend(b.body.members()),
                Member::Task(t) => {
                    if let TaskKind::Run { command: Expr { kind: ExprKind::Str(s), .. }, .. } = &t.kind {
                        found = Some(s.template_text());
                    }
                }
                _ => {}
            }
        }
        found
    }

    #[test]
    fn strings_read_back_as_written() {
        for text in [
            "make",
            "echo \"hi\" \\ #{x} ${HOME}",
            "set -e\ncd app\n  ./build.sh \"$1\"\n\necho done",
            "curl \\\n  -f x",
            "  indented\n  both",
            "tab\there",
        ] {
            let back = read_back(text).map(|b| b.replace("\\#{", "#{"));
            assert_eq!(back.as_deref(), Some(text), "{text:?} → {}", string(&StrLit::plain(text), 4));
        }
    }
}
