//! The `pw lint` command end to end on real files: configuration found above the paths, errors
//! in it, per-path ignores, `--fix` writing files, refused fixes, `--history`, exit statuses.

use pipewright::commands::lint::run::{self as command, Failure, Options};
use pipewright::ExitStatus;
use pw_compiler::lint::{self, fix, History, LintConfig};
use pw_compiler::{Severity, Workspace};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn options(path: PathBuf) -> Options {
    Options {
        paths: vec![path],
        fail_at: Severity::Error,
        fix: false,
        unsafe_fixes: false,
        history: None,
        config: None,
    }
}

fn codes(report: &command::Report) -> Vec<&'static str> {
    report.diagnostics.iter().map(|d| d.code).collect()
}

const NO_TIMEOUT: &str = "pipeline p {\n  stage s {\n    job j {\n      run \"make\"\n    }\n  }\n}\n";

#[test]
fn configuration_is_found_above_the_paths_and_applied() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "pipewright.toml", "[lint.per-path-ignores]\n\"legacy/**\" = [\"missing-timeout\"]\n");
    write(dir.path(), "legacy/old.pw", NO_TIMEOUT);
    write(dir.path(), "new/app.pw", &NO_TIMEOUT.replace("pipeline p", "pipeline q"));
    let report = command::run(&options(dir.path().to_path_buf())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.config_files, [dir.path().join("pipewright.toml")]);
    let files: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.code == "L0008")
        .map(|d| report.workspace.file(d.file).path.clone())
        .collect();
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with("new/app.pw"), "{files:?}");
    assert_eq!(report.exit, ExitStatus::Success, "warnings do not fail by default");
    let denied = Options { fail_at: Severity::Warning, ..options(dir.path().to_path_buf()) };
    assert_eq!(command::run(&denied).map(|r| r.exit).ok(), Some(ExitStatus::Failure));
}

#[test]
fn an_invalid_configuration_is_an_error_with_its_place() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "pipewright.toml", "[lint]\nselect = [\"cost\"]\nignore = [\"long-chain\"]\n");
    let file = write(dir.path(), "a.pw", NO_TIMEOUT);
    match command::run(&options(file)) {
        Err(Failure::Config(e)) => {
            assert_eq!(e.line_col(), Some((3, 11)));
            assert!(e.message.contains("unknown rule or category `long-chain`"), "{}", e.message);
            assert!(e.help.unwrap_or_default().contains("long-stage-chain"));
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn fix_applies_safe_fixes_then_unsafe_ones_when_asked() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = "pipeline p {\n  stage s {\n    # pw: allow(unsafe-download) -- not any more\n    job j {\n      estimate = 2m\n      run \"make\"\n    }\n  }\n}\n";
    let file = write(dir.path(), "a.pw", text);
    let safe = Options { fix: true, ..options(file.clone()) };
    let report = command::run(&safe).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.fixed.iter().map(|f| f.1).collect::<Vec<_>>(), vec!["L0013"]);
    let after = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(!after.contains("pw: allow"), "{after}");
    assert!(!after.contains("timeout"), "an unsafe fix was applied without --unsafe-fixes:\n{after}");
    assert_eq!(codes(&report), vec!["L0008"]);
    let all = Options { unsafe_fixes: true, ..safe };
    let report = command::run(&all).unwrap_or_else(|e| panic!("{e}"));
    assert!(codes(&report).is_empty(), "{:?}", report.diagnostics);
    let after = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(after.contains("      timeout  = 10m\n      estimate = 2m\n"), "{after}");
    assert!(!pw_compiler::analyze(&report.workspace).has_errors());
}

/// A formatted file, and the same file in a layout of its author's own.
const FORMATTED: &str = r#"material app {
  git = "https://git.example.com/acme/app.git"
}

pipeline build {
  materials = [app]

  stage test {
    job unit {
      resources = ["linux"]
      estimate  = 4m
      run "cargo test"
    }

    job lint {
      timeout = 5m
      run "cargo clippy"
    }
  }
}
"#;

#[test]
fn fix_keeps_a_formatted_file_formatted() {
    assert_eq!(pw_compiler::format::format(FORMATTED).ok().as_deref(), Some(FORMATTED), "the input is formatted");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(dir.path(), "build.pw", FORMATTED);
    let opts = Options { fix: true, unsafe_fixes: true, ..options(file.clone()) };
    let report = command::run(&opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.fixed.iter().map(|f| f.1).collect::<Vec<_>>(), vec!["L0008"]);
    let after = std::fs::read_to_string(&file).unwrap_or_default();
    assert_eq!(report.workspace.files[0].text, after, "the report describes the file as written");
    // What `pw fmt --check` checks.
    assert_eq!(pw_compiler::format::format(&after).ok().as_deref(), Some(after.as_str()), "not formatted:\n{after}");
    insta::assert_snapshot!(after);
}

#[test]
fn fix_keeps_the_layout_of_a_file_that_was_not_formatted() {
    let compact = FORMATTED.replace("\n\n    job lint", "\n    job lint").replace("estimate  = 4m", "estimate = 4m");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(dir.path(), "build.pw", &compact);
    let opts = Options { fix: true, unsafe_fixes: true, ..options(file.clone()) };
    command::run(&opts).unwrap_or_else(|e| panic!("{e}"));
    let after = std::fs::read_to_string(&file).unwrap_or_default();
    let expected =
        compact.replace("      resources = [\"linux\"]\n", "      timeout = 12m\n      resources = [\"linux\"]\n");
    assert_eq!(after, expected, "only the fix's text was added");
}

#[test]
fn a_fix_that_would_break_the_check_is_refused() {
    // Writing the copies as a fan-out renames them, and a later stage fetches from one by name.
    let text = r#"pipeline p {
  stage verify {
    job shard-a { timeout = 5m run "./verify 1" artifact r = "r.txt" }
    job shard-b { timeout = 5m run "./verify 2" artifact r = "r.txt" }
    job shard-c { timeout = 5m run "./verify 3" artifact r = "r.txt" }
  }
  stage report {
    job merge { timeout = 5m fetch verify.shard-a.r fetch verify.shard-b.r fetch verify.shard-c.r run "./merge r.txt" }
  }
}
"#;
    let mut ws = Workspace::new();
    ws.add("a.pw", text);
    let config = LintConfig::parse(Path::new("pipewright.toml"), "[lint]\nselect = [\"hand-written-fan-out\"]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let config = lint::Configs::single(config);
    let lint = |w: &Workspace| pw_compiler::lint::check_and_lint(w, &config, &History::default());
    assert_eq!(lint(&ws).1.iter().map(|d| d.code).collect::<Vec<_>>(), vec!["L0007"]);
    let outcome = fix::apply(&ws, true, &lint);
    assert!(outcome.applied.is_empty());
    assert_eq!(outcome.refused.len(), 1);
    assert!(outcome.refused[0].1.starts_with("error[E0"), "{}", outcome.refused[0].1);
    assert_eq!(outcome.workspace.files[0].text, text, "nothing was written");
}

#[test]
fn history_feeds_the_cost_model() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(dir.path(), "a.pw", NO_TIMEOUT);
    let state = dir.path().join(".pw");
    write(
        &state,
        "durations.json",
        r#"{"version":1,"jobs":[{"pipeline":"p","stage":"s","job":"j","median_seconds":240,"runs":12}]}"#,
    );
    let with = Options { history: Some(state.clone()), ..options(file.clone()) };
    let report = command::run(&with).unwrap_or_else(|e| panic!("{e}"));
    let help = report.diagnostics.iter().find(|d| d.code == "L0008").and_then(|d| d.help.clone()).unwrap_or_default();
    assert_eq!(help, "add `timeout = 12m`: three times its 4m (median of 12 recorded runs) run");
    let missing = Options { history: Some(dir.path().join("nowhere")), ..options(file) };
    assert!(matches!(command::run(&missing), Err(Failure::History(_))));
}

#[test]
fn missing_paths_cannot_run() {
    assert!(matches!(command::run(&options(PathBuf::from("/nonexistent/x.pw"))), Err(Failure::Load(_))));
}
