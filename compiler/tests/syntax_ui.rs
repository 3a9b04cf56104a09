//! UI tests of the lexer and parser: every `tests/ui/syntax/*.pw` file is parsed and its
//! diagnostics, rendered as a user reads them, are kept as a snapshot. A second test keeps the
//! outline of the tree of a full file.

use pw_compiler::ast::*;
use pw_compiler::source::SourceFile;
use pw_compiler::{parse_file, Diagnostic, FileId, Span, Workspace};
use std::fmt::Write;
use std::path::Path;

#[test]
fn syntax_ui() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/syntax");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/ui/syntax exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "pw"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "expected the UI cases in {}", dir.display());
    for path in cases {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let text = std::fs::read_to_string(&path).expect("readable case");
        let parsed = parse_file(FileId(0), &text);
        let source = SourceFile::new(format!("{name}.pw"), text);
        let mut diagnostics = parsed.diagnostics;
        pw_compiler::diagnostic::sort(&mut diagnostics);
        if name.starts_with("valid") {
            assert!(diagnostics.is_empty(), "{name} should have no diagnostics");
        } else if let Some(code) = name.strip_prefix('e').and_then(|rest| rest.get(..4)) {
            let code = format!("E{code}");
            assert!(diagnostics.iter().any(|d| d.code == code), "{name} should report {code}");
        } else {
            assert!(!diagnostics.is_empty(), "{name} should report errors");
        }
        insta::assert_snapshot!(name, render(&source, &diagnostics));
    }
}

#[test]
fn tree_of_a_full_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/syntax/valid_issue_example.pw");
    let text = std::fs::read_to_string(path).expect("readable example");
    let parsed = parse_file(FileId(0), &text);
    assert!(parsed.diagnostics.is_empty());
    let source = SourceFile::new("valid_issue_example.pw", text);
    let mut out = String::new();
    for member in &parsed.ast.members {
        outline_member(&source, member, 0, &mut out);
    }
    insta::assert_snapshot!("tree_of_a_full_file", out);
}

// ----- rendering diagnostics -----

/// The diagnostics as `pw check` draws them (without colour).
fn render(source: &SourceFile, diagnostics: &[Diagnostic]) -> String {
    if diagnostics.is_empty() {
        return "no diagnostics\n".to_string();
    }
    let mut workspace = Workspace::new();
    workspace.add(source.path.clone(), source.text.clone());
    pw_compiler::render::human::render_all(diagnostics, &workspace, false)
}

// ----- the outline of a tree -----

fn outline_member(source: &SourceFile, member: &Member, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let span = member.span();
    let head = match member {
        Member::Field(f) => format!("field {} = {}", f.name.name, value(source, &f.value)),
        Member::Task(t) => task(source, t),
        Member::Artifact(a) => format!("artifact {} = {}", a.name.name, value(source, &a.path)),
        Member::Error(_) => "<error>".to_string(),
        Member::Block(b) => block_head(source, b),
    };
    let _ = writeln!(out, "{indent}{head}  {}", at(source, span));
    if let Member::Block(b) = member {
        for child in b.body.members() {
            outline_member(source, child, depth + 1, out);
        }
    }
}

fn block_head(source: &SourceFile, b: &Block) -> String {
    let mut head = b.kind.keyword().to_string();
    if let Some((kind, _)) = b.template_of {
        head = format!("{head} {}", kind.keyword());
    }
    if let Some(name) = &b.name {
        head = format!("{head} {}", name.name);
    }
    if b.kind == BlockKind::Template {
        let params: Vec<String> = b
            .params
            .iter()
            .map(|p| match &p.default {
                Some(d) => format!("{}: {} = {}", p.name.name, p.ty.name, value(source, d)),
                None => format!("{}: {}", p.name.name, p.ty.name),
            })
            .collect();
        head = format!("{head}({})", params.join(", "));
    }
    if let Some(fan) = &b.fan_out {
        head = format!("{head} for {} in {}", fan.var.name, value(source, &fan.source));
    }
    match &b.body {
        Body::Instance(call) => {
            let args: Vec<String> =
                call.args.iter().map(|a| format!("{} = {}", a.name.name, value(source, &a.value))).collect();
            format!("{head} = {}({})", call.template.name, args.join(", "))
        }
        Body::Members { span, .. } => format!("{head} {{ {} }}", at(source, *span)),
        Body::Missing => format!("{head} <missing body>"),
    }
}

fn task(source: &SourceFile, t: &Task) -> String {
    let mut s = match &t.kind {
        TaskKind::Run { command, dir: None } => format!("run {}", value(source, command)),
        TaskKind::Run { command, dir: Some(dir) } => {
            format!("run {} in {}", value(source, command), value(source, dir))
        }
        TaskKind::Fetch { source: from, into: None } => format!("fetch {}", value(source, from)),
        TaskKind::Fetch { source: from, into: Some(into) } => {
            format!("fetch {} into {}", value(source, from), value(source, into))
        }
    };
    if !t.options.is_empty() {
        let options: Vec<String> =
            t.options.iter().map(|f| format!("{} = {}", f.name.name, value(source, &f.value))).collect();
        s = format!("{s} {{ {} }}", options.join(", "));
    }
    s
}

fn value(source: &SourceFile, e: &Expr) -> String {
    match &e.kind {
        ExprKind::Str(s) => {
            let mut out = String::new();
            for part in &s.parts {
                match part {
                    StrPart::Text(t) => out.push_str(&t.escape_debug().to_string()),
                    StrPart::Interp(id) => {
                        let _ = write!(out, "#{{{} {}}}", id.name, at(source, id.span));
                    }
                }
            }
            if s.multiline {
                format!("\"\"\"{out}\"\"\"")
            } else {
                format!("\"{out}\"")
            }
        }
        ExprKind::Int(i) => i.to_string(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Duration(d) => format!("{d}s"),
        ExprKind::List(items) => {
            format!("[{}]", items.iter().map(|i| value(source, i)).collect::<Vec<_>>().join(", "))
        }
        ExprKind::Path(path) => path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join("."),
        ExprKind::Call(call) => {
            format!("{}({})", call.name.name, call.args.iter().map(|a| value(source, a)).collect::<Vec<_>>().join(", "))
        }
        ExprKind::Range(a, b) => format!("{a}..{b}"),
        ExprKind::Never => "<never>".to_string(),
        ExprKind::Error => "<error>".to_string(),
    }
}

/// `@line:col-line:col` of a span (the end exclusive).
fn at(source: &SourceFile, span: Span) -> String {
    let (a, b) = (source.line_col(span.start), source.line_col(span.end));
    format!("@{}:{}-{}:{}", a.line, a.column, b.line, b.column)
}
