//! `pw fmt` as a user runs it: `--check` reports with a diff and changes nothing, a plain run
//! rewrites, a file with syntax errors is left alone.

use assert_cmd::Command;

const MESSY: &str = "material app { git=\"x\"\n  branch   = \"main\" }\n";
const FORMATTED: &str = "material app {\n  git    = \"x\"\n  branch = \"main\"\n}\n";

fn pw() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pw"));
    cmd.env("NO_COLOR", "1");
    cmd
}

#[test]
fn check_prints_a_diff_then_fmt_rewrites() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = dir.path().join("app.pw");
    std::fs::write(&file, MESSY).expect("write");

    let check = pw().current_dir(dir.path()).args(["fmt", "--check", "."]).assert().code(1);
    let stdout = String::from_utf8_lossy(&check.get_output().stdout).into_owned();
    insta::assert_snapshot!(stdout);
    let stderr = String::from_utf8_lossy(&check.get_output().stderr).into_owned();
    assert_eq!(stderr, "1 file not formatted; run `pw fmt` on it\n");
    assert_eq!(std::fs::read_to_string(&file).ok().as_deref(), Some(MESSY), "--check changes nothing");

    pw().current_dir(dir.path()).args(["fmt", "app.pw"]).assert().code(0);
    assert_eq!(std::fs::read_to_string(&file).ok().as_deref(), Some(FORMATTED));
    pw().current_dir(dir.path()).args(["fmt", "--check", "app.pw"]).assert().code(0).stdout("");
}

#[test]
fn files_with_syntax_errors_are_left_alone() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let broken = "pipeline p {\n  stage s {\n";
    std::fs::write(dir.path().join("broken.pw"), broken).expect("write");
    std::fs::write(dir.path().join("ok.pw"), MESSY).expect("write");
    let run = pw().current_dir(dir.path()).args(["fmt", "."]).assert().code(1);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(stderr.contains("E0105") && stderr.contains("broken.pw: not formatted"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.path().join("broken.pw")).ok().as_deref(), Some(broken));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ok.pw")).ok().as_deref(),
        Some(FORMATTED),
        "the others are formatted"
    );
}

#[test]
fn a_missing_path_is_an_error_of_the_command() {
    pw().args(["fmt", "/nonexistent/pipelines"]).assert().code(2);
}

#[test]
fn check_counts_the_files_not_formatted() {
    let dir = tempfile::tempdir().expect("temporary folder");
    std::fs::write(dir.path().join("a.pw"), MESSY).expect("write");
    std::fs::write(dir.path().join("b.pw"), MESSY).expect("write");
    let check = pw().current_dir(dir.path()).args(["fmt", "--check", "."]).assert().code(1);
    let stderr = String::from_utf8_lossy(&check.get_output().stderr).into_owned();
    assert_eq!(stderr, "2 files not formatted; run `pw fmt` on them\n");
}

#[test]
fn gocd_files_in_a_folder_are_neither_checked_for_layout_nor_rewritten() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let yaml = "pipelines:\n  p:\n    materials:\n      app: &app\n        git: https://x.example/a.git\n";
    std::fs::write(dir.path().join("ci.gocd.yaml"), yaml).expect("write");
    std::fs::write(dir.path().join("app.pw"), FORMATTED).expect("write");
    pw().current_dir(dir.path()).args(["fmt", "--check", "."]).assert().code(0).stdout("");
    pw().current_dir(dir.path()).args(["fmt", "."]).assert().code(0);
    assert_eq!(std::fs::read_to_string(dir.path().join("ci.gocd.yaml")).ok().as_deref(), Some(yaml));
}
