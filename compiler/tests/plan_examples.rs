//! Every example workspace checks clean, and its plan is kept as a snapshot, so a change to
//! the plan a user's pipelines compile to is reviewed.

use pw_compiler::{analyze, driver};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Each folder (or lone file) directly under `examples/`, but the deliberately bad ones.
fn examples() -> Vec<PathBuf> {
    let dir = repo().join("examples");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| (p.is_dir() || p.extension().is_some_and(|e| e == "pw")) && !p.ends_with("antipatterns"));
    out.sort();
    out
}

#[test]
fn every_example_checks_clean_and_plans() {
    let examples = examples();
    assert!(examples.len() >= 6, "expected at least six examples, found {examples:?}");
    for example in examples {
        let mut workspace = driver::load(std::slice::from_ref(&example)).unwrap_or_else(|e| panic!("{e}"));
        let root = repo();
        for file in &mut workspace.files {
            let path = Path::new(&file.path);
            let relative = path.strip_prefix(&root).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf());
            file.path = driver::display_path(&relative);
        }
        let analysis = analyze(&workspace);
        let rendered = pw_compiler::render::human::render_all(&analysis.diagnostics, &workspace, false);
        assert!(!analysis.has_errors(), "{} does not check:\n{rendered}", example.display());
        let plan = analysis.plan(&workspace).unwrap_or_else(|| panic!("no plan for {}", example.display()));
        let name = example.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        insta::assert_snapshot!(name, plan.to_json());
    }
}
