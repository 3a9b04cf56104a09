//! Formatting many files at once, on all cores, and the unified diff `pw fmt --check` prints.

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Workspace};
use similar::TextDiff;

/// Formats every file of the workspace: the formatted text, or the syntax errors that stop it.
pub fn format_workspace(workspace: &Workspace) -> Vec<Result<String, Vec<Diagnostic>>> {
    let ids: Vec<FileId> = workspace.ids().collect();
    let one = |id: FileId| {
        let text = &workspace.file(id).text;
        super::format_parsed(text, &crate::parse_file(id, text))
    };
    let threads = crate::cores().min(ids.len());
    if threads <= 1 || ids.len() < 4 {
        return ids.into_iter().map(one).collect();
    }
    let chunk = ids.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = ids
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|&id| one(id)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

/// The unified diff from `old` to `new`, with three lines of context, headed by `path`.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(path, &format!("{path} (formatted)"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_name_the_file_and_show_the_change() {
        let diff = unified_diff("a.pw", "a = 1\nb  = 2\n", "a = 1\nb = 2\n");
        assert_eq!(diff, "--- a.pw\n+++ a.pw (formatted)\n@@ -1,2 +1,2 @@\n a = 1\n-b  = 2\n+b = 2\n");
    }

    #[test]
    fn formats_each_file_or_returns_its_errors() {
        let mut workspace = Workspace::new();
        for i in 0..6 {
            workspace.add(format!("{i}.pw"), format!("material m{i} {{ git  = \"x\" }}"));
        }
        workspace.add("bad.pw", "material {");
        let results = format_workspace(&workspace);
        assert_eq!(results.len(), 7);
        assert_eq!(results[0].as_deref().ok(), Some("material m0 {\n  git = \"x\"\n}\n"));
        let errors = results[6].as_ref().err().map(|d| d[0].file);
        assert_eq!(errors, Some(FileId(6)));
    }
}
