//! The plan the runtime runs, compiled by the CLI or saved by `pw plan -o`, with materials
//! given as relative paths made absolute against the file that declares them.

use pw_compiler::runtime_api::plan::{Plan, OLDEST_READABLE_PLAN_VERSION, PLAN_VERSION};
use std::path::{Path, PathBuf};

/// Reads a plan saved as JSON.
pub fn read_plan(path: &Path) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("`{}` is not a plan: {e}", path.display()))?;
    let version = value.get("plan_version").and_then(|v| v.as_u64());
    let readable = u64::from(OLDEST_READABLE_PLAN_VERSION)..=u64::from(PLAN_VERSION);
    if !version.is_some_and(|v| readable.contains(&v)) {
        return Err(format!(
            "`{}` has plan_version {}, but this pw reads plan_version {OLDEST_READABLE_PLAN_VERSION} to {PLAN_VERSION} only\n\
             help: make the plan again with this pw (`pw plan FILES -o {}`), or run the `.pw` files",
            path.display(),
            version.map_or("(none)".to_string(), |v| v.to_string()),
            path.display()
        ));
    }
    let mut plan: Plan =
        serde_json::from_value(value).map_err(|e| format!("`{}` is not a plan: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    for m in &mut plan.materials {
        if is_local(&m.git) && Path::new(&m.git).is_relative() {
            m.git = absolute(&base.join(&m.git));
        }
    }
    Ok(plan)
}

/// Whether a material's `git` is a path on this machine rather than a URL.
pub(crate) fn is_local(git: &str) -> bool {
    if git.contains("://") {
        return false;
    }
    // `host:path` and `user@host:path` are scp-style remote URLs.
    match git.find(':') {
        Some(colon) => git[..colon].contains('/'),
        None => true,
    }
}

fn absolute(p: &Path) -> String {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()).to_string_lossy().into_owned()
}

/// Makes relative material paths absolute against the folder of the file declaring them.
pub fn absolutize(plan: &mut Plan) {
    for m in &mut plan.materials {
        if is_local(&m.git) && Path::new(&m.git).is_relative() {
            let base = Path::new(&m.source.file).parent().unwrap_or(Path::new("."));
            m.git = absolute(&base.join(&m.git));
        }
    }
}

/// The folder a workspace's state goes in by default: `.pw` beside the first path.
pub fn default_state(paths: &[PathBuf]) -> PathBuf {
    let first = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
    let dir = if first.is_dir() { first } else { first.parent().map(Path::to_path_buf).unwrap_or_default() };
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    dir.join(".pw")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_and_urls() {
        assert!(is_local("../app"));
        assert!(is_local("/srv/git/app.git"));
        assert!(is_local("./a:b/c"));
        assert!(!is_local("https://example.com/a.git"));
        assert!(!is_local("git@example.com:acme/a.git"));
        assert!(!is_local("example.com:a.git"));
    }

    #[test]
    fn default_state_is_beside_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.pw");
        std::fs::write(&file, "").unwrap();
        assert_eq!(default_state(std::slice::from_ref(&file)), dir.path().join(".pw"));
        assert_eq!(default_state(&[dir.path().to_path_buf()]), dir.path().join(".pw"));
    }

    #[test]
    fn plans_of_another_version_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.json");
        std::fs::write(&p, r#"{"plan_version": 1, "materials": [], "pipelines": []}"#).unwrap();
        let err = read_plan(&p).unwrap_err();
        assert!(err.contains("has plan_version 1, but this pw reads plan_version 2 to 3 only"), "{err}");
        assert!(err.contains("help: make the plan again with this pw"), "{err}");
        // A newer plan may hold what this reader would ignore.
        std::fs::write(&p, r#"{"plan_version": 4, "materials": [], "pipelines": []}"#).unwrap();
        let err = read_plan(&p).unwrap_err();
        assert!(err.contains("has plan_version 4, but this pw reads plan_version 2 to 3 only"), "{err}");
        std::fs::write(&p, "{").unwrap();
        assert!(read_plan(&p).is_err());
    }

    #[test]
    fn a_plan_of_version_2_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.json");
        std::fs::write(&p, r#"{"plan_version": 2, "materials": [], "pipelines": []}"#).unwrap();
        assert_eq!(read_plan(&p).map(|plan| plan.plan_version), Ok(2));
    }
}
