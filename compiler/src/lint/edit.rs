//! Text edits for fixes: finding an entity's syntax, whole-line removals, insertions at the
//! right indentation, and merging jobs into one.

use super::Context;
use crate::ast::{self, Block, BlockKind, Body, Member};
use crate::diagnostic::Edit;
use crate::model::Job;
use crate::source::{FileId, SourceFile, Span};

/// The block written at `span`, searched through the whole tree.
pub(crate) fn find_block(file: &ast::File, span: Span) -> Option<&Block> {
    fn walk(members: &[Member], span: Span) -> Option<&Block> {
        for m in members {
            if let Member::Block(b) = m {
                if b.span == span {
                    return Some(b);
                }
                if b.span.start <= span.start && span.end <= b.span.end {
                    if let Some(found) = walk(b.body.members(), span) {
                        return Some(found);
                    }
                }
            }
        }
        None
    }
    walk(&file.members, span)
}

/// The leading whitespace of the line holding `offset`.
pub(crate) fn indent_at(source: &SourceFile, offset: usize) -> &str {
    let line = source.line_text(source.line_index(offset));
    &line[..line.len() - line.trim_start().len()]
}

/// The span to delete to remove `span`: its whole lines when nothing else stands on them.
pub fn removal(source: &SourceFile, span: Span) -> Span {
    let first = source.line_index(span.start);
    let last = source.line_index(span.end);
    let line_start = source.line_start(first);
    let before = &source.text[line_start..span.start];
    let after_end = source.line_start(last + 1).min(source.text.len());
    let after = &source.text[span.end.min(after_end)..after_end];
    if before.trim().is_empty() && after.trim().is_empty() {
        Span::new(line_start, after_end)
    } else {
        span
    }
}

/// Inserts `lines` (already without indentation) as new members after the last member of
/// `block`, or after its `{`, each on its own line at the members' indentation.
pub(crate) fn append_members(source: &SourceFile, file: FileId, block: &Block, lines: &[String]) -> Option<Edit> {
    let Body::Members { members, span } = &block.body else { return None };
    let (at, indent) = match members.last() {
        Some(last) => (last.span().end, indent_at(source, last.span().start).to_string()),
        None => (span.start + 1, format!("{}  ", indent_at(source, block.span.start))),
    };
    // A body written on one line stays on one line.
    let one_line = source.line_index(span.start) == source.line_index(span.end);
    let text: String = if one_line {
        lines.iter().map(|l| format!(" {l}")).collect()
    } else {
        lines.iter().map(|l| format!("\n{indent}{l}")).collect()
    };
    Some(Edit { file, span: Span::new(at, at), replacement: text })
}

/// Inserts `line` before the first task of `block` (after its fields), or at the end.
pub(crate) fn insert_before_tasks(source: &SourceFile, file: FileId, block: &Block, line: &str) -> Option<Edit> {
    let Body::Members { members, .. } = &block.body else { return None };
    match members.iter().find(|m| matches!(m, Member::Task(_))) {
        Some(first) => {
            let at = first.span().start;
            let line_start = source.line_start(source.line_index(at));
            let own_line = source.text[line_start..at].trim().is_empty();
            let replacement = if own_line { format!("{line}\n{}", indent_at(source, at)) } else { format!("{line} ") };
            Some(Edit { file, span: Span::new(at, at), replacement })
        }
        None => append_members(source, file, block, &[line.to_string()]),
    }
}

/// The span to delete to remove an entity: its whole lines, the comment lines right above it
/// (its documentation and suppressions), and a blank line that would otherwise be doubled.
pub(crate) fn entity_removal(source: &SourceFile, span: Span) -> Span {
    let mut out = removal(source, span);
    if out == span {
        return out;
    }
    let mut line = source.line_index(out.start);
    while line > 0 && source.line_text(line - 1).trim_start().starts_with('#') {
        line -= 1;
        out.start = source.line_start(line);
    }
    let first = source.line_index(out.start);
    let before_blank = first == 0 || source.line_text(first - 1).trim().is_empty();
    let next = source.line_index(out.end);
    if before_blank
        && next < source.line_count()
        && source.line_text(next).trim().is_empty()
        && out.end < source.text.len()
    {
        out.end = source.line_start(next + 1).min(source.text.len());
    }
    out
}

/// Inserts `line` as the first member of `block`'s body.
pub(crate) fn prepend_member(source: &SourceFile, file: FileId, block: &Block, line: &str) -> Option<Edit> {
    let Body::Members { members, span } = &block.body else { return None };
    let indent = match members.first() {
        Some(first) => indent_at(source, first.span().start).to_string(),
        None => format!("{}  ", indent_at(source, block.span.start)),
    };
    Some(Edit { file, span: Span::new(span.start + 1, span.start + 1), replacement: format!("\n{indent}{line}") })
}

/// A job written as a plain block (not a template instance, not a fan-out), and its syntax.
pub(crate) fn plain_job<'a>(ctx: &'a Context, job: &Job) -> Option<&'a Block> {
    if job.template.is_some() || job.instance_of.is_some() || job.discover.is_some() {
        return None;
    }
    let block = find_block(ctx.ast(job.origin.file)?, job.origin.span)?;
    (block.kind == BlockKind::Job && block.fan_out.is_none() && matches!(block.body, Body::Members { .. }))
        .then_some(block)
}

/// Edits that make the tasks and artifacts of `others` tasks of `keep`, after its own, and
/// delete each of `remove` (the others' jobs, or the stages that hold them). `None` where that
/// is not mechanical: a job that is not a plain block, fields that differ, `env` blocks.
pub(crate) fn merge_jobs(ctx: &Context, keep: &Job, others: &[&Job], remove: &[Span]) -> Option<Vec<Edit>> {
    let file = keep.origin.file;
    let source = ctx.workspace.file(file);
    let keep_block = plain_job(ctx, keep)?;
    let mut moved = Vec::new();
    let field = |b: &'_ Block, name: &str| -> Option<ast::Field> {
        b.body.members().iter().find_map(|m| match m {
            Member::Field(f) if f.name.name == name => Some(ast::Field::clone(f)),
            _ => None,
        })
    };
    let mut sums: Vec<(&str, u64)> =
        vec![("timeout", keep.timeout_secs.unwrap_or(0)), ("estimate", keep.estimate_secs.unwrap_or(0))];
    for other in others {
        if other.origin.file != file {
            return None;
        }
        let block = plain_job(ctx, other)?;
        for m in block.body.members() {
            match m {
                Member::Task(_) | Member::Artifact(_) => moved.push(source.text.get(m.span().range())?.to_string()),
                Member::Field(f) => match f.name.name.as_str() {
                    "timeout" | "estimate" => {}
                    "resources" => {
                        let mut a = keep.resources.clone();
                        let mut b = other.resources.clone();
                        a.sort();
                        b.sort();
                        if a != b {
                            return None;
                        }
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
        for (name, total) in &mut sums {
            let (mine, theirs) = match *name {
                "timeout" => (keep.timeout_secs, other.timeout_secs),
                _ => (keep.estimate_secs, other.estimate_secs),
            };
            if mine.is_some() != theirs.is_some() {
                return None;
            }
            *total += theirs.unwrap_or(0);
        }
    }
    let mut edits = Vec::new();
    for (name, total) in sums {
        if let Some(f) = field(keep_block, name) {
            edits.push(Edit { file, span: f.value.span, replacement: crate::parser::format_duration(total) });
        }
    }
    edits.push(append_members(source, file, keep_block, &moved)?);
    for span in remove {
        edits.push(Edit { file, span: entity_removal(source, *span), replacement: String::new() });
    }
    Some(edits)
}

/// A name for `text` on its own: name-safe, starting with a letter or `_`.
pub fn name_for(text: &str) -> String {
    let mut out = crate::fan_out::name_safe(text);
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_takes_whole_lines_only_when_alone() {
        let s = SourceFile::new("a.pw", "a {\n  job x { }\n}\n");
        let job = Span::new(6, 15);
        assert_eq!(&s.text[removal(&s, job).range()], "  job x { }\n");
        let s = SourceFile::new("a.pw", "a { job x { } }\n");
        assert_eq!(removal(&s, Span::new(4, 13)), Span::new(4, 13));
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(name_for("web 1.example"), "web-1-example");
        assert_eq!(name_for("1"), "_1");
    }
}
