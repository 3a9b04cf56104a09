//! Every checker code's explanation (`pw explain CODE`, from `codes.rs`) shows what it says.
//!
//! The convention of an explanation: what is wrong, then ```pw blocks that are each a whole
//! workspace of one file. The first is the erroneous example: checked, it reports the code and
//! nothing else (and when it parses, it is in `pw fmt` layout). Every later one is a corrected
//! version: it checks clean and is in `pw fmt` layout. Codes whose example would not fit a small
//! file, and codes no program can cause, are listed below, and their explanations say so.

use pw_compiler::codes::CODES;
use pw_compiler::{analyze, format, Workspace};

/// Codes an example of which is too large to show; their explanation says so.
const TOO_LARGE_TO_SHOW: &[&str] = &["E0106"];

/// Codes no program can cause (the checker keeps them as guards); their explanation says so, and
/// what is reported instead.
const CANNOT_OCCUR: &[&str] = &["E0505"];

/// The ```pw blocks of a text.
fn blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match current.as_mut() {
            None if line.trim_end() == "```pw" => current = Some(String::new()),
            None => {}
            Some(_) if line.starts_with("```") => out.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    out
}

/// The codes of the diagnostics of a one-file workspace.
fn codes(text: &str) -> Vec<&'static str> {
    let mut ws = Workspace::new();
    ws.add("example.pw", text);
    analyze(&ws).diagnostics.iter().map(|d| d.code).collect()
}

fn is_formatted(text: &str) -> bool {
    format::format(text).is_ok_and(|formatted| formatted == text)
}

#[test]
fn every_code_has_an_erroneous_and_a_corrected_example() {
    let mut problems = Vec::new();
    for doc in CODES {
        let code = doc.code;
        let examples = blocks(doc.text);
        if CANNOT_OCCUR.contains(&code) || TOO_LARGE_TO_SHOW.contains(&code) {
            continue;
        }
        let Some((wrong, corrected)) = examples.split_first() else {
            problems.push(format!("{code}: no example"));
            continue;
        };
        let found = codes(wrong);
        if found.is_empty() || found.iter().any(|c| *c != code) {
            problems.push(format!("{code}: its example reports {found:?}:\n{wrong}"));
        }
        if format::format(wrong).is_ok_and(|formatted| formatted != *wrong) {
            problems.push(format!("{code}: its example parses but is not in `pw fmt` layout:\n{wrong}"));
        }
        if corrected.is_empty() {
            problems.push(format!("{code}: no corrected example"));
        }
        for text in corrected {
            let found = codes(text);
            if !found.is_empty() {
                problems.push(format!("{code}: its corrected example reports {found:?}:\n{text}"));
            }
            if !is_formatted(text) {
                problems.push(format!("{code}: its corrected example is not in `pw fmt` layout:\n{text}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn codes_without_an_example_say_why() {
    for code in TOO_LARGE_TO_SHOW.iter().chain(CANNOT_OCCUR) {
        assert!(CODES.iter().any(|c| c.code == *code), "{code} is listed here but has no explanation");
    }
    for doc in CODES.iter().filter(|c| TOO_LARGE_TO_SHOW.contains(&c.code)) {
        assert!(doc.text.contains("too large to show"), "{}: does not say why it has no example", doc.code);
    }
    // The example E0106's explanation describes: a value inside 65 levels of brackets.
    let deep = format!(
        "pipeline build {{\n  stage test {{\n    job unit {{\n      resources = {}\"linux\"{}\n      run \"make\"\n    }}\n  }}\n}}\n",
        "[".repeat(65),
        "]".repeat(65)
    );
    let found = codes(&deep);
    assert_eq!(found.iter().filter(|c| **c == "E0106").count(), 1, "{found:?}");
}

#[test]
fn codes_that_cannot_occur_say_so_and_are_not_reported() {
    for doc in CODES.iter().filter(|c| CANNOT_OCCUR.contains(&c.code)) {
        assert!(doc.text.contains("No program can cause this code"), "{}: does not say it cannot occur", doc.code);
        assert!(doc.title.contains("cannot occur"), "{}: its title does not say so", doc.code);
        for text in blocks(doc.text) {
            let found = codes(&text);
            assert!(!found.is_empty() && !found.contains(&doc.code), "{}: its example reports {found:?}", doc.code);
        }
    }
}

/// E0505 (recursive template) cannot occur: every way of making a template use itself is
/// reported as something else.
#[test]
fn a_template_cannot_use_itself() {
    let attempts: &[(&str, &str)] = &[
        ("template stage s() {\n  job j = s()\n}\n", "E0501"),
        ("template pipeline p() {\n  stage x = p()\n}\n", "E0501"),
        ("template job t() {\n  job inner = t()\n  run \"make\"\n}\n", "E0207"),
        ("template job t() {\n  template job t() {\n    run \"make\"\n  }\n  run \"make\"\n}\n", "E0207"),
        ("template stage s() {\n  stage inner = s()\n  job j {\n    run \"make\"\n  }\n}\n", "E0207"),
        (
            "template stage s() {\n  job j = p()\n}\n\ntemplate pipeline p() {\n  stage x = s()\n}\n\npipeline a = p()\n",
            "E0501",
        ),
    ];
    for (text, expected) in attempts {
        let found = codes(text);
        assert!(found.contains(expected) && !found.contains(&"E0505"), "{found:?} for\n{text}");
    }
}

/// The codes the lexer, the parser and the checker write in their source.
fn codes_in_source(path: &std::path::Path, out: &mut Vec<String>) {
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else { return };
        for entry in entries.filter_map(|e| e.ok()) {
            codes_in_source(&entry.path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for (at, _) in text.match_indices("\"E0") {
            let code = text.get(at + 1..at + 6).unwrap_or_default();
            if code.len() == 5 && code[1..].bytes().all(|b| b.is_ascii_digit()) && !out.iter().any(|c| c == code) {
                out.push(code.to_string());
            }
        }
    }
}

#[test]
fn every_code_the_compiler_writes_is_explained() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    codes_in_source(&src.join("lexer.rs"), &mut found);
    codes_in_source(&src.join("parser"), &mut found);
    codes_in_source(&src.join("check"), &mut found);
    assert!(found.len() >= 30, "expected the checker's codes in {}: {found:?}", src.display());
    let missing: Vec<&String> = found.iter().filter(|c| !CODES.iter().any(|d| d.code == c.as_str())).collect();
    assert!(missing.is_empty(), "codes without an explanation in codes.rs: {missing:?}");
}
