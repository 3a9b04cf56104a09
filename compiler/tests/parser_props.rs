//! Properties of the parser on any input: it never panics, always ends, keeps every span inside
//! the file and on the text it names, and stops at a bounded depth however deep the nesting.

use proptest::prelude::*;
use pw_compiler::ast::*;
use pw_compiler::{parse_file, FileId, Span};

/// Pieces of `.pw` text, valid and not, that random files are made of.
const PIECES: &[&str] = &[
    "material",
    "template",
    "pipeline",
    "stage",
    "job",
    "env",
    "run",
    "fetch",
    "into",
    "artifact",
    "for",
    "in",
    "true",
    "false",
    "build",
    "a-b",
    "_x",
    "timeout",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "=",
    ",",
    ".",
    "..",
    ":",
    "1",
    "-42",
    "99999999999999999999",
    "20m",
    "1h30m",
    "20x",
    "1m1h",
    "\"text\"",
    "\"#{name}\"",
    "\"#{1x}\"",
    "\"a\\qb\"",
    "\"open",
    "\"\"\"\n  block\n  \"\"\"",
    "\"\"\"",
    "#{",
    "@",
    ";",
    "# comment\n",
    "\n",
    "é",
    "secret(\"k\")",
    "\\",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(PIECES), prop::sample::select(&[" ", "", "\n", "\t"][..])), 0..120)
        .prop_map(|parts| parts.into_iter().flat_map(|(piece, sep)| [piece, sep]).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn token_soups_parse_with_sound_spans(text in soup()) {
        check(&text);
    }

    #[test]
    fn random_bytes_parse_with_sound_spans(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn valid_files_parse_without_errors(names in prop::collection::vec("[a-z_][a-z0-9_-]{0,8}", 1..6)) {
        let names: Vec<&String> = names.iter().filter(|n| !KEYWORDS.contains(&n.as_str())).collect();
        let mut text = String::new();
        for (i, name) in names.iter().enumerate() {
            text.push_str(&format!(
                "pipeline {name} {{\n  stage s{i} {{\n    job {name} for x in [1, \"two\"] {{\n      \
                 timeout = {i}m\n      run \"make #{{x}}\" {{ when = failed }}\n    }}\n  }}\n}}\n"
            ));
        }
        let parsed = parse_file(FileId(0), &text);
        prop_assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        prop_assert_eq!(parsed.ast.members.len(), names.len());
        check(&text);
    }
}

const KEYWORDS: &[&str] = &[
    "material", "template", "pipeline", "stage", "job", "env", "run", "fetch", "into", "artifact", "for", "in", "true",
    "false",
];

#[test]
fn a_hundred_thousand_nested_braces_are_one_e0106() {
    for text in ["{".repeat(100_000), format!("pipeline p {}", "{".repeat(100_000))] {
        let parsed = parse_file(FileId(0), &text);
        assert_eq!(parsed.diagnostics.iter().filter(|d| d.code == "E0106").count(), 1);
        assert!(parsed.diagnostics.len() <= 3, "{:#?}", parsed.diagnostics);
        check(&text);
    }
}

#[test]
fn a_hundred_thousand_nested_brackets_are_one_e0106() {
    let closed = format!("x = {}1{}\ny = 2", "[".repeat(100_000), "]".repeat(100_000));
    let parsed = parse_file(FileId(0), &closed);
    let codes: Vec<_> = parsed.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0106"]);
    // The rest of the file is still read.
    let Some(Member::Field(y)) = parsed.ast.members.get(1) else { panic!("{:?}", parsed.ast.members) };
    assert_eq!(y.value.kind, ExprKind::Int(2));

    let open = format!("job j {{ run {}", "([".repeat(50_000));
    let parsed = parse_file(FileId(0), &open);
    assert_eq!(parsed.diagnostics.iter().filter(|d| d.code == "E0106").count(), 1);
    check(&open);
}

#[test]
fn the_example_of_the_language_has_sound_spans() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/syntax/valid_issue_example.pw");
    check(&std::fs::read_to_string(path).expect("readable example"));
}

/// Parses `text` and checks every span of the tree and the diagnostics.
fn check(text: &str) {
    let parsed = parse_file(FileId(0), text);
    assert_eq!(parsed.ast.span, Span::new(0, text.len()));
    for d in &parsed.diagnostics {
        assert!(inside(d.span, parsed.ast.span) && text.is_char_boundary(d.span.start), "{d:?}");
        for label in &d.labels {
            assert!(inside(label.span, parsed.ast.span), "{d:?}");
        }
    }
    let mut last_end = 0;
    for member in &parsed.ast.members {
        assert!(member.span().start >= last_end, "members overlap: {member:?}");
        last_end = member.span().end;
        check_member(text, member, parsed.ast.span);
    }
}

fn inside(inner: Span, outer: Span) -> bool {
    outer.start <= inner.start && inner.start <= inner.end && inner.end <= outer.end
}

fn check_ident(text: &str, id: &Ident, outer: Span) {
    assert!(inside(id.span, outer), "{id:?} outside {outer:?}");
    assert_eq!(&text[id.span.range()], id.name, "{id:?}");
}

fn check_member(text: &str, member: &Member, outer: Span) {
    let span = member.span();
    assert!(inside(span, outer), "{member:?} outside {outer:?}");
    match member {
        Member::Field(f) => {
            check_ident(text, &f.name, span);
            check_expr(text, &f.value, span);
        }
        Member::Artifact(a) => {
            check_ident(text, &a.name, span);
            check_expr(text, &a.path, span);
        }
        Member::Task(t) => {
            assert!(inside(t.kind_span, span));
            match &t.kind {
                TaskKind::Run { command, dir } => {
                    check_expr(text, command, span);
                    if let Some(dir) = dir {
                        check_expr(text, dir, span);
                    }
                }
                TaskKind::Fetch { source, into } => {
                    check_expr(text, source, span);
                    if let Some(into) = into {
                        check_expr(text, into, span);
                    }
                }
            }
            for f in &t.options {
                check_member(text, &Member::field(f.clone()), span);
            }
        }
        Member::Block(b) => {
            assert_eq!(&text[b.kind_span.range()], b.kind.keyword());
            if let Some((kind, s)) = b.template_of {
                assert_eq!(&text[s.range()], kind.keyword());
            }
            if let Some(name) = &b.name {
                check_ident(text, name, span);
            }
            for p in &b.params {
                assert!(inside(p.span, span));
                check_ident(text, &p.name, p.span);
                check_ident(text, &p.ty, p.span);
                if let Some(d) = &p.default {
                    check_expr(text, d, p.span);
                }
            }
            if let Some(fan) = &b.fan_out {
                assert!(inside(fan.span, span));
                check_ident(text, &fan.var, fan.span);
                check_expr(text, &fan.source, fan.span);
            }
            match &b.body {
                Body::Members { members, span: body } => {
                    assert!(inside(*body, span));
                    assert!(text[body.range()].starts_with('{'));
                    for m in members {
                        check_member(text, m, *body);
                    }
                }
                Body::Instance(call) => {
                    assert!(inside(call.span, span));
                    check_ident(text, &call.template, call.span);
                    for a in &call.args {
                        assert!(inside(a.span, call.span));
                        check_ident(text, &a.name, a.span);
                        check_expr(text, &a.value, a.span);
                    }
                }
                Body::Missing => {}
            }
        }
        Member::Error(_) => {}
    }
}

fn check_expr(text: &str, e: &Expr, outer: Span) {
    assert!(inside(e.span, outer), "{e:?} outside {outer:?}");
    match &e.kind {
        ExprKind::Str(s) => {
            assert!(text[e.span.range()].starts_with('"'));
            for part in &s.parts {
                if let StrPart::Interp(id) = part {
                    check_ident(text, id, e.span);
                }
            }
        }
        ExprKind::List(items) => {
            for item in items {
                check_expr(text, item, e.span);
            }
        }
        ExprKind::Call(call) => {
            for item in &call.args {
                check_expr(text, item, e.span);
            }
            check_ident(text, &call.name, e.span);
        }
        ExprKind::Path(path) => {
            for id in path {
                check_ident(text, id, e.span);
            }
        }
        ExprKind::Int(_)
        | ExprKind::Bool(_)
        | ExprKind::Duration(_)
        | ExprKind::Range(..)
        | ExprKind::Never
        | ExprKind::Error => {}
    }
}
