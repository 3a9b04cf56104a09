//! The GoCD front end on `tests/gocd/*.gocd.yaml`, one small file per feature in the plugin's
//! style: what `pw check` says of each (rendered as a person reads it), and what `pw import`
//! writes (the `.pw`, its warnings, and what `pw check` says of the `.pw`).

use pw_compiler::render::{render, Format};
use pw_compiler::{analyze, gocd, Workspace};
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gocd");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.retain(|p| gocd::is_gocd_path(&p.to_string_lossy()));
    files.sort();
    files
}

fn workspace(path: &Path) -> (String, Workspace) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut ws = Workspace::new();
    ws.add(format!("tests/gocd/{name}"), text);
    (name.trim_end_matches(".gocd.yaml").to_string(), ws)
}

fn report(workspace: &Workspace) -> String {
    let analysis = analyze(workspace);
    if analysis.diagnostics.is_empty() {
        return "no problems\n".into();
    }
    render(Format::Human, &analysis.diagnostics, workspace, false)
}

#[test]
fn every_fixture_is_checked_and_imported_as_its_snapshot_says() {
    let files = fixtures();
    assert!(files.len() >= 20, "one fixture per feature");
    for path in files {
        let (name, ws) = workspace(&path);
        let imported = gocd::import(&ws);
        let mut out = format!("== pw check ==\n{}\n== pw import ==\n", report(&ws));
        for file in &imported.output.files {
            out.push_str(&format!("--- {} ---\n{}", file.path, file.text));
        }
        out.push_str(&format!(
            "--- warnings ---\n{}--- pw check of the .pw ---\n{}",
            render(Format::Human, &imported.diagnostics, &ws, false),
            report(&imported.output),
        ));
        out.push_str(&format!("--- {} imported, {} not ---\n", imported.pipelines_imported, imported.failed));
        insta::assert_snapshot!(name, out);
    }
}

#[test]
fn imports_check_unless_the_source_has_errors() {
    for path in fixtures() {
        let (name, ws) = workspace(&path);
        let imported = gocd::import(&ws);
        let source_errors = analyze(&ws).has_errors();
        let output_errors = analyze(&imported.output).has_errors();
        assert!(!output_errors || source_errors, "{name}: the import of a clean file does not check");
        assert_eq!(imported.failed > 0 || output_errors, !imported.complete(), "{name}");
    }
}

#[test]
fn suppression_comments_work_in_yaml() {
    let text = "pipelines:\n  p:\n    materials:\n      app:\n        git: https://x.example/a.git\n    stages:\n      - a:\n          tasks:\n            - exec:\n                command: make\n      - b:\n          tasks:\n            - exec:\n                command: make\n";
    let mut ws = Workspace::new();
    ws.add("p.gocd.yaml", text);
    let config = pw_compiler::lint::Configs::single(pw_compiler::lint::LintConfig::default());
    let (_, findings) = pw_compiler::lint::check_and_lint(&ws, &config, &pw_compiler::lint::History::default());
    let Some(first) = findings.iter().find(|d| d.code.starts_with('L')) else {
        panic!("expected a lint finding on two one-task stages: {findings:?}");
    };
    let rule = pw_compiler::lint::registry::lookup(first.code).map(|r| r.name).unwrap_or_default();
    let line = ws.files[0].line_index(first.span.start);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let indent: String = lines[line].chars().take_while(|c| *c == ' ').collect();
    lines.insert(line, format!("{indent}# pw: allow({rule}) -- one stage each keeps the history readable"));
    let mut suppressed = Workspace::new();
    suppressed.add("p.gocd.yaml", lines.join("\n") + "\n");
    let (_, after) = pw_compiler::lint::check_and_lint(&suppressed, &config, &pw_compiler::lint::History::default());
    let comment_len = lines[line].len() + 1;
    let moved = first.span.start + comment_len;
    assert!(!after.iter().any(|d| d.code == first.code && d.span.start == moved), "{after:?}");
    let lints = |ds: &[pw_compiler::Diagnostic]| ds.iter().filter(|d| d.code.starts_with('L')).count();
    assert_eq!(lints(&after) + 1, lints(&findings), "only the finding below the comment is suppressed: {after:?}");
}
