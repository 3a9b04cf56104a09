//! The linter's findings on `tests/ui/lint/*.pw` (and `*.gocd.yaml`, for what only GoCD can
//! say), rendered as a person sees them. A file `LNNNN-name.pw` must draw a finding of that rule;
//! `LNNNN-name-ok.pw` must draw none of it.
//! Each fix is applied to its file, and the result must pass the checker and no longer draw the
//! fixed finding.

use pw_compiler::lint::{self, effects, fix, LintConfig};
use pw_compiler::render::human;
use pw_compiler::{analyze, gocd, Workspace};
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/lint");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "pw") || gocd::is_gocd_path(&p.to_string_lossy()));
    files.sort();
    files
}

fn workspace(path: &Path) -> Workspace {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut ws = Workspace::new();
    ws.add(format!("tests/ui/lint/{name}"), text);
    ws
}

/// The file's name without its `.pw` or `.gocd.yaml` ending.
fn stem_of(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.trim_end_matches(".pw").trim_end_matches(".gocd.yaml").to_string()
}

fn code_of(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy()[..5].to_string()).unwrap_or_default()
}

fn lint_with(ws: &Workspace, config: &LintConfig) -> (pw_compiler::Analysis, Vec<pw_compiler::Diagnostic>) {
    lint::check_and_lint(ws, &lint::Configs::single(config.clone()), &lint::History::default())
}

#[test]
fn fixtures_fire_or_stay_silent() {
    let files = fixtures();
    assert!(files.len() >= 28, "expected a firing and a silent fixture per rule");
    let mut failures = Vec::new();
    for path in files {
        let ws = workspace(&path);
        let analysis = analyze(&ws);
        let errors: Vec<_> = analysis.diagnostics.iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() {
            failures.push(format!("{}: does not pass the checker: {:?}", path.display(), errors));
            continue;
        }
        let findings = lint::lint(&ws, &analysis, &LintConfig::default());
        let code = code_of(&path);
        let stem = stem_of(&path);
        let fired = findings.iter().any(|d| d.code == code);
        if stem.ends_with("-ok") && fired {
            failures.push(format!("{stem}: {code} fired on a file that should be silent for it"));
        }
        if !stem.ends_with("-ok") && !fired {
            failures.push(format!("{stem}: {code} did not fire"));
        }
        let rendered = human::render_all(&findings, &ws, false);
        insta::assert_snapshot!(stem.clone(), rendered);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixes_compile_and_remove_their_findings() {
    for path in fixtures() {
        let stem = stem_of(&path);
        if stem.ends_with("-ok") {
            continue;
        }
        let code = code_of(&path);
        let ws = workspace(&path);
        // Suppressions are judged against every rule; the others' fixes are unsafe, so not applied.
        let suppression = code == "L0013" || code == "L0014";
        let select = if suppression { "all".to_string() } else { code.clone() };
        let config = LintConfig::parse(Path::new("pipewright.toml"), &format!("[lint]\nselect = [\"{select}\"]\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, before) = lint_with(&ws, &config);
        let fixable: Vec<_> = before.iter().filter(|d| d.code == code && d.fix.is_some()).collect();
        if fixable.is_empty() {
            continue;
        }
        let outcome = fix::apply(&ws, !suppression, &|w: &Workspace| lint_with(w, &config));
        let after_text = &outcome.workspace.files[0].text;
        let after = analyze(&outcome.workspace);
        assert!(
            !after.has_errors(),
            "{stem}: the fixed file fails the checker:\n{after_text}\n{:?}",
            after.diagnostics
        );
        let (_, remaining) = lint_with(&outcome.workspace, &config);
        for d in &fixable {
            let fix = d.fix.as_ref().map(|f| f.message.clone()).unwrap_or_default();
            let refused = outcome.refused.iter().any(|(r, _)| r.message == d.message);
            let still = remaining.iter().any(|r| r.message == d.message);
            assert!(refused || !still, "{stem}: `{fix}` was applied but `{}` remains", d.message);
        }
        let mut snap = String::new();
        for (_, code, message) in &outcome.applied {
            snap.push_str(&format!("applied {code}: {message}\n"));
        }
        for (d, error) in &outcome.refused {
            snap.push_str(&format!(
                "refused {}: {} ({error})\n",
                d.code,
                d.fix.as_ref().map(|f| f.message.as_str()).unwrap_or("")
            ));
        }
        snap.push_str("---- before\n");
        snap.push_str(&ws.files[0].text);
        snap.push_str("---- after\n");
        snap.push_str(after_text);
        insta::assert_snapshot!(format!("fix@{stem}"), snap);
    }
}

/// No fix removes a gate: the stages a fix of `split-not-worth-it` or
/// `independent-stages-in-sequence` removes (merging them into another) never have effects.
#[test]
fn no_fix_merges_a_stage_with_effects() {
    let extra = effects::ExtraWords::default();

    let mut merges = 0;
    for path in fixtures() {
        let ws = workspace(&path);
        let analysis = analyze(&ws);
        if analysis.has_errors() {
            continue;
        }
        let stages: Vec<_> = analysis.program.pipelines.iter().flat_map(|p| p.stages.iter()).collect();
        let program = lint::facts::ProgramFacts::new(&analysis.program, &extra);
        let facts = lint::facts::Facts::of(&analysis.program.pipelines, &program);
        for d in lint::lint(&ws, &analysis, &LintConfig::default()) {
            let Some(fix) = d.fix.as_ref().filter(|_| matches!(d.code, "L0004" | "L0005")) else { continue };
            for edit in fix.edits.iter().filter(|e| e.replacement.is_empty()) {
                for stage in stages
                    .iter()
                    .filter(|s| edit.span.start <= s.origin.span.start && s.origin.span.end <= edit.span.end)
                {
                    merges += 1;
                    let kind = facts.stage(stage);
                    assert!(
                        kind.effect.is_none(),
                        "{}: `{}` merges stage `{}`, which has effects ({:?})",
                        path.display(),
                        fix.message,
                        stage.name,
                        kind.effect
                    );
                }
            }
        }
    }
    assert!(merges >= 3, "the fixtures hold fixes that merge stages: {merges}");
}
