//! The round trip over every example: `.pw` → `pw export --to gocd` → `pw import` → `.pw` gives
//! the same plan, but for the differences docs/GOCD.md lists under "What a round trip shows".
//! Each difference is one step of [`expected`]; anything else fails the test.

use pw_compiler::export::gocd::{self, Options};
use pw_compiler::model::{ArtifactKind, Program};
use pw_compiler::plan::{self, Plan, Source, StageOnFailure, TaskAction, DEFAULT_WAIT_LIMIT_SECONDS};
use pw_compiler::{analyze, gocd as gocd_in, Workspace};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;

use common::{load_example, repo};

/// Every `.pw` workspace under `examples/` (a folder of `.pw` files, the GoCD one aside).
fn examples() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
        entries.sort();
        let has_pw = entries.iter().any(|p| p.extension().is_some_and(|e| e == "pw"));
        if has_pw {
            out.push(dir.to_path_buf());
            return;
        }
        for sub in entries.iter().filter(|p| p.is_dir()) {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("examples"), &mut out);
    out.retain(|p| !p.components().any(|c| c.as_os_str() == "gocd"));
    out
}

/// The plan with the differences a round trip makes by design, applied to the original's plan;
/// positions, which name other files after a round trip, are left out of both.
fn expected(mut plan: Plan, exported: &[String]) -> Plan {
    // A pipeline that could not be exported is missing, and so is a material no exported
    // pipeline uses: GoCD declares materials in pipelines.
    plan.pipelines.retain(|p| exported.iter().any(|e| e.eq_ignore_ascii_case(&p.name)));
    let used: Vec<String> = plan.pipelines.iter().flat_map(|p| p.materials.iter().cloned()).collect();
    plan.materials.retain(|m| used.contains(&m.name));
    for m in &mut plan.materials {
        // `poll` is gone: GoCD polls at the server's interval.
        m.poll_seconds = 60;
    }
    for p in &mut plan.pipelines {
        // GoCD locks to one instance or none.
        p.max_instances = p.max_instances.filter(|n| *n == 1);
        for s in &mut p.stages {
            // GoCD lets the other jobs of a failed stage finish.
            s.on_failure = StageOnFailure::Finish;
            for j in &mut s.jobs {
                // Whole minutes, rounded up; no wait limit on GoCD.
                j.timeout_seconds = j.timeout_seconds.map(|t| t.div_ceil(60) * 60);
                j.wait_limit_seconds = DEFAULT_WAIT_LIMIT_SECONDS;
                for t in &mut j.tasks {
                    // `run ["bash", "-c", "x"]` comes back as `run "x"`, as any `exec` of a
                    // shell with `-c`; scripts lose their trailing blanks.
                    if let TaskAction::Exec { argv } = &t.action {
                        if let Some(script) = shell_c(argv) {
                            t.action = TaskAction::Shell { script };
                        }
                    }
                    if let TaskAction::Shell { script } = &mut t.action {
                        *script = script.trim_end().to_string();
                    }
                }
            }
        }
    }
    without_positions(plan)
}

/// The script of `[sh|bash, -c, script]`.
fn shell_c(argv: &[String]) -> Option<String> {
    match argv {
        [shell, c, script] if matches!(shell.rsplit('/').next(), Some("sh" | "bash")) && c == "-c" => {
            Some(script.clone())
        }
        _ => None,
    }
}

fn without_positions(mut plan: Plan) -> Plan {
    let none = || Source { file: String::new(), line: 0, column: 0 };
    plan.materials.iter_mut().for_each(|m| m.source = none());
    plan.materials.sort_by(|a, b| a.name.cmp(&b.name));
    plan.pipelines.sort_by(|a, b| a.name.cmp(&b.name));
    for p in &mut plan.pipelines {
        p.source = none();
        for s in &mut p.stages {
            s.source = none();
            for j in &mut s.jobs {
                j.source = none();
                j.tasks.iter_mut().for_each(|t| t.source = none());
            }
        }
    }
    plan
}

/// Which artifacts are reports: (pipeline, stage, job, artifact) → whether `kind = report`.
fn report_kinds(program: &Program, pipelines: &[String]) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for p in program.pipelines.iter().filter(|p| pipelines.iter().any(|e| e.eq_ignore_ascii_case(&p.name))) {
        for s in &p.stages {
            for j in &s.jobs {
                for a in &j.artifacts {
                    let key = format!("{}.{}.{}.{}", p.name, s.name, j.name, a.name);
                    out.insert(key, a.kind == Some(ArtifactKind::Report));
                }
            }
        }
    }
    out
}

/// The exported files as a GoCD config repository.
fn exported_repo(files: &[pw_compiler::export::ExportedFile]) -> Workspace {
    let mut ws = Workspace::new();
    for f in files {
        ws.add(format!("gocd/{}", f.path), f.text.clone());
    }
    ws
}

#[test]
fn every_example_comes_back_from_gocd_with_the_same_plan() {
    let examples = examples();
    assert!(examples.len() >= 9, "expected the examples, found {examples:?}");
    let mut compared = 0;
    let mut reports = 0;
    for example in examples {
        let shown = example.display().to_string();
        let workspace = load_example(&example);
        let analysis = analyze(&workspace);
        assert!(!analysis.has_errors(), "{shown} does not check");
        let export = gocd::export(&workspace, &analysis.program, &Options::default());
        let names: Vec<String> =
            export.files.iter().map(|f| f.path.trim_end_matches(".gocd.yaml").to_string()).collect();
        if names.len() < analysis.program.pipelines.len() {
            assert!(export.has_errors(), "{shown}: a pipeline is missing without an error");
        }
        if names.is_empty() {
            continue;
        }
        let imported = gocd_in::import(&exported_repo(&export.files));
        assert!(imported.complete(), "{shown}: the import is not complete: {:?}", imported.output_diagnostics);
        let back = analyze(&imported.output);
        assert!(!back.has_errors(), "{shown}: the import does not check");
        let original = expected(plan::build(&workspace, &analysis.program), &names);
        let returned = without_positions(plan::build(&imported.output, &back.program));
        let a = serde_json::to_string_pretty(&original).unwrap_or_default();
        let b = serde_json::to_string_pretty(&returned).unwrap_or_default();
        if a != b {
            let diff =
                similar::TextDiff::from_lines(&a, &b).unified_diff().header("expected", "round trip").to_string();
            panic!("{shown}: the round trip changed the plan:\n{diff}");
        }
        let kinds = report_kinds(&analysis.program, &names);
        assert_eq!(kinds, report_kinds(&back.program, &names), "{shown}: report artifacts");
        reports += kinds.values().filter(|report| **report).count();
        compared += 1;
    }
    assert!(compared >= 7, "most examples export; {compared} compared");
    assert!(reports >= 1, "a report artifact goes through GoCD and back");
}
