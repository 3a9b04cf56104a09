//! The checker's diagnostics as a user sees them: each case in `tests/ui/check/` (a `.pw` file,
//! or a folder of them forming one workspace) with its rendered output, as a snapshot.

use pw_compiler::render::human;
use pw_compiler::{analyze, driver};
use std::path::{Path, PathBuf};

fn cases(dir: &Path) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    cases.retain(|p| p.is_dir() || p.extension().is_some_and(|e| e == "pw"));
    cases.sort();
    cases
}

/// The rendered diagnostics of one case, paths relative to the case folder.
fn render(case: &Path) -> String {
    let root = case.parent().unwrap_or(Path::new("."));
    let workspace = driver::load(&[case.to_path_buf()]).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
    let mut workspace = workspace;
    for file in &mut workspace.files {
        let relative = Path::new(&file.path).strip_prefix(root).map(|p| p.to_path_buf()).unwrap_or_default();
        file.path = driver::display_path(&relative);
    }
    let analysis = analyze(&workspace);
    human::render_all(&analysis.diagnostics, &workspace, false)
}

#[test]
fn checker_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/check");
    let cases = cases(&dir);
    assert!(cases.len() >= 20, "expected the checker's UI cases in {}", dir.display());
    for case in cases {
        let name = case.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let output = render(&case);
        let code = name.split('_').next().unwrap_or_default();
        assert!(output.contains(&format!("[{code}]")), "case {name} does not report {code}:\n{output}");
        insta::assert_snapshot!(name, output);
    }
}
