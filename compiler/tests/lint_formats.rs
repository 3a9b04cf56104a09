//! Every output format on one set of findings, as snapshots; the SARIF log is validated against
//! the SARIF 2.1.0 JSON schema (`tests/ui/lint/sarif-schema-2.1.0.json`, the OASIS schema as
//! shipped in Microsoft's `@microsoft/jest-sarif` package, MIT).

use pw_compiler::lint::{self, LintConfig};
use pw_compiler::render::{self, Format};
use pw_compiler::{analyze, Diagnostic, Workspace};
use serde_json::Value;

const PIPELINE: &str = r#"# Café build: 50% of it is waiting.
pipeline build {
  env { API_KEY = "pässwörd, 50%" }
  stage make {
    job compile {
      timeout = 20m
      run "go build -o bin/app ./cmd/app"
    }
    job smoke {
      run "./bin/app --self-test"
    }
  }
}
"#;

fn findings() -> (Workspace, Vec<Diagnostic>) {
    let mut ws = Workspace::new();
    ws.add("ci/app,build.pw", PIPELINE);
    let analysis = analyze(&ws);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    let found = lint::lint(&ws, &analysis, &LintConfig::default());
    let codes: Vec<&str> = found.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec!["L0009", "L0001", "L0008"]);
    (ws, found)
}

#[test]
fn every_format_renders_the_findings() {
    let (ws, found) = findings();
    for format in Format::NAMES {
        let Some(f) = Format::from_name(format) else { panic!("{format}") };
        let text = render::render(f, &found, &ws, false);
        insta::assert_snapshot!(format!("format@{format}"), text);
    }
}

#[test]
fn github_annotations_escape_what_the_runner_reads() {
    let (ws, found) = findings();
    let text = render::render(Format::Github, &found, &ws, false);
    for line in text.lines() {
        assert!(
            line.starts_with("::error file=ci/app%2Cbuild.pw,")
                || line.starts_with("::warning file=ci/app%2Cbuild.pw,"),
            "{line}"
        );
        let (_, message) = line.split_once("::").and_then(|(_, rest)| rest.split_once("::")).unwrap_or_default();
        assert!(!message.contains('\n') && !message.contains('\r'));
    }
    assert!(text.contains("%0Ahelp%3A") || text.contains("%0Ahelp:"), "{text}");
}

#[test]
fn sarif_validates_against_the_schema() {
    let (ws, found) = findings();
    let log: Value = serde_json::from_str(&render::render(Format::Sarif, &found, &ws, false)).unwrap_or(Value::Null);
    let schema_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ui/lint/sarif-schema-2.1.0.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap_or_default()).unwrap_or(Value::Null);
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let url = "https://json.schemastore.org/sarif-2.1.0.json";
    compiler.add_resource(url, schema).unwrap_or_else(|e| panic!("{e}"));
    let index = compiler.compile(url, &mut schemas).unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = schemas.validate(&log, index) {
        panic!("the SARIF log does not match the schema: {e:#}");
    }
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(schemas.validate(&broken, index).is_err(), "the schema check accepts anything");
    // What GitHub code scanning needs beyond the schema.
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().cloned().unwrap_or_default();
    assert!(rules.iter().all(|r| r["help"]["text"].is_string() && r["shortDescription"]["text"].is_string()));
    for result in run["results"].as_array().cloned().unwrap_or_default() {
        let id = result["ruleId"].as_str().unwrap_or_default();
        let index = result["ruleIndex"].as_u64().unwrap_or(u64::MAX) as usize;
        assert_eq!(rules.get(index).map(|r| r["id"].as_str().unwrap_or_default()), Some(id));
        let region = &result["locations"][0]["physicalLocation"]["region"];
        for key in ["startLine", "startColumn", "endLine", "endColumn"] {
            assert!(region[key].as_u64().is_some_and(|n| n >= 1), "{key} missing in {result}");
        }
        assert_eq!(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "ci/app,build.pw");
        assert!(result["partialFingerprints"]["pwFinding/v1"].is_string());
    }
}

#[test]
fn fingerprints_survive_edits_above_a_finding() {
    let (ws, found) = findings();
    let before = render::sarif::fingerprints(&found, &ws);
    let mut moved = Workspace::new();
    moved.add("ci/app,build.pw", format!("# a new first line\n{PIPELINE}"));
    let analysis = analyze(&moved);
    let after = render::sarif::fingerprints(&lint::lint(&moved, &analysis, &LintConfig::default()), &moved);
    assert_eq!(before, after);
}

#[test]
fn checker_codes_are_named_like_rules() {
    let mut ws = Workspace::new();
    ws.add(
        "ci/app.pw",
        "pipeline build {\n  stage test {\n    job unit {\n      timout = 10m\n      run \"make\"\n    }\n  }\n}\n",
    );
    let analysis = analyze(&ws);
    assert_eq!(analysis.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(), vec!["E0201"]);
    let gitlab = render::render(Format::Gitlab, &analysis.diagnostics, &ws, false);
    let issues: Value = serde_json::from_str(&gitlab).unwrap_or(Value::Null);
    assert_eq!(issues[0]["check_name"], "E0201 unknown field");
    insta::assert_snapshot!("checker@gitlab", gitlab);
    let github = render::render(Format::Github, &analysis.diagnostics, &ws, false);
    assert!(github.contains(",title=E0201 unknown field::"), "{github}");
}
