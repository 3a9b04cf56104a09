//! Inlay hints: how many jobs a stage runs in parallel, how many a `for` fan-out makes.

use crate::state::Snapshot;
use crate::syntax;
use pw_compiler::ast::BlockKind;
use pw_compiler::{FileId, Span};
use tower_lsp_server::ls_types::{InlayHint, InlayHintKind, InlayHintLabel};

pub fn hints(snap: &Snapshot, file: FileId, within: Span) -> Vec<InlayHint> {
    let program = &snap.analysis.program;
    let mut out = Vec::new();
    for (block, _) in syntax::blocks(&snap.parsed(file).ast) {
        let Some(name) = &block.name else { continue };
        if !within.contains(name.span.start) {
            continue;
        }
        let defined_here = |o: &pw_compiler::model::Origin| o.file == file && o.name == name.span;
        match block.kind {
            BlockKind::Stage => {
                let stage = program.pipelines.iter().flat_map(|p| &p.stages).find(|s| defined_here(&s.origin));
                if let Some(stage) = stage.filter(|s| s.jobs.len() > 1) {
                    out.push(hint(snap, file, name.span.end, format!("{} jobs in parallel", stage.jobs.len())));
                }
            }
            BlockKind::Job => {
                let Some(fan_out) = &block.fan_out else { continue };
                let jobs: Vec<_> = program
                    .pipelines
                    .iter()
                    .flat_map(|p| &p.stages)
                    .flat_map(|s| &s.jobs)
                    .filter(|j| defined_here(&j.origin))
                    .collect();
                let label = match jobs.as_slice() {
                    [] => continue,
                    [job] if job.discover.is_some() => "one job per line, at run time".to_string(),
                    [_] => "1 job".to_string(),
                    many => format!("{} jobs", many.len()),
                };
                out.push(hint(snap, file, fan_out.source.span.end, label));
            }
            _ => {}
        }
    }
    out
}

fn hint(snap: &Snapshot, file: FileId, at: usize, label: String) -> InlayHint {
    InlayHint {
        position: snap.encoding.position(snap.source(file), at),
        label: InlayHintLabel::String(format!("→ {label}")),
        kind: Some(InlayHintKind::TYPE),
        text_edits: None,
        tooltip: None,
        padding_left: Some(true),
        padding_right: Some(false),
        data: None,
    }
}
