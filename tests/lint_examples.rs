//! `examples/antipatterns/` draws exactly the findings listed here; every other example is free
//! of lint warnings (a deliberate exception carries a reasoned suppression).

use pipewright::commands::lint::run::{self as command, Options};
use pipewright::ExitStatus;
use pw_compiler::Severity;
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn run(path: PathBuf) -> command::Report {
    let opts = Options {
        paths: vec![path],
        fail_at: Severity::Warning,
        fix: false,
        unsafe_fixes: false,
        history: None,
        config: None,
    };
    command::run(&opts).unwrap_or_else(|e| panic!("{e}"))
}

/// `(code, line)` of each finding.
fn findings(report: &command::Report) -> Vec<(&'static str, usize)> {
    report.diagnostics.iter().map(|d| (d.code, report.workspace.file(d.file).line_col(d.span.start).line)).collect()
}

#[test]
fn the_monolith_release_draws_its_findings() {
    let report = run(examples().join("antipatterns/monolith-release"));
    assert_eq!(report.config_files.len(), 1, "its pipewright.toml is found");
    assert_eq!(
        findings(&report),
        vec![
            ("L0010", 8),  // material `handbook` unused
            ("L0003", 13), // 8 stages; only docs can move out: the checks gate the publish
            ("L0009", 15), // REGISTRY_PASSWORD in plain text
            ("L0004", 35), // format + headers: 15s of work, 40s of overhead (20s transitions)
            ("L0005", 35), // format to package independent; compile builds what they use, so it stays before
            ("L0006", 62), // three `./gradlew test --tests` runs in one job
            ("L0002", 72), // the jar used without a fetch
            ("L0008", 83), // push has no timeout
        ]
    );
    let chain = report.diagnostics.iter().find(|d| d.code == "L0003").map(|d| d.message.clone()).unwrap_or_default();
    assert!(chain.contains("7 transitions add about 2m20s"), "the configured 20s transition is used: {chain}");
    assert_eq!(report.exit, ExitStatus::Failure);
}

/// The findings in the files whose path ends with `suffix`, as the user reads them.
fn rendered(report: &command::Report, suffix: &str) -> Vec<String> {
    let mine = |d: &&pw_compiler::Diagnostic| report.workspace.file(d.file).path.ends_with(suffix);
    let line = |d: &pw_compiler::Diagnostic| report.workspace.file(d.file).line_col(d.span.start).line;
    report.diagnostics.iter().filter(mine).map(|d| format!("{}:{} {}", d.code, line(d), d.message)).collect()
}

#[test]
fn a_file_draws_the_same_findings_whichever_folder_is_named() {
    let alone = run(examples().join("antipatterns/monolith-release"));
    let above = run(examples().join("antipatterns"));
    let file = "monolith-release/release.pw";
    assert!(!rendered(&alone, file).is_empty());
    assert_eq!(rendered(&above, file), rendered(&alone, file), "the folder's own pipewright.toml applies");
    assert_eq!(above.config_files, alone.config_files);
}

#[test]
fn the_copy_paste_deploy_draws_its_findings() {
    let report = run(examples().join("antipatterns/copy-paste-deploy"));
    assert_eq!(
        findings(&report),
        vec![
            ("L0010", 7),  // parameter `emoji` unused
            ("L0011", 18), // curl | sh
            ("L0002", 25), // `rendered/` from the prepare stage, not fetched, in each copy
            ("L0007", 25), // four copies differing in the region
            ("L0002", 30),
            ("L0002", 35),
            ("L0002", 40),
            // Not L0005 for rollout and announce: a rollout is never merged with its neighbours,
            // and the announcement must wait for it to pass.
        ]
    );
}

#[test]
fn the_other_examples_lint_clean() {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(examples()).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    dirs.retain(|d| d.is_dir() && !d.ends_with("antipatterns"));
    dirs.sort();
    assert!(!dirs.is_empty());
    for dir in dirs {
        let report = run(dir.clone());
        let loud: Vec<String> = report
            .diagnostics
            .iter()
            .filter(|d| d.severity >= Severity::Warning)
            .map(|d| format!("{} {}", d.code, d.message))
            .collect();
        assert!(loud.is_empty(), "{}: {loud:#?}", dir.display());
    }
}
