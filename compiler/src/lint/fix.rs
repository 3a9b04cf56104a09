//! Applying fixes: `pw lint --fix` applies the safe ones (and the unsafe ones with
//! `--unsafe-fixes`), re-lints, and repeats until nothing more applies. A fix whose result does
//! not pass the checker is refused, never written. A file that was in `pw fmt` layout before the
//! fixes is formatted after them, so that `pw fmt --check` still passes.

use crate::diagnostic::{Applicability, Diagnostic, Edit, Fix};
use crate::format;
use crate::source::{FileId, SourceFile, Workspace};
use crate::Analysis;
use std::collections::HashSet;

/// Rounds of fix-and-relint before giving up on reaching a fixed point.
const MAX_ROUNDS: usize = 50;

/// What applying the fixes did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The workspace with every accepted fix applied.
    pub workspace: Workspace,
    /// The fixes applied, in order.
    pub applied: Vec<(String, &'static str, String)>,
    /// Fixes whose result failed the checker: the finding and the first error.
    pub refused: Vec<(Diagnostic, String)>,
}

impl Outcome {
    /// The files whose text changed.
    pub fn changed<'a>(&'a self, before: &'a Workspace) -> impl Iterator<Item = FileId> + 'a {
        before.ids().filter(move |&id| before.file(id).text != self.workspace.file(id).text)
    }
}

/// Whether `fix` may be applied under the options.
pub fn allowed(fix: &Fix, unsafe_fixes: bool) -> bool {
    fix.applicability == Applicability::Safe || unsafe_fixes
}

/// Applies fixes until none is left; `lint` analyses and lints a workspace.
pub fn apply(
    workspace: &Workspace,
    unsafe_fixes: bool,
    lint: &dyn Fn(&Workspace) -> (Analysis, Vec<Diagnostic>),
) -> Outcome {
    let mut outcome = Outcome { workspace: workspace.clone(), ..Outcome::default() };
    let mut refused_keys: HashSet<String> = HashSet::new();
    for _ in 0..MAX_ROUNDS {
        let (analysis, findings) = lint(&outcome.workspace);
        // A workspace with errors fails the check after any fix: nothing can be verified.
        if analysis.has_errors() {
            break;
        }
        let candidates: Vec<&Diagnostic> = findings
            .iter()
            .filter(|d| d.fix.as_ref().is_some_and(|f| allowed(f, unsafe_fixes)))
            .filter(|d| !refused_keys.contains(&key(&outcome.workspace, d)))
            .collect();
        if candidates.is_empty() {
            break;
        }
        // All compatible fixes at once; when the batch fails the check, one at a time.
        let batch = compatible(&candidates);
        if let Some(next) = try_fixes(&outcome.workspace, &batch) {
            record(&mut outcome, &batch);
            outcome.workspace = next;
            continue;
        }
        let mut progressed = false;
        for d in &batch {
            match try_fixes(&outcome.workspace, &[d]) {
                Some(next) => {
                    record(&mut outcome, &[d]);
                    outcome.workspace = next;
                    progressed = true;
                    break;
                }
                None => {
                    refused_keys.insert(key(&outcome.workspace, d));
                    let error = first_error(&outcome.workspace, d);
                    outcome.refused.push(((*d).clone(), error));
                }
            }
        }
        if !progressed && batch.len() == candidates.len() {
            break;
        }
    }
    outcome.workspace = keep_layout(workspace, outcome.workspace);
    outcome
}

/// `after` with the files that were formatted in `before` and changed since formatted again: a
/// fix inserts text (`timeout = 12m`) without aligning it with its neighbours or spacing the
/// blocks it adds. Files that were not formatted keep the layout their author chose.
pub(crate) fn keep_layout(before: &Workspace, mut after: Workspace) -> Workspace {
    let mut reformatted = after.clone();
    let mut changed = false;
    for id in before.ids() {
        let (old, new) = (&before.file(id).text, &after.file(id).text);
        if old == new || !format::format(old).is_ok_and(|f| f == *old) {
            continue;
        }
        if let Ok(text) = format::format(new) {
            let path = after.file(id).path.clone();
            reformatted.files[id.0 as usize] = SourceFile::new(path, text);
            changed = true;
        }
    }
    // Formatting keeps the meaning of a file; a result that no longer checks would be a
    // formatter bug, and the fixes are kept as they are rather than written broken.
    if changed && !crate::analyze(&reformatted).has_errors() {
        after = reformatted;
    }
    after
}

fn key(ws: &Workspace, d: &Diagnostic) -> String {
    format!("{}|{}|{}|{:?}", d.code, ws.file(d.file).path, d.message, d.fix.as_ref().map(|f| &f.message))
}

fn record(outcome: &mut Outcome, fixed: &[&Diagnostic]) {
    for d in fixed {
        let message = d.fix.as_ref().map_or(String::new(), |f| f.message.clone());
        outcome.applied.push((outcome.workspace.file(d.file).path.clone(), d.code, message));
    }
}

/// The fixes whose edits overlap none of the fixes before them.
fn compatible<'a>(candidates: &[&'a Diagnostic]) -> Vec<&'a Diagnostic> {
    let mut taken: Vec<&Edit> = Vec::new();
    let mut out = Vec::new();
    for d in candidates {
        let Some(fix) = &d.fix else { continue };
        let clashes = fix.edits.iter().any(|e| {
            taken.iter().any(|t| t.file == e.file && t.span.start <= e.span.end && e.span.start <= t.span.end)
        });
        if !clashes {
            taken.extend(fix.edits.iter());
            out.push(*d);
        }
    }
    out
}

/// The workspace with the fixes applied, if it still passes the checker.
fn try_fixes(ws: &Workspace, fixes: &[&Diagnostic]) -> Option<Workspace> {
    let edits: Vec<&Edit> = fixes.iter().filter_map(|d| d.fix.as_ref()).flat_map(|f| f.edits.iter()).collect();
    let next = apply_edits(ws, &edits)?;
    (!crate::analyze(&next).has_errors()).then_some(next)
}

fn first_error(ws: &Workspace, d: &Diagnostic) -> String {
    let edits: Vec<&Edit> = d.fix.iter().flat_map(|f| f.edits.iter()).collect();
    let Some(next) = apply_edits(ws, &edits) else { return "its edits overlap".into() };
    let analysis = crate::analyze(&next);
    analysis
        .diagnostics
        .iter()
        .find(|e| e.is_error())
        .map_or("unknown".into(), |e| format!("error[{}]: {}", e.code, e.message))
}

/// Applies edits to a copy of the workspace; `None` when edits overlap or fall outside a file.
pub(crate) fn apply_edits(ws: &Workspace, edits: &[&Edit]) -> Option<Workspace> {
    let mut out = Workspace::new();
    for id in ws.ids() {
        let file = ws.file(id);
        let mut mine: Vec<&&Edit> = edits.iter().filter(|e| e.file == id).collect();
        mine.sort_by_key(|e| (e.span.start, e.span.end));
        for pair in mine.windows(2) {
            if pair[0].span.end > pair[1].span.start {
                return None;
            }
        }
        let mut text = file.text.clone();
        for e in mine.iter().rev() {
            if e.span.end > text.len() || !text.is_char_boundary(e.span.start) || !text.is_char_boundary(e.span.end) {
                return None;
            }
            text.replace_range(e.span.range(), &e.replacement);
        }
        out.add(file.path.clone(), text);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Span;

    #[test]
    fn applies_edits_back_to_front_and_refuses_overlaps() {
        let mut ws = Workspace::new();
        let f = ws.add("a.pw", "hello world");
        let a = Edit { file: f, span: Span::new(0, 5), replacement: "goodbye".into() };
        let b = Edit { file: f, span: Span::new(6, 11), replacement: "moon".into() };
        let out = apply_edits(&ws, &[&a, &b]).map(|w| w.file(f).text.clone());
        assert_eq!(out.as_deref(), Some("goodbye moon"));
        let c = Edit { file: f, span: Span::new(3, 8), replacement: String::new() };
        assert!(apply_edits(&ws, &[&a, &c]).is_none());
    }
}
