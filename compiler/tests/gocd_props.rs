//! Properties of the GoCD front end on any input: reading never panics, always ends, keeps every
//! span inside the file on character boundaries, and an import never panics either.

use proptest::prelude::*;
use pw_compiler::{analyze, gocd, Workspace};

/// Pieces of GoCD YAML, valid and not, that random files are made of.
const PIECES: &[&str] = &[
    "pipelines:",
    "stages:",
    "jobs:",
    "tasks:",
    "materials:",
    "environments:",
    "common:",
    "format_version: 10",
    "p:",
    "s:",
    "j:",
    "exec:",
    "script: make",
    "fetch:",
    "command: make",
    "arguments: [a, b]",
    "git: u",
    "pipeline: p",
    "stage: s",
    "job: j",
    "source: x",
    "approval: manual",
    "timeout: 5",
    "run_instances: 3",
    "environment_variables:",
    "TOKEN: abc",
    "- ",
    "  ",
    "    ",
    "\n",
    "\t",
    ": ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "<<: *a",
    "\"x #{p}\"",
    "'y'",
    "|",
    ">",
    "#c",
    "---",
    "...",
    "? ",
    "!t ",
    "é",
    "~",
    "#{",
    "a.b",
    "2x",
];

fn file() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..80).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn reading_never_panics_and_spans_stay_in_the_file(text in file()) {
        let mut ws = Workspace::new();
        ws.add("a.gocd.yaml", text.clone());
        let analysis = analyze(&ws);
        for d in &analysis.diagnostics {
            prop_assert!(d.span.end <= text.len() && d.span.start <= d.span.end, "{d:?}");
            prop_assert!(text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end), "{d:?}");
        }
        let imported = gocd::import(&ws);
        prop_assert!(imported.pipelines_imported + imported.failed < 1000);
    }
}

#[test]
fn huge_and_deep_files_end_with_an_error_or_a_result() {
    let deep_block: String = (0..1_000).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
    let deep_flow = format!("pipelines: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    for text in [deep_block, deep_flow] {
        let mut ws = Workspace::new();
        ws.add("a.gocd.yaml", text);
        let analysis = analyze(&ws);
        assert!(analysis.diagnostics.iter().any(|d| d.code == "G0001"), "{:?}", analysis.diagnostics.first());
    }
    // 50 MB: a thousand pipelines, each with a long script.
    let script: String = "                echo 'a line of a long generated script'\n".repeat(1_200);
    let mut big = String::from("pipelines:\n");
    let mut n = 0;
    while big.len() < 50 * 1024 * 1024 {
        big.push_str(&format!(
            "  p{n}:\n    materials:\n      app:\n        git: https://git.example.com/{n}.git\n    stages:\n      - s:\n          tasks:\n            - script: |\n{script}"
        ));
        n += 1;
    }
    let mut ws = Workspace::new();
    ws.add("big.gocd.yaml", big);
    let analysis = analyze(&ws);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics.first());
    assert_eq!(analysis.program.pipelines.len(), n);
}
