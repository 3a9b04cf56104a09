//! Folding ranges: blocks, lists and calls over several lines, multi-line strings, comment runs.

use crate::state::Snapshot;
use pw_compiler::ast::{Body, Expr, ExprKind, Member, TaskKind};
use pw_compiler::{FileId, Span};
use tower_lsp_server::ls_types::{FoldingRange, FoldingRangeKind};

pub fn ranges(snap: &Snapshot, file: FileId) -> Vec<FoldingRange> {
    let mut spans: Vec<(Span, Option<FoldingRangeKind>)> = Vec::new();
    walk(&snap.parsed(file).ast.members, &mut spans, 0);
    let source = snap.source(file);
    let mut out: Vec<FoldingRange> = spans
        .into_iter()
        .filter_map(|(span, kind)| {
            let (start, end) = (source.line_index(span.start), source.line_index(span.end.saturating_sub(1)));
            // The closing line stays visible.
            (end > start + 1 || (kind.is_some() && end > start)).then(|| FoldingRange {
                start_line: start as u32,
                end_line: if kind.is_some() { end } else { end - 1 } as u32,
                kind,
                ..FoldingRange::default()
            })
        })
        .collect();
    out.extend(comment_runs(snap, file));
    out.sort_by_key(|r| (r.start_line, r.end_line));
    out
}

fn walk(members: &[Member], out: &mut Vec<(Span, Option<FoldingRangeKind>)>, depth: usize) {
    if depth > 64 {
        return;
    }
    for member in members {
        match member {
            Member::Block(b) => {
                match &b.body {
                    Body::Members { members, span } => {
                        out.push((*span, None));
                        walk(members, out, depth + 1);
                    }
                    Body::Instance(call) => out.push((call.span, None)),
                    Body::Missing => {}
                }
                if let Some(f) = &b.fan_out {
                    expr(&f.source, out, depth);
                }
            }
            Member::Field(f) => expr(&f.value, out, depth),
            Member::Task(t) => {
                match &t.kind {
                    TaskKind::Run { command, .. } => expr(command, out, depth),
                    TaskKind::Fetch { source, .. } => expr(source, out, depth),
                }
                if let Some(first) = t.options.first() {
                    out.push((Span::new(first.span.start, t.span.end), None));
                }
            }
            Member::Artifact(_) | Member::Error(_) => {}
        }
    }
}

fn list(span: Span, items: &[Expr], out: &mut Vec<(Span, Option<FoldingRangeKind>)>, depth: usize) {
    out.push((span, None));
    if depth < 64 {
        items.iter().for_each(|i| expr(i, out, depth + 1));
    }
}

fn expr(e: &Expr, out: &mut Vec<(Span, Option<FoldingRangeKind>)>, depth: usize) {
    match &e.kind {
        ExprKind::Str(s) if s.multiline => out.push((e.span, Some(FoldingRangeKind::Region))),
        ExprKind::List(items) => list(e.span, items, out, depth),
        ExprKind::Call(call) => list(e.span, &call.args, out, depth),
        _ => {}
    }
}

/// Runs of two or more comment lines.
fn comment_runs(snap: &Snapshot, file: FileId) -> Vec<FoldingRange> {
    let source = snap.source(file);
    let mut out = Vec::new();
    let mut run: Option<(usize, usize)> = None;
    for c in &snap.parsed(file).comments {
        let line = source.line_index(c.start);
        let own_line = source.line_text(line).trim_start().starts_with('#');
        run = match run {
            Some((start, end)) if own_line && line == end + 1 => Some((start, line)),
            other => {
                if let Some((start, end)) = other.filter(|(s, e)| e > s) {
                    out.push(comment_range(start, end));
                }
                own_line.then_some((line, line))
            }
        };
    }
    if let Some((start, end)) = run.filter(|(s, e)| e > s) {
        out.push(comment_range(start, end));
    }
    out
}

fn comment_range(start: usize, end: usize) -> FoldingRange {
    FoldingRange {
        start_line: start as u32,
        end_line: end as u32,
        kind: Some(FoldingRangeKind::Comment),
        ..FoldingRange::default()
    }
}
