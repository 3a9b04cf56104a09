//! `pw export` from the binary: files written, exit codes, and diagnostics as `pw check` renders
//! them.

use assert_cmd::Command;
use std::path::Path;

fn pw() -> Command {
    let mut cmd = Command::cargo_bin("pw").unwrap_or_else(|e| panic!("{e}"));
    cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR"))).env("NO_COLOR", "1");
    cmd
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn exports_every_pipeline_of_a_workspace_and_exits_0() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out_dir = dir.path().join("gocd");
    let out = pw().args(["export", "--to", "gocd", "examples/fan-in", "-o"]).arg(&out_dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    assert_eq!(names, ["atlas-api.gocd.yaml", "atlas-release.gocd.yaml", "atlas-web.gocd.yaml"]);
    let release = std::fs::read_to_string(out_dir.join("atlas-release.gocd.yaml")).unwrap_or_default();
    assert!(release.starts_with("format_version: 10\n"), "{release}");
    assert!(release.contains("{{SECRET:[pipewright][atlas-registry-push]}}"), "{release}");
    assert!(stderr(&out).contains("exported 3 pipelines to"), "{}", stderr(&out));
}

#[test]
fn the_secret_config_flag_names_the_config_in_secret_references() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = pw()
        .args(["export", "--to", "gocd", "examples/fan-in", "--secret-config", "vault", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let release = std::fs::read_to_string(dir.path().join("atlas-release.gocd.yaml")).unwrap_or_default();
    assert!(release.contains("{{SECRET:[vault][atlas-registry-push]}}"), "{release}");
}

#[test]
fn discover_is_an_error_at_its_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = pw().args(["export", "--to", "gocd", "examples/discover", "-o"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("[X0101] Error: job `reload` of stage `push` is fanned out with `discover(...)`"), "{err}");
    assert!(err.contains("examples/discover/edge.pw:38:9"), "{err}");
    assert!(err.contains("exported 0 pipelines"), "{err}");
}

#[test]
fn diagnostics_follow_the_format_flag() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = pw()
        .args(["export", "--to", "gocd", "examples/discover", "--format", "json", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["diagnostics"][0]["code"], "X0101");
    assert_eq!(json["diagnostics"][0]["range"]["start"]["line"], 38);
}

#[test]
fn a_workspace_that_does_not_check_is_not_exported() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.path().join("bad.pw");
    std::fs::write(&bad, "pipeline p {\n  stage s {\n    job j { timout = 5m run \"x\" }\n  }\n}\n")
        .unwrap_or_default();
    let out_dir = dir.path().join("out");
    let out = pw().args(["export", "--to", "gocd"]).arg(&bad).arg("-o").arg(&out_dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("E0201"), "{}", stderr(&out));
    assert!(!out_dir.exists(), "nothing is written");
}

#[test]
fn a_missing_path_a_bad_config_id_or_an_unwritable_folder_exit_2() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let missing = pw().args(["export", "--to", "gocd", "no/such/dir", "-o"]).arg(dir.path()).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let bad_id = pw()
        .args(["export", "--to", "gocd", "examples/fan-in", "--secret-config", "a]b", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad_id.status.code(), Some(2));
    assert!(stderr(&bad_id).contains("is not a GoCD secret config id"), "{}", stderr(&bad_id));
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap_or_default();
    let blocked =
        pw().args(["export", "--to", "gocd", "examples/fan-in", "-o"]).arg(file.join("sub")).output().unwrap();
    assert_eq!(blocked.status.code(), Some(2));
    assert!(stderr(&blocked).contains("cannot write"), "{}", stderr(&blocked));
}
