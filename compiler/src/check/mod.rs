//! Resolution and type checking: the syntax trees of a workspace to a checked
//! [`Program`](crate::model::Program). Three passes, one module each:
//!
//! 1. [`declare`]: every definition becomes a symbol; top-level names are collected;
//! 2. [`build`]: materials and pipelines are evaluated into the model, fields typed, templates
//!    instantiated and `for` fan-outs expanded;
//! 3. [`resolve`]: references are resolved and the pipeline graph is checked.

mod build;
mod declare;
mod fields;
mod resolve;
mod values;

pub use build::MAX_FAN_OUT;
pub use declare::MAX_NAME_LEN;

use crate::ast::{self, Block};
use crate::diagnostic::Diagnostic;
use crate::model::{ParamInfo, Program, TemplateInfo};
use crate::source::{FileId, Workspace};
use crate::symbols::Symbols;
use declare::PipelineTree;
use rustc_hash::FxHashSet;
use std::borrow::Borrow;

/// Checks the parsed files of a workspace together; `files[i]` is the tree of file `i`.
/// Always returns a program, partial where there are errors, for the editor's sake.
pub fn check(workspace: &Workspace, files: &[&ast::File]) -> (Program, Vec<Diagnostic>) {
    let mut pipelines = Vec::new();
    for (i, file) in files.iter().enumerate() {
        for (position, member) in file.members.iter().enumerate() {
            if let ast::Member::Block(block) = member {
                if declare::is_pipeline(member) {
                    pipelines.push((FileId(i as u32), position, &**block));
                }
            }
        }
    }
    check_trees(workspace, files, pipelines)
}

/// [`check`], taking the trees: each pipeline's tree is freed as soon as its part of the
/// program is built, so that a large workspace never holds every tree and the whole program at
/// once. For callers that need the program and the diagnostics only (`pw check`, `pw plan`).
pub fn check_owned(workspace: &Workspace, mut files: Vec<ast::File>) -> (Program, Vec<Diagnostic>) {
    let mut pipelines = Vec::new();
    for (i, file) in files.iter_mut().enumerate() {
        for (position, member) in file.members.iter_mut().enumerate() {
            if declare::is_pipeline(member) {
                let placeholder = ast::Member::Error(declare::header_span(member));
                if let ast::Member::Block(block) = std::mem::replace(member, placeholder) {
                    pipelines.push((FileId(i as u32), position, block));
                }
            }
        }
    }
    let trees: Vec<&ast::File> = files.iter().collect();
    check_trees(workspace, &trees, pipelines)
}

/// The checker over `files`, whose top-level pipelines come apart in `pipelines` (borrowed or
/// owned; an owned one is dropped once built).
fn check_trees<B: Borrow<Block>>(
    workspace: &Workspace,
    files: &[&ast::File],
    pipelines: Vec<PipelineTree<B>>,
) -> (Program, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut symbols = Symbols::default();
    let views: Vec<PipelineTree<&Block>> = pipelines.iter().map(|(f, p, b)| (*f, *p, b.borrow())).collect();
    let declared = declare::declare(files, &views, &mut symbols, &mut diagnostics);
    drop(views);

    let mut builder = build::Builder::new(&declared, symbols);
    let materials: Vec<_> = declared.materials.iter().filter_map(|d| builder.material(d)).collect();
    for t in &declared.templates {
        builder.template(t);
    }
    let mut built = Vec::with_capacity(declared.pipelines.len());
    let mut decls = declared.pipelines.iter().peekable();
    for (at, (_, _, tree)) in pipelines.into_iter().enumerate() {
        let Some(decl) = decls.next_if(|d| d.at == at) else { continue };
        let mut one = builder.rebind(&declared);
        built.extend(one.pipeline(decl, tree.borrow()));
        builder = one.rebind(&declared);
    }
    let build::Builder { diagnostics: mut from_build, uses, paths, template_uses, mut symbols, .. } = builder;
    diagnostics.append(&mut from_build);
    for u in &uses {
        symbols.refer(u.file, u.span, u.symbol);
    }

    let mut program = Program { materials, pipelines: built, templates: Vec::new(), symbols };
    let mut resolver =
        resolve::Resolver { declared: &declared, paths: &paths, diagnostics: Vec::new(), index: Default::default() };
    resolver.resolve(&mut program);
    diagnostics.append(&mut resolver.diagnostics);

    program.templates = declared
        .templates
        .iter()
        .filter_map(|d| {
            let uses = template_uses.get(&d.name.name.to_ascii_lowercase()).copied().unwrap_or(0);
            template_info(workspace, d.block, d.file, &program.symbols, uses)
        })
        .collect();
    dedup_references(&mut program.symbols);
    (program, dedup(diagnostics))
}

fn template_info(
    workspace: &Workspace,
    block: &Block,
    file: crate::source::FileId,
    symbols: &Symbols,
    uses: usize,
) -> Option<TemplateInfo> {
    let name = block.name.as_ref()?;
    let kind = build::template_kind(block)?;
    let params = block
        .params
        .iter()
        .filter_map(|p| {
            let ty = build::param_type(&p.ty)?;
            let text = &workspace.file(file).text;
            let default = p.default.as_ref().map(|d| text.get(d.span.range()).unwrap_or_default().to_string());
            let symbol = symbols.ids().find(|&id| {
                let s = symbols.get(id);
                s.file == file && s.name_span == p.name.span
            });
            let param_uses = symbol.map_or(0, |id| {
                symbols
                    .references_to(id)
                    .filter(|r| r.file == file && block.span.contains(r.span.start))
                    .map(|r| (r.file, r.span))
                    .collect::<FxHashSet<_>>()
                    .len()
            });
            Some(ParamInfo { name: p.name.name.clone(), ty, default, span: p.span, uses: param_uses })
        })
        .collect();
    Some(TemplateInfo {
        name: name.name.clone(),
        kind,
        params,
        origin: build::origin(file, block.span, name.span),
        doc: doc_comment(&workspace.file(file).text, block.span.start),
        uses,
    })
}

/// The `#` lines right above `offset`, `#` and one space removed.
pub fn doc_comment(text: &str, offset: usize) -> Vec<String> {
    let before = text.get(..offset).unwrap_or_default();
    let mut lines: Vec<String> = before
        .lines()
        .rev()
        .skip_while(|l| l.trim().is_empty() && !before.ends_with('\n'))
        .take_while(|l| l.trim_start().starts_with('#'))
        .map(|l| {
            let body = l.trim_start().trim_start_matches('#');
            body.strip_prefix(' ').unwrap_or(body).to_string()
        })
        .collect();
    lines.reverse();
    lines
}

/// Template bodies are evaluated once per use: keep each diagnostic once.
fn dedup(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = FxHashSet::default();
    diagnostics.into_iter().filter(|d| seen.insert((d.code, d.file, d.span, d.message.clone()))).collect()
}

fn dedup_references(symbols: &mut Symbols) {
    let mut seen = FxHashSet::default();
    symbols.references.retain(|r| seen.insert((r.file, r.span, r.target)));
}

#[cfg(test)]
mod tests {
    use super::doc_comment;

    #[test]
    fn doc_comments_are_the_lines_right_above() {
        let text = "# not this\n\n# Builds with cargo.\n# Second line.\ntemplate job x() {}";
        let at = text.find("template").unwrap_or_default();
        assert_eq!(doc_comment(text, at), vec!["Builds with cargo.", "Second line."]);
    }
}
