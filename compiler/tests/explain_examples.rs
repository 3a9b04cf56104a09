//! Every checker code's explanation (`pw explain CODE`, from `codes/<CODE>.md`) shows what it says.
//!
//! The convention of an explanation: what is wrong, then ```pw blocks that are each a whole
//! workspace of one file. The first is the erroneous example: checked, it reports the code and
//! nothing else (and when it parses, it is in `pw fmt` layout). Every later one is a corrected
//! version: it checks clean and is in `pw fmt` layout. Codes whose example would not fit a small
//! file, and codes no program can cause, are listed below, and their explanations say so.

use pw_compiler::codes::Code;
use pw_compiler::{analyze, format, Workspace};

/// Codes an example of which is too large to show; their explanation says so.
const TOO_LARGE_TO_SHOW: &[Code] = &[Code::E0106];

/// Codes no program can cause (the checker keeps them as guards); their explanation says so, and
/// what is reported instead.
const CANNOT_OCCUR: &[Code] = &[Code::E0505];

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
    for &code in Code::ALL {
        let examples = blocks(code.text());
        if CANNOT_OCCUR.contains(&code) || TOO_LARGE_TO_SHOW.contains(&code) {
            continue;
        }
        let Some((wrong, corrected)) = examples.split_first() else {
            problems.push(format!("{code}: no example"));
            continue;
        };
        let found = codes(wrong);
        if found.is_empty() || found.iter().any(|c| *c != code.as_str()) {
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
    for code in TOO_LARGE_TO_SHOW {
        assert!(code.text().contains("too large to show"), "{code}: does not say why it has no example");
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
    for code in CANNOT_OCCUR {
        assert!(code.text().contains("No program can cause this code"), "{code}: does not say it cannot occur");
        assert!(code.title().contains("cannot occur"), "{code}: its title does not say so");
        for text in blocks(code.text()) {
            let found = codes(&text);
            assert!(!found.is_empty() && !found.contains(&code.as_str()), "{code}: its example reports {found:?}");
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

/// `Code` gives every declared code its file `codes/<CODE>.md`; a file no code declares would be
/// an explanation nobody can print.
#[test]
fn every_explanation_file_is_a_declared_code() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/codes");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<String> =
        entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    let declared: Vec<String> = Code::ALL.iter().map(|c| format!("{}.md", c.as_str())).collect();
    assert_eq!(files, declared);
}

/// Codes are `E` and four digits, declared in order, each with a short lower-case title.
#[test]
fn codes_are_well_formed_and_in_order() {
    for pair in Code::ALL.windows(2) {
        assert!(pair[0].as_str() < pair[1].as_str(), "{:?} is declared before {:?}", pair[0], pair[1]);
    }
    for code in Code::ALL {
        let text = code.as_str();
        assert!(text.len() == 5 && text.starts_with('E') && text[1..].bytes().all(|b| b.is_ascii_digit()), "{text}");
        let title = code.title();
        assert!(title.starts_with(|c: char| c.is_ascii_lowercase()) && !title.ends_with('.'), "{text}: {title}");
        assert_eq!(Code::parse(&text.to_ascii_lowercase()), Some(*code));
    }
}

/// The language reference's table of codes (§ Diagnostic codes) lists every declared code, and
/// no other.
#[test]
fn the_reference_lists_every_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../grammar/REFERENCE.md");
    let reference = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let listed: Vec<&str> = reference
        .lines()
        .filter_map(|line| line.strip_prefix("| ")?.split(' ').next())
        .filter(|c| c.starts_with("E0"))
        .collect();
    let declared: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, declared);
}
