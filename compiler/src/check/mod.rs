//! Resolution and type checking: the syntax trees of a workspace to a checked
//! [`Program`](crate::model::Program). Three passes, one module each:
//!
//! 1. [`declare`]: every definition becomes a symbol; top-level names are collected;
//! 2. [`build`]: materials and pipelines are evaluated into the model, fields typed, templates
//!    instantiated and `for` fan-outs expanded (the pipelines of a large workspace on two
//!    threads, with the result of one);
//! 3. [`resolve`]: references are resolved and the pipeline graph is checked.
//!
//! The language server's checks ([`check_keeping`]) keep each pipeline as built, and take those
//! an edit cannot have changed from the check before ([`keep`]).

mod build;
mod declare;
mod fields;
mod keep;
mod resolve;
mod values;

pub use build::MAX_FAN_OUT;
pub use declare::MAX_NAME_LEN;
pub use keep::Kept;

use crate::ast::{self, Block};
use crate::diagnostic::Diagnostic;
use crate::model::{Material, ParamInfo, Pipeline, Program, TemplateInfo};
use crate::source::{FileId, Workspace};
use crate::symbols::Symbols;
use crate::ParsedFile;
use build::Built;
use declare::{Declared, PipelineDecl, PipelineTree};
use rustc_hash::FxHashSet;
use std::borrow::Borrow;
use std::sync::Arc;

/// Checks the parsed files of a workspace together; `files[i]` is the tree of file `i`.
/// Always returns a program, partial where there are errors, for the editor's sake.
pub fn check(workspace: &Workspace, files: &[&ast::File]) -> (Program, Vec<Diagnostic>) {
    let pipelines = pipeline_trees(files);
    let parallel = in_parallel(pipelines.len());
    check_trees(workspace, files, pipelines, parallel)
}

/// The top-level pipelines of `files`, borrowed, in order.
fn pipeline_trees<'f>(files: &[&'f ast::File]) -> Vec<PipelineTree<&'f Block>> {
    let mut pipelines = Vec::new();
    for (i, file) in files.iter().enumerate() {
        for (position, member) in file.members.iter().enumerate() {
            match member {
                ast::Member::Block(block) if block.kind == ast::BlockKind::Pipeline => {
                    pipelines.push((FileId(i as u32), position, &**block));
                }
                _ => {}
            }
        }
    }
    pipelines
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
    let parallel = in_parallel(pipelines.len());
    check_trees(workspace, &trees, pipelines, parallel)
}

/// The checker over `files`, whose top-level pipelines come apart in `pipelines` (borrowed or
/// owned; an owned one is dropped once built).
fn check_trees<B: Borrow<Block> + Send>(
    workspace: &Workspace,
    files: &[&ast::File],
    pipelines: Vec<PipelineTree<B>>,
    parallel: bool,
) -> (Program, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut symbols = Symbols::default();
    let views: Vec<PipelineTree<&Block>> = pipelines.iter().map(|(f, p, b)| (*f, *p, b.borrow())).collect();
    let declared = declare::declare(files, &views, &mut symbols, &mut diagnostics);
    drop(views);
    let (builder, materials) = start_build(&declared);
    let (builder, built) = build_pipelines(builder, &declared, pipelines, parallel);
    let pipelines = built.into_iter().map(Arc::new).collect();
    let program = Program { materials, pipelines, templates: Vec::new(), symbols };
    finish(workspace, &declared, builder, &[], program, diagnostics)
}

/// [`check`] for the language server: each pipeline as built is kept, and the pipelines that
/// `previous` kept are taken where the files changed since cannot have changed them
/// ([`keep`]).
pub fn check_keeping(
    workspace: &Workspace,
    files: &[Arc<ParsedFile>],
    previous: Option<&Kept>,
) -> (Program, Vec<Diagnostic>, Kept) {
    let trees: Vec<&ast::File> = files.iter().map(|f| &f.ast).collect();
    let pipelines = pipeline_trees(&trees);
    let mut diagnostics = Vec::new();
    let mut symbols = Symbols::default();
    let declared = declare::declare(&trees, &pipelines, &mut symbols, &mut diagnostics);
    let (mut builder, materials) = start_build(&declared);
    let reuse = keep::Reuse::new(previous, files, &symbols, &declared);
    let taken: Vec<Option<Arc<Built>>> =
        declared.pipelines.iter().map(|d| reuse.take(d.file, pipelines[d.at].1)).collect();
    let missing: Vec<&PipelineDecl> =
        declared.pipelines.iter().zip(&taken).filter(|(_, t)| t.is_none()).map(|(d, _)| d).collect();
    let mut fresh = build_apart(&declared, &pipelines, &missing).into_iter();
    let mut kept = Vec::with_capacity(taken.len());
    let mut built = Vec::with_capacity(taken.len());
    for (decl, taken) in declared.pipelines.iter().zip(taken) {
        let Some(one) = taken.or_else(|| fresh.next()) else { continue };
        built.extend(builder.take_in(&one));
        kept.push(((decl.file, pipelines[decl.at].1), one));
    }
    let program = Program { materials, pipelines: built, templates: Vec::new(), symbols };
    let (program, diagnostics) = finish(workspace, &declared, builder, &kept, program, diagnostics);
    let rebuilt = missing.len();
    (program, diagnostics, reuse.keep(files, kept, rebuilt))
}

/// Builds each of `decls` apart, on two threads when there are many.
fn build_apart(declared: &Declared, pipelines: &[PipelineTree<&Block>], decls: &[&PipelineDecl]) -> Vec<Arc<Built>> {
    let build = |decls: &[&PipelineDecl]| {
        decls
            .iter()
            .map(|d| Arc::new(build::Builder::pipeline_apart(declared, d, pipelines[d.at].2)))
            .collect::<Vec<_>>()
    };
    if !in_parallel(decls.len()) {
        return build(decls);
    }
    let (first, second) = decls.split_at(decls.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| build(second));
        let mut built = build(first);
        built.extend(other.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        built
    })
}

/// A builder that has built the declared materials and checked the templates, and the materials.
fn start_build<'a, 's>(declared: &'s Declared<'a>) -> (build::Builder<'a, 's>, Vec<Material>) {
    let mut builder = build::Builder::new(declared);
    let materials: Vec<_> = declared.materials.iter().filter_map(|d| builder.material(d)).collect();
    for t in &declared.templates {
        builder.template(t);
    }
    (builder, materials)
}

/// Dotted references as written, by file and the start of the expression.
type Paths<'p> = rustc_hash::FxHashMap<(FileId, usize), &'p [ast::Ident]>;

/// The last pass over a program whose pipelines are built: references resolved, templates
/// described, duplicates dropped. The paths of the pipelines `taken` in are read where they are.
fn finish(
    workspace: &Workspace,
    declared: &Declared,
    builder: build::Builder,
    taken: &[(keep::Key, Arc<Built>)],
    mut program: Program,
    mut diagnostics: Vec<Diagnostic>,
) -> (Program, Vec<Diagnostic>) {
    let build::Builder { diagnostics: mut from_build, refers, uses, paths, template_uses, .. } = builder;
    let kept_paths = taken.iter().flat_map(|(_, built)| built.paths.iter().map(|(at, path)| (at, path)));
    let paths: Paths = paths.iter().chain(kept_paths).map(|(at, path)| (*at, path.as_slice())).collect();
    diagnostics.append(&mut from_build);
    for u in refers.iter().chain(&uses) {
        program.symbols.refer(u.file, u.span, u.symbol);
    }
    let mut resolver =
        resolve::Resolver { declared, paths: &paths, diagnostics: Vec::new(), index: Default::default() };
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

/// Whether `n` pipelines are worth building on two threads.
fn in_parallel(n: usize) -> bool {
    n >= 64 && crate::cores() > 1
}

/// Builds the declared pipelines; on two threads, each with half of them, when `parallel`. Either
/// way the builder ends as if it had built them all in order, and a tree is freed once built.
fn build_pipelines<'a, 's, B: Borrow<Block> + Send>(
    builder: build::Builder<'a, 's>,
    declared: &'s Declared<'a>,
    mut pipelines: Vec<PipelineTree<B>>,
    parallel: bool,
) -> (build::Builder<'a, 's>, Vec<Pipeline>) {
    if !parallel {
        return build_in_order(builder, declared, pipelines, 0);
    }
    let mid = pipelines.len() / 2;
    let second = pipelines.split_off(mid);
    std::thread::scope(|scope| {
        let other = scope.spawn(move || build_in_order(build::Builder::new(declared), declared, second, mid));
        let (mut builder, mut built) = build_in_order(builder, declared, pipelines, 0);
        let (rest, more) = other.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        builder.absorb(rest);
        built.extend(more);
        (builder, built)
    })
}

/// Builds the declared pipelines among `pipelines`, whose first is the `first`th of all.
fn build_in_order<'a, 's, B: Borrow<Block>>(
    mut builder: build::Builder<'a, 's>,
    declared: &'s Declared<'a>,
    pipelines: Vec<PipelineTree<B>>,
    first: usize,
) -> (build::Builder<'a, 's>, Vec<Pipeline>) {
    let start = declared.pipelines.partition_point(|d| d.at < first);
    let mut decls = declared.pipelines[start..].iter().peekable();
    let mut built = Vec::with_capacity(pipelines.len());
    for (at, (_, _, tree)) in (first..).zip(pipelines) {
        let Some(decl) = decls.next_if(|d| d.at == at) else { continue };
        let mut one = builder.rebind(declared);
        built.extend(one.pipeline(decl, tree.borrow()));
        builder = one.rebind(declared);
    }
    (builder, built)
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
    use super::*;

    /// 81 pipelines over three files: templates and their parameters, fan-outs, pipelines that
    /// follow others across the halves, and errors in both halves.
    fn many_pipelines() -> Workspace {
        let mut ws = Workspace::new();
        ws.add(
            "shared.pw",
            "material app { git = \"https://x/app.git\" }\n\
             template job cargo(cmd: string, t: duration = 10m) { timeout = t run \"cargo #{cmd}\" }\n",
        );
        for part in 0..2 {
            let mut text = String::new();
            for i in 0..40 {
                let n = part * 40 + i;
                let after = if n > 0 { format!("after = [p{}.test]", n - 1) } else { String::new() };
                let broken = if n % 13 == 0 { "materials = [nope]" } else { "materials = [app]" };
                text += &format!(
                    "pipeline p{n} {{ {broken} {after}\n  stage build {{ job b = cargo(cmd = \"build\", t = {n}m) \
                     job s for x in 1..3 {{ run \"echo #{{x}}\" artifact out = \"o\" }} }}\n\
                     stage test {{ job t {{ fetch build.b.out run \"make\" }} }}\n}}\n"
                );
            }
            ws.add(format!("part{part}.pw"), text);
        }
        ws.add("dup.pw", "pipeline p3 { stage s { job j { run \"x\" } } }\n");
        ws
    }

    #[test]
    fn building_on_two_threads_gives_what_one_thread_gives() {
        let ws = many_pipelines();
        let parsed: Vec<_> = ws.ids().map(|id| crate::parse_file(id, &ws.file(id).text)).collect();
        let trees: Vec<&ast::File> = parsed.iter().map(|p| &p.ast).collect();
        let run = |parallel| {
            let pipelines = pipeline_trees(&trees);
            assert!(pipelines.len() > 80);
            check_trees(&ws, &trees, pipelines, parallel)
        };
        let (one, one_diagnostics) = run(false);
        let (two, two_diagnostics) = run(true);
        assert!(one_diagnostics.iter().any(|d| d.code == "E0301"), "{one_diagnostics:#?}");
        assert!(one_diagnostics.iter().any(|d| d.code == "E0303"), "{one_diagnostics:#?}");
        assert!(!one.symbols.references.is_empty());
        assert_eq!(one_diagnostics, two_diagnostics);
        assert!(format!("{one:?}") == format!("{two:?}"), "the programs differ");
    }

    #[test]
    fn doc_comments_are_the_lines_right_above() {
        let text = "# not this\n\n# Builds with cargo.\n# Second line.\ntemplate job x() {}";
        let at = text.find("template").unwrap_or_default();
        assert_eq!(doc_comment(text, at), vec!["Builds with cargo.", "Second line."]);
    }
}
