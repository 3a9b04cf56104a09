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

/// Pieces of `cruise-config.xml`, valid and not, that random files are made of.
const XML_PIECES: &[&str] = &[
    "<cruise>",
    "</cruise>",
    "<pipelines group=\"g\">",
    "</pipelines>",
    "<pipeline name=\"p\">",
    "<pipeline name=\"q\" template=\"t\">",
    "</pipeline>",
    "<templates>",
    "</templates>",
    "<materials>",
    "</materials>",
    "<git url=\"u\"/>",
    "<pipeline pipelineName=\"p\" stageName=\"s\"/>",
    "<stage name=\"s\">",
    "</stage>",
    "<jobs>",
    "</jobs>",
    "<job name=\"j\" timeout=\"5\" runInstanceCount=\"3\">",
    "</job>",
    "<tasks>",
    "</tasks>",
    "<exec command=\"make\" args=\"a &quot;b c\">",
    "</exec>",
    "<arg>x</arg>",
    "<runif status=\"failed\"/>",
    "<oncancel>",
    "</oncancel>",
    "<fetchartifact stage=\"s\" job=\"j\" srcfile=\"a\"/>",
    "<artifacts><artifact type=\"test\" src=\"r\"/></artifacts>",
    "<environmentvariables><variable name=\"TOKEN\"><value>abc</value></variable></environmentvariables>",
    "<params><param name=\"x\">#{x}</param></params>",
    "<approval type=\"manual\"/>",
    "<environments><environment name=\"e\"><pipelines><pipeline name=\"p\"/></pipelines></environment></environments>",
    "<!-- c -->",
    "<![CDATA[x]]>",
    "&amp;",
    "&bad;",
    "<",
    ">",
    "\"",
    "é",
    "\n",
    "<!DOCTYPE x [<!ENTITY a \"b\">]>",
];

fn xml_file() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(XML_PIECES), 0..60).prop_map(|p| p.concat())
}

fn xml_workspace(text: &str) -> Workspace {
    let mut ws = Workspace::new();
    ws.add("cruise-config.xml", text.to_string());
    ws
}

/// Every span of every diagnostic is inside the text, on character boundaries.
fn spans_in_file(text: &str, ws: &Workspace) -> Result<(), String> {
    for d in &analyze(ws).diagnostics {
        let ok = d.span.start <= d.span.end
            && d.span.end <= text.len()
            && text.is_char_boundary(d.span.start)
            && text.is_char_boundary(d.span.end);
        if !ok {
            return Err(format!("{d:?}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn reading_xml_never_panics_and_spans_stay_in_the_file(text in xml_file()) {
        let ws = xml_workspace(&text);
        prop_assert!(spans_in_file(&text, &ws).is_ok(), "{:?}", spans_in_file(&text, &ws));
        let imported = gocd::import(&ws);
        prop_assert!(imported.pipelines_imported + imported.failed < 1000);
    }
}

#[test]
fn every_cut_of_a_real_cruise_config_reads_without_panic() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/gocd-xml/cruise-config.xml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let whole = xml_workspace(&text);
    assert!(!analyze(&whole).has_errors(), "the whole file checks");
    let mut malformed = 0;
    for end in (0..text.len()).step_by(13).filter(|&i| text.is_char_boundary(i)) {
        let cut = &text[..end];
        let ws = xml_workspace(cut);
        spans_in_file(cut, &ws).unwrap_or_else(|e| panic!("cut at {end}: {e}"));
        malformed += usize::from(analyze(&ws).diagnostics.iter().any(|d| d.code == "G0001"));
        gocd::import(&ws);
    }
    assert!(malformed > 100, "cuts of a file are malformed XML, reported as G0001");
}

#[test]
fn deep_huge_and_hostile_xml_ends_with_an_error_or_a_result() {
    let deep = format!("<cruise>{}{}</cruise>", "<a>".repeat(10_000), "</a>".repeat(10_000));
    let deep_oncancel = format!(
        "<cruise><pipelines group=\"g\"><pipeline name=\"p\"><materials><git url=\"u\"/></materials><stage name=\"s\"><jobs><job name=\"j\"><tasks>{}<exec command=\"x\"/>{}</tasks></job></jobs></stage></pipeline></pipelines></cruise>",
        "<exec command=\"x\"><oncancel>".repeat(2_000),
        "</oncancel></exec>".repeat(2_000)
    );
    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><cruise>&b;</cruise>".to_string();
    for text in [deep, deep_oncancel, laughs, String::new(), "<pipelines/>".to_string()] {
        let ws = xml_workspace(&text);
        spans_in_file(&text, &ws).unwrap_or_else(|e| panic!("{e}"));
        gocd::import(&ws);
    }
    let ws = xml_workspace("<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"x\">]><cruise>&a;</cruise>");
    assert!(analyze(&ws).diagnostics.iter().any(|d| d.code == "G0001"), "a DTD is refused");
}
