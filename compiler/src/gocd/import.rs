//! `pw import`: GoCD files to formatted `.pw`, one output file per input file. A pipeline with
//! an error is left out and counted; the others are imported.

use super::lower::{self, pw_name, Mode};
use super::{build_index, emit, findings, read_files};
use crate::diagnostic::{Diagnostic, Severity};
use crate::gocd::codes::GoCode;
use crate::source::{FileId, Span, Workspace};

/// What an import made.
#[derive(Debug, Default)]
pub struct Imported {
    /// The `.pw` files, with paths from [`output_name`] of their GoCD file.
    pub output: Workspace,
    /// On the GoCD files: errors that stopped a pipeline, GoCD findings, and a warning for
    /// each setting kept only as a comment.
    pub diagnostics: Vec<Diagnostic>,
    /// On [`Imported::output`]: what `pw check` says of it.
    pub output_diagnostics: Vec<Diagnostic>,
    pub pipelines_imported: usize,
    /// Pipelines (and unreadable files) that could not be imported.
    pub failed: usize,
}

impl Imported {
    /// Whether everything was imported and the output checks.
    pub fn complete(&self) -> bool {
        self.failed == 0 && !self.output_diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Imports every file of `workspace`, each read as GoCD YAML, or XML for a `cruise-config.xml`
/// (or a file whose text starts with `<`).
pub fn import(workspace: &Workspace) -> Imported {
    let ids: Vec<FileId> = workspace.ids().collect();
    let mut read = read_files(workspace, &ids);
    let mut result = Imported::default();
    for (_, r) in &mut read {
        let errors: Vec<Span> = r.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.span).collect();
        if r.diagnostics.iter().any(|d| d.code == "G0001") {
            result.failed += 1;
        }
        let before = r.config.pipelines.len();
        r.config
            .pipelines
            .retain(|p| !errors.iter().any(|e| p.span.contains(e.start) || p.name.span.contains(e.start)));
        result.failed += before - r.config.pipelines.len();
        result.pipelines_imported += r.config.pipelines.len();
        result.diagnostics.append(&mut r.diagnostics);
    }
    let index = build_index(&read);
    let paths: Vec<&str> = workspace.files.iter().map(|f| f.path.as_str()).collect();
    let base = common_dir(&paths);
    for (id, r) in &read {
        let span = Span::new(0, workspace.file(*id).text.len());
        let lowered = lower::lower(*id, &r.config, &index, Mode::Import, span);
        result
            .diagnostics
            .extend(findings::findings(*id, &r.config, &index).into_iter().filter(|d| d.severity != Severity::Info));
        for note in &lowered.notes {
            if let Some(u) = &note.source {
                result.diagnostics.push(
                    Diagnostic::warning(
                        GoCode::G0007,
                        *id,
                        u.span,
                        format!("GoCD `{}` has no equivalent in Pipewright; kept as a comment", u.feature),
                    )
                    .with_label("kept as a comment")
                    .with_note(u.why),
                );
            }
        }
        for c in index.collisions(*id) {
            result.diagnostics.push(
                Diagnostic::warning(
                    GoCode::G0008,
                    *id,
                    c.name.span,
                    format!(
                        "GoCD {what}s `{}` and `{}` would both be `{}` in `.pw`: this one is `{}`",
                        c.first,
                        c.name.value,
                        pw_name(&c.name.value),
                        c.renamed,
                        what = c.what
                    ),
                )
                .with_label(format!("imported as `{}`", c.renamed))
                .with_help("every reference to it is rewritten; rename it in the output if another name reads better"),
            );
        }
        if lowered.file.members.is_empty() && lowered.notes.is_empty() {
            continue;
        }
        let text = emit::emit(&lowered.file, &lowered.notes);
        let formatted = crate::format::format(&text).unwrap_or(text);
        let path = &workspace.file(*id).path;
        result.output.add(output_name(path.get(base.len()..).unwrap_or(path)), formatted);
    }
    crate::diagnostic::sort(&mut result.diagnostics);
    // Pipelines of one XML group share the group's attribute, so they would repeat its warning.
    result.diagnostics.dedup_by(|a, b| (a.code, a.file, a.span, &a.message) == (b.code, b.file, b.span, &b.message));
    // The model is no longer needed: free it before the check of the output needs its memory.
    drop((read, index));
    result.output_diagnostics = crate::analyze(&result.output).diagnostics;
    result
}

/// The folder all paths are in, `/` included (empty when none).
fn common_dir(paths: &[&str]) -> String {
    let Some(first) = paths.first() else { return String::new() };
    let mut dir = first.rfind('/').map_or("", |i| &first[..=i]);
    while !paths.iter().all(|p| p.starts_with(dir)) {
        dir = dir[..dir.len() - 1].rfind('/').map_or("", |i| &dir[..=i]);
    }
    dir.to_string()
}

/// The `.pw` path for a GoCD file's path: `ci/build.gocd.yaml` → `ci/build.pw`, relative.
pub fn output_name(path: &str) -> String {
    let lower = path.to_ascii_lowercase();
    let stem_len = [".gocd.yaml", ".gocd.yml", ".yaml", ".yml", ".xml"]
        .iter()
        .find(|suffix| lower.ends_with(*suffix))
        .map_or(path.len(), |suffix| path.len() - suffix.len());
    let relative: Vec<&str> =
        path[..stem_len].split(['/', '\\']).filter(|c| !c.is_empty() && *c != "." && *c != "..").collect();
    format!("{}.pw", relative.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_stay_inside_the_output_folder() {
        assert_eq!(output_name("ci/build.gocd.yaml"), "ci/build.pw");
        assert_eq!(output_name("/abs/../x.GOCD.yml"), "abs/x.pw");
        assert_eq!(output_name("pipelines.yaml"), "pipelines.pw");
        assert_eq!(common_dir(&["/a/b/x.gocd.yaml", "/a/c/y.gocd.yaml"]), "/a/");
        assert_eq!(common_dir(&["x.gocd.yaml", "ci/y.gocd.yaml"]), "");
    }
}
