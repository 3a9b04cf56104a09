//! What the example tests share: the repository's root, and an example loaded with its files
//! named relative to it, as a reader of the snapshots sees them.

use pw_compiler::{driver, Workspace};
use std::path::{Path, PathBuf};

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The workspace of an example (a folder or a file), its files named relative to the repository.
pub(crate) fn load_example(example: &Path) -> Workspace {
    let mut workspace = driver::load(&[example.to_path_buf()]).unwrap_or_else(|e| panic!("{e}"));
    let root = repo();
    for file in &mut workspace.files {
        let path = Path::new(&file.path);
        let relative = path.strip_prefix(&root).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf());
        file.path = driver::display_path(&relative);
    }
    workspace
}
