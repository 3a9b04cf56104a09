//! Loading the workspace a command names: the files given, and every `*.pw` file (and GoCD
//! `*.gocd.yaml`, `*.gocd.yml`, `cruise-config.xml`) below the folders given. Reading problems are errors of the
//! command, not diagnostics.

use crate::source::{SourceFile, Workspace};
use std::fmt;
use std::path::{Path, PathBuf};

/// How deep folders are searched for `.pw` files.
const MAX_DEPTH: usize = 32;

#[derive(Debug)]
pub enum LoadError {
    NotFound(PathBuf),
    Unreadable(PathBuf, std::io::Error),
    NotUtf8(PathBuf),
    /// Not UTF-8 from this 1-based line and column (in bytes) on.
    NotUtf8At(PathBuf, usize, usize),
    NoFiles(Vec<PathBuf>),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound(p) => write!(f, "`{}` does not exist", p.display()),
            LoadError::Unreadable(p, e) => write!(f, "cannot read `{}`: {e}", p.display()),
            LoadError::NotUtf8(p) => write!(f, "`{}` is not UTF-8 text", p.display()),
            LoadError::NotUtf8At(p, line, column) => {
                write!(
                    f,
                    "`{}` is not UTF-8 text: line {line}, column {column} holds a byte UTF-8 does not allow",
                    p.display()
                )
            }
            LoadError::NoFiles(paths) => {
                let names: Vec<String> = paths.iter().map(|p| format!("`{}`", p.display())).collect();
                write!(f, "no `.pw` or GoCD files in {}", names.join(", "))
            }
        }
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    /// What the user can do about it.
    pub fn help(&self) -> &'static str {
        match self {
            LoadError::NotFound(_) => "check the path; folders are searched for `*.pw` files",
            LoadError::Unreadable(..) => "check the file's permissions",
            LoadError::NotUtf8(_) | LoadError::NotUtf8At(..) => "save the file as UTF-8",
            LoadError::NoFiles(_) => {
                "name `.pw`, `*.gocd.yaml` or `cruise-config.xml` files, or folders that contain some"
            }
        }
    }
}

/// The `.pw` files the paths name, in a stable order, without repeats.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    discover_kinds(paths, is_pw_file)
}

/// The `.pw` and GoCD files the paths name, in a stable order, without repeats.
pub fn discover_sources(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    discover_kinds(paths, is_source_file)
}

fn discover_kinds(paths: &[PathBuf], wanted: fn(&Path) -> bool) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|_| LoadError::NotFound(path.clone()))?;
        if meta.is_dir() {
            walk(path, 0, wanted, Unreadable::Fail, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    if files.is_empty() {
        return Err(LoadError::NoFiles(paths.to_vec()));
    }
    Ok(files)
}

/// Every `.pw` and GoCD file below a folder, in a stable order, passing over the folders that
/// cannot be read: for a language server, which must keep going whatever the disk holds.
pub fn pw_files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let _ = walk(dir, 0, is_source_file, Unreadable::Skip, &mut files);
    files
}

/// Whether a path names a `.pw` file.
pub fn is_pw_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "pw")
}

/// Whether a path names a file the compiler reads: a `.pw` file or a GoCD file
/// (`*.gocd.yaml`, `cruise-config.xml`).
pub fn is_source_file(path: &Path) -> bool {
    is_pw_file(path) || crate::gocd::is_gocd_path(&path.to_string_lossy())
}

/// What a folder that cannot be read does to a search.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unreadable {
    Fail,
    Skip,
}

fn walk(
    dir: &Path,
    depth: usize,
    wanted: fn(&Path) -> bool,
    unreadable: Unreadable,
    out: &mut Vec<PathBuf>,
) -> Result<(), LoadError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(_) if unreadable == Unreadable::Skip => return Ok(()),
        Err(e) => return Err(LoadError::Unreadable(dir.to_path_buf(), e)),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if skipped(name, &path) {
            continue;
        }
        if path.is_dir() {
            walk(&path, depth + 1, wanted, unreadable, out)?;
        } else if wanted(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Whether a search passes over a folder entry: hidden folders and files (`.git`, `.pw`), build
/// output and dependencies. A file named only `.gocd.yaml` is read, and a folder named `.gocd`
/// searched, as GoCD's plugin reads every `*.gocd.yaml` of a repository and teams keep their
/// config there.
fn skipped(name: &str, path: &Path) -> bool {
    let lower = name.to_ascii_lowercase();
    let gocd_file = matches!(lower.as_str(), ".gocd.yaml" | ".gocd.yml") && path.is_file();
    let gocd_folder = lower == ".gocd" && path.is_dir();
    (name.starts_with('.') && !gocd_file && !gocd_folder) || name == "target" || name == "node_modules"
}

/// Reads the `.pw` and GoCD files the paths name into one workspace.
pub fn load(paths: &[PathBuf]) -> Result<Workspace, LoadError> {
    read_all(discover_sources(paths)?)
}

/// Reads the `.pw` files the paths name into one workspace, leaving GoCD files out: for
/// `pw fmt`, which writes `.pw` text only.
pub fn load_pw(paths: &[PathBuf]) -> Result<Workspace, LoadError> {
    read_all(discover(paths)?)
}

/// Reads the files, on all cores when there are many, into a workspace in their order; the
/// first file that cannot be read is the error.
fn read_all(files: Vec<PathBuf>) -> Result<Workspace, LoadError> {
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let mut workspace = Workspace::new();
    for file in crate::par_map(&paths, read_one) {
        workspace.push(file?);
    }
    Ok(workspace)
}

fn read_one(path: &Path) -> Result<SourceFile, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError::Unreadable(path.to_path_buf(), e))?;
    Ok(SourceFile::new(display_path(path), utf8(path, bytes)?))
}

/// The file's text, or where it stops being UTF-8.
pub fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String, LoadError> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = valid.len() - valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
        LoadError::NotUtf8At(path.to_path_buf(), line, column)
    })
}

/// The path as users see it: relative, with `/` separators.
pub fn display_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").map(str::to_string).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_paths_and_empty_folders_are_errors() {
        let missing = load(&[PathBuf::from("/nonexistent/x.pw")]);
        assert!(matches!(missing, Err(LoadError::NotFound(_))));
        let empty = std::env::temp_dir().join(format!("pw-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).ok();
        assert!(matches!(load(std::slice::from_ref(&empty)), Err(LoadError::NoFiles(_))));
        let bad = utf8(Path::new("a.gocd.yaml"), b"a: 1\nb: \xff\n".to_vec());
        assert!(matches!(bad, Err(LoadError::NotUtf8At(_, 2, 4))));
        std::fs::remove_dir_all(&empty).ok();
    }

    #[test]
    fn files_read_on_several_threads_keep_their_order_and_the_first_bad_one_is_the_error() {
        let dir = std::env::temp_dir().join(format!("pw-many-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let names: Vec<String> = (0..20).map(|i| format!("f{i:02}.pw")).collect();
        for (i, name) in names.iter().enumerate() {
            std::fs::write(dir.join(name), format!("# file {i}\n")).ok();
        }
        let ws = load(std::slice::from_ref(&dir)).expect("all readable");
        let texts: Vec<String> = (0..20).map(|i| format!("# file {i}\n")).collect();
        assert_eq!(ws.files.iter().map(|f| f.text.clone()).collect::<Vec<_>>(), texts);
        assert_eq!(ws.files[3].line_start(1), 9, "each file has its line index");
        std::fs::write(dir.join("f13.pw"), b"\xff").ok();
        std::fs::write(dir.join("f17.pw"), b"\xff").ok();
        let bad = load(std::slice::from_ref(&dir));
        std::fs::remove_dir_all(&dir).ok();
        assert!(matches!(bad, Err(LoadError::NotUtf8At(p, 1, 1)) if p.ends_with("f13.pw")));
    }

    #[test]
    fn a_file_named_only_gocd_yaml_and_the_gocd_folder_are_found_and_other_hidden_folders_are_not_searched() {
        let dir = std::env::temp_dir().join(format!("pw-hidden-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".git")).ok();
        std::fs::create_dir_all(dir.join(".gocd")).ok();
        std::fs::write(dir.join(".gocd.yaml"), "pipelines: {}\n").ok();
        std::fs::write(dir.join(".git/x.gocd.yaml"), "pipelines: {}\n").ok();
        std::fs::write(dir.join(".gocd/build.gocd.yaml"), "pipelines: {}\n").ok();
        std::fs::write(dir.join(".hidden.pw"), "").ok();
        let found = discover_sources(std::slice::from_ref(&dir)).unwrap_or_default();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(found, vec![dir.join(".gocd/build.gocd.yaml"), dir.join(".gocd.yaml")]);
    }
}
