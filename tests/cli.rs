//! End-to-end tests of the `pw` binary's compiler commands: exit codes, output formats, files.

use assert_cmd::Command;
use std::path::Path;

fn pw() -> Command {
    let mut cmd = Command::cargo_bin("pw").unwrap_or_else(|e| panic!("pw binary: {e}"));
    cmd.env("NO_COLOR", "1");
    cmd
}

const GOOD: &str = r#"
material app {
  git = "https://git.example.com/acme/app.git"
}

pipeline build {
  materials = [app]
  stage compile {
    job linux {
      timeout = 10m
      run "make"
      artifact bin = "out/app"
    }
  }
}

pipeline deploy {
  after = [build.compile]
  stage ship {
    approval = manual
    job all {
      timeout = 5m
      fetch build.compile.linux.bin
      run "./ship"
    }
  }
}
"#;

const BAD: &str = r#"
pipeline build {
  stage test {
    job unit {
      timout = 10m
      run "cargo test"
    }
  }
}
"#;

fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
    }
    dir
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_passes_a_clean_workspace_with_exit_0() {
    let dir = workspace(&[("ci/app.pw", GOOD)]);
    let out = pw().arg("check").arg(dir.path()).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("checked 1 file: no problems"));
}

#[test]
fn check_reports_errors_with_exit_1() {
    let dir = workspace(&[("bad.pw", BAD)]);
    let out = pw().arg("check").arg(dir.path().join("bad.pw")).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("[E0201] Error: unknown field `timout` in a job"), "{err}");
    assert!(err.contains("did you mean `timeout`?"), "{err}");
    assert!(!err.contains('\u{1b}'), "NO_COLOR must turn colour off");
}

#[test]
fn check_of_a_missing_path_is_exit_2() {
    let out = pw().args(["check", "/nonexistent/pipelines"]).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn json_format_has_the_documented_shape() {
    let dir = workspace(&[("bad.pw", BAD)]);
    let out = pw()
        .current_dir(dir.path())
        .args(["check", "--format", "json", "bad.pw"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    let d = &doc["diagnostics"][0];
    assert_eq!(d["file"], "bad.pw");
    assert_eq!(d["code"], "E0201");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["range"]["start"], serde_json::json!({"line": 5, "column": 7}));
    assert_eq!(d["range"]["end"], serde_json::json!({"line": 5, "column": 13}));
    assert_eq!(d["help"], "did you mean `timeout`?");
    assert_eq!(d["fix"]["applicability"], "unsafe");
    assert_eq!(d["fix"]["edits"][0]["replacement"], "timeout");
    assert_eq!(d["fix"]["edits"][0]["range"], d["range"]);
    assert_eq!(doc["summary"]["errors"], 1);
    assert_eq!(doc["summary"]["warnings"], 0);
}

#[test]
fn plan_writes_json_to_a_file_and_refuses_a_failing_workspace() {
    let dir = workspace(&[("app.pw", GOOD), ("bad/bad.pw", BAD)]);
    let plan_file = dir.path().join("plan.json");
    let out = pw()
        .arg("plan")
        .arg(dir.path().join("app.pw"))
        .arg("-o")
        .arg(&plan_file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&plan_file).unwrap_or_default();
    let plan: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan["plan_version"], 3);
    let names: Vec<&str> =
        plan["pipelines"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["build", "deploy"]);

    let failing = dir.path().join("failing.json");
    let out = pw().arg("plan").arg(dir.path()).arg("-o").arg(&failing).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(!Path::new(&failing).exists(), "no plan is written when the check fails");
}

#[test]
fn graph_draws_pipelines_and_edges() {
    let dir = workspace(&[("app.pw", GOOD)]);
    let out = pw().arg("graph").arg(dir.path()).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0));
    let dot = stdout(&out);
    assert!(dot.starts_with("digraph pipewright {"), "{dot}");
    assert!(dot.contains("\"build/compile\" -> \"deploy/ship\" [style=bold, label=\"after\"]"), "{dot}");
    assert!(dot.contains("\"build/compile\" -> \"deploy/ship\" [style=dashed, label=\"fetch\"]"), "{dot}");
    let out = pw().args(["graph", "--format", "mermaid"]).arg(dir.path()).output().unwrap_or_else(|e| panic!("{e}"));
    let mermaid = stdout(&out);
    assert!(mermaid.starts_with("flowchart LR"), "{mermaid}");
    assert!(mermaid.contains("p0s0 ==>|after| p1s0"), "{mermaid}");
}

#[test]
fn explain_prints_a_code_and_rejects_unknown_ones() {
    let out = pw().args(["explain", "E0401"]).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with("# E0401: fetch from a job of the same stage"), "{text}");
    assert!(text.contains("```pw"), "an explanation has an example");
    let out = pw().args(["explain", "E9999"]).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_workspace_split_across_files_is_one_namespace() {
    let (up, down) = GOOD.split_at(GOOD.find("pipeline deploy").unwrap_or(0));
    let dir = workspace(&[("a/build.pw", up), ("b/deploy.pw", down)]);
    let out = pw()
        .arg("check")
        .arg(dir.path().join("a"))
        .arg(dir.path().join("b"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn check_help_lists_the_formats() {
    let out = pw().args(["check", "--help"]).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    assert!(help.contains("[possible values: human, json, concise, sarif, github, gitlab, rdjson]"), "{help}");
    let out = pw().args(["check", "--format", "xml", "x.pw"]).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("[possible values: human, json, concise"), "{}", stderr(&out));
}

#[test]
fn a_command_that_cannot_run_writes_its_error_to_stderr_in_every_format() {
    let dir = workspace(&[]);
    let out = pw()
        .current_dir(dir.path())
        .args(["check", "--format", "json", "nope.pw"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "", "no document: the command did not run");
    assert!(stderr(&out).contains("`nope.pw` does not exist"), "{}", stderr(&out));
}

#[test]
fn file_errors_name_the_file() {
    let dir = workspace(&[("app.pw", GOOD)]);
    let out = pw()
        .current_dir(dir.path())
        .args(["plan", "app.pw", "-o", "/nonexistent/dir/plan.json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("plan_to_a_missing_folder", stderr(&out));
    let out = pw()
        .current_dir(dir.path())
        .args(["lint", "--config", "nope.toml", "app.pw"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("lint_with_a_missing_configuration", stderr(&out));
}

#[test]
fn check_and_lint_say_so_when_there_is_nothing_to_report() {
    let clean = "pipeline p {\n  stage s {\n    job j {\n      timeout = 5m\n      run \"true\"\n    }\n  }\n}\n";
    let dir = workspace(&[("a.pw", clean), ("b.pw", clean.replace("pipeline p", "pipeline q").as_str())]);
    for format in [None, Some("concise"), Some("human")] {
        let mut cmd = pw();
        cmd.current_dir(dir.path()).args(["lint", "."]);
        if let Some(f) = format {
            cmd.args(["--format", f]);
        }
        let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), "", "{format:?}");
        assert_eq!(stderr(&out), "linted 2 files: no problems\n", "{format:?}");
    }
    let out = pw()
        .current_dir(dir.path())
        .args(["check", "--format", "concise", "."])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((stdout(&out).as_str(), stderr(&out).as_str()), ("", "checked 2 files: no problems\n"));
    let out =
        pw().current_dir(dir.path()).args(["lint", "--format", "json", "."]).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stderr(&out), "", "machine formats print only their document");
}

#[test]
fn every_command_draws_a_missing_path_the_same_way() {
    let dir = workspace(&[]);
    let said = |args: &[&str]| {
        let out = pw().current_dir(dir.path()).args(args).output().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.status.code(), Some(2), "pw {args:?}: {}", stderr(&out));
        stderr(&out)
    };
    let check = said(&["check", "nope.pw"]);
    insta::assert_snapshot!("a_missing_path", check);
    for args in [
        &["lint", "nope.pw"][..],
        &["fmt", "nope.pw"],
        &["plan", "nope.pw"],
        &["run", "nope.pw"],
        &["server", "nope.pw"],
    ] {
        assert_eq!(said(args), check, "pw {args:?}");
    }
}

#[test]
fn a_range_includes_its_end() {
    let text = "pipeline p {\n  stage s {\n    job shard for n in 1..4 {\n      run \"./e2e.sh --shard #{n}/4\"\n    }\n  }\n}\n";
    let dir = workspace(&[("shards.pw", text)]);
    let out = pw().arg("plan").arg(dir.path()).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let jobs: Vec<&str> = plan["pipelines"][0]["stages"][0]["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| j["name"].as_str())
        .collect();
    assert_eq!(jobs, ["shard-1", "shard-2", "shard-3", "shard-4"]);
}
