//! Pipewright's compiler. A workspace of `.pw` files goes through these stages, each a module
//! with one public entry:
//!
//! 1. [`lexer::lex`]: source text to tokens (comments kept apart);
//! 2. [`parser::parse`]: tokens to a syntax tree ([`ast`]) with recovery;
//! 3. [`check::check`]: syntax trees to a checked [`model::Program`] and its [`symbols`]
//!    ([`check::check_owned`] frees the trees on the way);
//! 4. [`plan::build`]: the program to the serialisable [`plan::Plan`] the runtime executes.
//!
//! [`runtime_api`] is all the runtime uses of the compiler.
//!
//! [`analyze`] runs stages 1 to 3 over a workspace ([`check_workspace`] without keeping the
//! trees); everything that reports problems reports them as [`diagnostic::Diagnostic`]s.

pub mod ast;
pub mod check;
pub mod codes;
pub mod diagnostic;
pub mod driver;
pub mod export;
pub mod fan_out;
pub mod format;
pub mod gocd;
pub mod graph;
pub mod lexer;
pub mod lint;
pub mod model;
pub mod parser;
pub mod plan;
pub mod render;
pub mod runtime_api;
pub mod schema;
pub mod source;
pub mod symbols;
pub mod words;

pub use diagnostic::{Diagnostic, Severity};
pub use source::{FileId, Span, Workspace};

use std::sync::Arc;

/// One file after lexing and parsing.
#[derive(Clone, Debug, Default)]
pub struct ParsedFile {
    pub ast: ast::File,
    /// Spans of the comments, `#` included.
    pub comments: Vec<Span>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Lexes and parses one file.
pub fn parse_file(file: FileId, text: &str) -> ParsedFile {
    let lexed = lexer::lex(file, text);
    let (ast, mut diagnostics) = parser::parse(file, text, &lexed.tokens);
    let mut all = lexed.diagnostics;
    all.append(&mut diagnostics);
    ParsedFile { ast, comments: lexed.comments.iter().map(|(_, s)| *s).collect(), diagnostics: all }
}

/// A workspace after parsing and checking.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// In the order of the workspace's files; shared, so that the language server's next
    /// analysis keeps the parses of the files an edit did not touch without copying them.
    pub files: Vec<Arc<ParsedFile>>,
    pub program: model::Program,
    /// Every file's, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// The pipelines as built, for the next [`analyze_again`]; kept by that function only.
    pub kept: Option<Arc<check::Kept>>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        has_errors(&self.diagnostics)
    }

    /// The plan, when the workspace has no error.
    pub fn plan(&self, workspace: &Workspace) -> Option<plan::Plan> {
        plan_of(workspace, &self.program, &self.diagnostics)
    }
}

fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

fn plan_of(workspace: &Workspace, program: &model::Program, diagnostics: &[Diagnostic]) -> Option<plan::Plan> {
    (!has_errors(diagnostics)).then(|| plan::build(workspace, program))
}

/// Parses every file of the workspace (on all cores) and checks them together.
pub fn analyze(workspace: &Workspace) -> Analysis {
    analyze_parsed(workspace, parse_all(workspace).into_iter().map(Arc::new).collect())
}

/// Checks a workspace whose files are already parsed: `files[i]` is [`parse_file`] of the
/// workspace's file `i` (a caller that keeps the parses of unchanged files re-parses only the
/// edited ones).
pub fn analyze_parsed(workspace: &Workspace, files: Vec<Arc<ParsedFile>>) -> Analysis {
    let trees: Vec<&ast::File> = files.iter().map(|f| &f.ast).collect();
    let (program, diagnostics) = check::check(workspace, &trees);
    let from_parser = files.iter().flat_map(|f| f.diagnostics.iter().cloned()).collect();
    let diagnostics = all_diagnostics(workspace, from_parser, diagnostics);
    Analysis { files, program, diagnostics, kept: None }
}

/// [`analyze_parsed`] after an edit, for the language server: the pipelines that `previous`
/// kept are taken where the files that changed since cannot have changed them, and the
/// others are built again. Gives what [`analyze_parsed`] gives, and keeps the pipelines as
/// built for the next call.
pub fn analyze_again(workspace: &Workspace, files: Vec<Arc<ParsedFile>>, previous: Option<&check::Kept>) -> Analysis {
    let (program, diagnostics, kept) = check::check_keeping(workspace, &files, previous);
    let from_parser = files.iter().flat_map(|f| f.diagnostics.iter().cloned()).collect();
    let diagnostics = all_diagnostics(workspace, from_parser, diagnostics);
    Analysis { files, program, diagnostics, kept: Some(Arc::new(kept)) }
}

/// A workspace after checking, without its syntax trees: what `pw check` and `pw plan` need.
#[derive(Debug, Default)]
pub struct Checked {
    pub program: model::Program,
    /// Every file's, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        has_errors(&self.diagnostics)
    }

    /// The plan, when the workspace has no error.
    pub fn plan(&self, workspace: &Workspace) -> Option<plan::Plan> {
        plan_of(workspace, &self.program, &self.diagnostics)
    }
}

/// [`analyze`] for callers that need no syntax tree afterwards: the trees are freed while the
/// program is built ([`check::check_owned`]), which keeps the memory of a large workspace low.
pub fn check_workspace(workspace: &Workspace) -> Checked {
    let mut from_parser = Vec::new();
    let trees: Vec<ast::File> = parse_all(workspace)
        .into_iter()
        .map(|f| {
            from_parser.extend(f.diagnostics);
            f.ast
        })
        .collect();
    let (program, diagnostics) = check::check_owned(workspace, trees);
    Checked { program, diagnostics: all_diagnostics(workspace, from_parser, diagnostics) }
}

/// The parser's and the checker's diagnostics together, in order.
fn all_diagnostics(workspace: &Workspace, mut all: Vec<Diagnostic>, mut checker: Vec<Diagnostic>) -> Vec<Diagnostic> {
    all.append(&mut checker);
    gocd::in_gocd_terms(workspace, &mut all);
    diagnostic::sort(&mut all);
    all
}

/// Lexes and parses every file of the workspace, on all cores.
pub fn parse_all(workspace: &Workspace) -> Vec<ParsedFile> {
    let ids: Vec<FileId> = workspace.ids().collect();
    parse_files(workspace, &ids)
}

/// Lexes and parses the files `ids` of the workspace, in that order; on all cores when there
/// are several. GoCD files are read by their own front end ([`gocd`]).
pub fn parse_files(workspace: &Workspace, ids: &[FileId]) -> Vec<ParsedFile> {
    let is_gocd = |id: &FileId| gocd::is_gocd_path(&workspace.file(*id).path);
    let gocd_ids: Vec<FileId> = ids.iter().copied().filter(is_gocd).collect();
    if gocd_ids.is_empty() {
        return par_map(ids, |id| parse_file(id, &workspace.file(id).text));
    }
    let mut gocd_files = gocd::parse_files(workspace, &gocd_ids).into_iter();
    let pw_ids: Vec<FileId> = ids.iter().copied().filter(|id| !is_gocd(id)).collect();
    let mut pw_files = par_map(&pw_ids, |id| parse_file(id, &workspace.file(id).text)).into_iter();
    ids.iter().map(|id| if is_gocd(id) { gocd_files.next() } else { pw_files.next() }.unwrap_or_default()).collect()
}

/// How many threads can run at once here (1 when that cannot be known).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` over `items`, in order; on all cores when there are several.
pub(crate) fn par_map<I: Copy + Sync, T: Send>(items: &[I], f: impl Fn(I) -> T + Sync) -> Vec<T> {
    let threads = cores().min(items.len().max(1));
    if threads <= 1 || items.len() < 8 {
        return items.iter().map(|&item| f(item)).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|&item| f(item)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}
