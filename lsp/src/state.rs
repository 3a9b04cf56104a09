//! The server's state: the open documents, the workspace's other `.pw` files, the settings, and
//! the latest analysis of all of them as an immutable [`Snapshot`] that requests read.
//!
//! A snapshot is built when something asks for it after a change (the server asks at once after
//! an edit, and requests ask when they come). It re-parses only the files whose text changed (the
//! others' parses are taken from the previous snapshot) and checks the whole workspace; the linter
//! runs only when its findings are first wanted ([`Snapshot::diagnostics`]), so a hover or a
//! completion never waits for it.

use crate::position::Encoding;
use crate::settings::Settings;
use pw_compiler::check::Kept;
use pw_compiler::lint::Configs;
use pw_compiler::source::SourceFile;
use pw_compiler::{Analysis, Diagnostic, FileId, ParsedFile, Span, Workspace};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tower_lsp_server::ls_types::{Location, Position, Range, TextDocumentContentChangeEvent, Uri};

/// An open document: the editor's text, not the disk's.
#[derive(Clone, Debug)]
pub struct Document {
    pub text: String,
    pub version: i32,
}

#[derive(Default)]
pub struct State {
    pub open: BTreeMap<Uri, Document>,
    /// The `.pw` files of the workspace folders that are not open, as read from disk.
    pub disk: BTreeMap<Uri, String>,
    pub roots: Vec<PathBuf>,
    pub settings: Settings,
    /// The `[lint]` settings of each file: the nearest `pipewright.toml` above it.
    pub lint_configs: Arc<Configs>,
    /// Whether files were added since `lint_configs` was made.
    new_files: bool,
    pub encoding: Encoding,
    revision: u64,
    /// The latest snapshot built: the current one when its revision is `revision`, otherwise
    /// the source of the parses of the files that have not changed since.
    latest: Option<Arc<Snapshot>>,
}

impl State {
    pub fn new(roots: Vec<PathBuf>, encoding: Encoding) -> Self {
        State { roots, encoding, ..State::default() }
    }

    fn changed(&mut self) {
        self.revision += 1;
    }

    pub fn open(&mut self, uri: Uri, text: String, version: i32) {
        self.new_files |= !self.disk.contains_key(&uri);
        self.open.insert(uri, Document { text, version });
        self.changed();
    }

    /// Applies an editor's changes, in order. A change for a document that is not open is ignored.
    pub fn change(&mut self, uri: &Uri, version: i32, changes: Vec<TextDocumentContentChangeEvent>) {
        let encoding = self.encoding;
        let Some(doc) = self.open.get_mut(uri) else { return };
        for change in changes {
            apply_change(&mut doc.text, change.range, &change.text, encoding);
        }
        doc.version = version;
        self.changed();
    }

    /// Closes a document: from now on the workspace holds its text on disk, if it is a `.pw` file
    /// under a workspace folder.
    pub fn close(&mut self, uri: &Uri) {
        self.open.remove(uri);
        self.reload_from_disk(uri);
    }

    /// Reads a `.pw` file of the workspace again (after a change on disk), or forgets it.
    pub(crate) fn reload_from_disk(&mut self, uri: &Uri) {
        let path = uri.to_file_path().map(|p| p.into_owned());
        let text = path
            .filter(|p| pw_compiler::driver::is_source_file(p) && self.roots.iter().any(|r| p.starts_with(r)))
            .and_then(|p| std::fs::read_to_string(p).ok());
        match text {
            Some(text) => self.new_files |= self.disk.insert(uri.clone(), text).is_none(),
            None => _ = self.disk.remove(uri),
        };
        self.changed();
    }

    /// Reads every `.pw` file below the workspace folders.
    pub(crate) fn scan_roots(&mut self) {
        self.disk.clear();
        self.new_files = true;
        let files: Vec<PathBuf> =
            self.roots.iter().flat_map(|root| pw_compiler::driver::pw_files_below(root)).collect();
        for path in files {
            if let (Some(uri), Ok(text)) = (Uri::from_file_path(&path), std::fs::read_to_string(&path)) {
                self.disk.insert(uri, text);
            }
        }
        self.changed();
    }

    /// Reads `pipewright.toml` again; returns why it could not be used, if so.
    pub(crate) fn reload_settings(&mut self) -> Option<String> {
        let (settings, problem) = Settings::load(&self.roots);
        self.settings = settings;
        let lint_problem = self.reload_lint_configs();
        problem.or(lint_problem)
    }

    /// Finds the nearest `pipewright.toml` above each file again; returns why one could not be
    /// used, if so.
    fn reload_lint_configs(&mut self) -> Option<String> {
        let (configs, errors) = crate::lints::load_configs(self.open.keys().chain(self.disk.keys()));
        self.lint_configs = Arc::new(configs);
        self.new_files = false;
        self.changed();
        let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
        (!problems.is_empty()).then(|| problems.join("\n"))
    }

    pub fn version(&self, uri: &Uri) -> Option<i32> {
        self.open.get(uri).map(|d| d.version)
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The analysis of the current texts, computed once per change.
    pub fn snapshot(&mut self) -> Arc<Snapshot> {
        if let Some(latest) = self.latest.as_ref().filter(|s| s.revision == self.revision) {
            return latest.clone();
        }
        if self.new_files {
            // Files the configurations were not found for: found now, and a problem with them is
            // reported when the settings are next read.
            self.reload_lint_configs();
        }
        let previous = Previous::new(self.latest.take());
        let snapshot = Arc::new(Snapshot::build(self, previous));
        self.latest = Some(snapshot.clone());
        snapshot
    }
}

/// Applies one change: the whole text when `range` is absent.
pub(crate) fn apply_change(text: &mut String, range: Option<Range>, new_text: &str, encoding: Encoding) {
    let Some(range) = range else {
        *text = new_text.to_string();
        return;
    };
    let file = SourceFile::new("", std::mem::take(text));
    let span = encoding.span(&file, range);
    let mut updated = file.text;
    updated.replace_range(span.range(), new_text);
    *text = updated;
}

/// The workspace as it was at one revision, analysed. Requests read it without locking.
pub struct Snapshot {
    pub revision: u64,
    pub workspace: Workspace,
    /// The parsed files and the checked program, with the checker's diagnostics.
    pub analysis: Analysis,
    /// The document of each file, by [`FileId`].
    pub uris: Vec<Uri>,
    /// The editor's version of each file that is open.
    pub versions: Vec<Option<i32>>,
    pub encoding: Encoding,
    pub settings: Settings,
    /// How many files were parsed for this snapshot; the others kept the previous one's parse.
    pub files_parsed: usize,
    lint_configs: Arc<Configs>,
    /// The checker's and the linter's diagnostics, computed on first use.
    diagnostics: OnceLock<Vec<Diagnostic>>,
}

impl Snapshot {
    fn build(state: &State, mut previous: Previous) -> Self {
        let built_before = previous.take_kept();
        let mut workspace = Workspace::new();
        let mut uris = Vec::new();
        let mut versions = Vec::new();
        let disk = state.disk.iter().filter(|(uri, _)| !state.open.contains_key(*uri));
        let mut all: Vec<(&Uri, &str, Option<i32>)> = disk.map(|(u, t)| (u, t.as_str(), None)).collect();
        all.extend(state.open.iter().map(|(u, d)| (u, d.text.as_str(), Some(d.version))));
        all.sort_by(|a, b| a.0.cmp(b.0));
        let mut kept = Vec::with_capacity(all.len());
        for (uri, text, version) in all {
            let id = FileId(uris.len() as u32);
            let path = display_path(uri, &state.roots);
            let (source, parse) = match previous.take(uri, id, &path, text) {
                Some((source, parse)) => (source, Some(parse)),
                None => (SourceFile::new(path, text), None),
            };
            workspace.files.push(source);
            kept.push(parse);
            uris.push(uri.clone());
            versions.push(version);
        }
        read_gocd_files_together(&uris, &mut kept, previous.gocd_files());
        drop(previous);
        // The files without a parse to keep, parsed together (on all cores when there are many,
        // as when the workspace is first read).
        let missing: Vec<FileId> = workspace.ids().filter(|id| kept[id.0 as usize].is_none()).collect();
        let mut fresh = pw_compiler::parse_files(&workspace, &missing).into_iter();
        let parsed =
            kept.into_iter().map(|parse| parse.unwrap_or_else(|| Arc::new(fresh.next().unwrap_or_default()))).collect();
        let analysis = pw_compiler::analyze_again(&workspace, parsed, built_before.as_deref());
        Snapshot {
            revision: state.revision,
            workspace,
            analysis,
            uris,
            versions,
            encoding: state.encoding,
            settings: state.settings.clone(),
            files_parsed: missing.len(),
            lint_configs: state.lint_configs.clone(),
            diagnostics: OnceLock::new(),
        }
    }

    /// The checker's and the linter's diagnostics, sorted. The linter runs on the first call
    /// (a later caller waits for it), so the requests that need only the checked program never
    /// wait for the linter.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        self.diagnostics.get_or_init(|| {
            let mut all = self.analysis.diagnostics.clone();
            if self.settings.lint {
                all.extend(crate::lints::lint(&self.workspace, &self.analysis, &self.lint_configs, &self.uris));
            }
            pw_compiler::diagnostic::sort(&mut all);
            all
        })
    }

    /// Whether the linter has run on this snapshot.
    #[cfg(test)]
    pub(crate) fn is_linted(&self) -> bool {
        self.diagnostics.get().is_some()
    }

    pub fn file_id(&self, uri: &Uri) -> Option<FileId> {
        self.uris.iter().position(|u| u == uri).map(|i| FileId(i as u32))
    }

    pub fn source(&self, file: FileId) -> &SourceFile {
        self.workspace.file(file)
    }

    pub fn parsed(&self, file: FileId) -> &ParsedFile {
        &self.analysis.files[file.0 as usize]
    }

    pub fn uri(&self, file: FileId) -> &Uri {
        &self.uris[file.0 as usize]
    }

    pub fn offset(&self, file: FileId, position: Position) -> usize {
        self.encoding.offset(self.source(file), position)
    }

    pub fn range(&self, file: FileId, span: Span) -> Range {
        self.encoding.range(self.source(file), span)
    }

    pub fn location(&self, file: FileId, span: Span) -> Location {
        Location::new(self.uri(file).clone(), self.range(file, span))
    }

    pub fn text(&self, file: FileId) -> &str {
        &self.source(file).text
    }
}

/// The previous snapshot, as a source of files for the next one. A file keeps its source (text
/// and line index) and its parse when its document, its [`FileId`] (spans and diagnostics carry
/// it), its path and its text are the same. They are moved out when no request (nor the linter)
/// holds the previous snapshot any more; otherwise the source is copied and the parse shared.
/// The pipelines its check kept go to the next check, which takes those an edit cannot have
/// changed.
enum Previous {
    None,
    Owned { uris: Vec<Uri>, files: Vec<Option<(SourceFile, Arc<ParsedFile>)>>, kept: Option<Arc<Kept>> },
    Shared(Arc<Snapshot>),
}

impl Previous {
    fn new(snapshot: Option<Arc<Snapshot>>) -> Self {
        match snapshot.map(Arc::try_unwrap) {
            None => Previous::None,
            Some(Ok(snap)) => Previous::Owned {
                uris: snap.uris,
                files: snap.workspace.files.into_iter().zip(snap.analysis.files).map(Some).collect(),
                kept: snap.analysis.kept,
            },
            Some(Err(shared)) => Previous::Shared(shared),
        }
    }

    /// How many GoCD files the previous snapshot held.
    fn gocd_files(&self) -> usize {
        let uris = match self {
            Previous::None => return 0,
            Previous::Owned { uris, .. } => uris,
            Previous::Shared(snap) => &snap.uris,
        };
        uris.iter().filter(|u| is_gocd(u)).count()
    }

    /// What the previous check kept of its pipelines.
    fn take_kept(&mut self) -> Option<Arc<Kept>> {
        match self {
            Previous::None => None,
            Previous::Owned { kept, .. } => kept.take(),
            Previous::Shared(snap) => snap.analysis.kept.clone(),
        }
    }

    /// The source and the parse of file `id`, if they are still those of `text`.
    fn take(&mut self, uri: &Uri, id: FileId, path: &str, text: &str) -> Option<(SourceFile, Arc<ParsedFile>)> {
        let i = id.0 as usize;
        let same =
            |uris: &[Uri], source: &SourceFile| uris.get(i) == Some(uri) && source.path == path && source.text == text;
        match self {
            Previous::None => None,
            Previous::Owned { uris, files, .. } => {
                let slot = files.get_mut(i)?;
                slot.as_ref().is_some_and(|(source, _)| same(uris, source)).then(|| slot.take()).flatten()
            }
            Previous::Shared(snap) => {
                let (source, parse) = (snap.workspace.files.get(i)?, snap.analysis.files.get(i)?);
                same(&snap.uris, source).then(|| (source.clone(), Arc::clone(parse)))
            }
        }
    }
}

/// GoCD merges the files of a config repository, and each is read against the others (a
/// dependency material names a pipeline of another file): when one of them changed, came or
/// went, none keeps its parse.
fn read_gocd_files_together(uris: &[Uri], kept: &mut [Option<Arc<ParsedFile>>], before: usize) {
    let gocd: Vec<usize> = (0..uris.len()).filter(|&i| is_gocd(&uris[i])).collect();
    if gocd.len() != before || gocd.iter().any(|&i| kept[i].is_none()) {
        for i in gocd {
            kept[i] = None;
        }
    }
}

fn is_gocd(uri: &Uri) -> bool {
    pw_compiler::gocd::is_gocd_path(uri.path().as_str())
}

/// The path shown in messages: relative to the workspace folder that holds it.
fn display_path(uri: &Uri, roots: &[PathBuf]) -> String {
    let Some(path) = uri.to_file_path() else { return uri.as_str().to_string() };
    for root in roots {
        if let Ok(relative) = path.strip_prefix(root) {
            return relative.display().to_string();
        }
    }
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_incremental_changes_in_utf16_units() {
        let mut text = "run \"🚀 x\"\n".to_string();
        // Replace `x` (UTF-16 column 8: the rocket takes two units).
        let range = Range::new(Position::new(0, 8), Position::new(0, 9));
        apply_change(&mut text, Some(range), "yz", Encoding::Utf16);
        assert_eq!(text, "run \"🚀 yz\"\n");
        apply_change(&mut text, None, "all new", Encoding::Utf16);
        assert_eq!(text, "all new");
    }

    #[test]
    fn settings_and_disk_files_are_read_again_on_request() {
        let root = tempfile::tempdir().expect("temporary folder");
        let config = root.path().join("pipewright.toml");
        std::fs::write(&config, "[lsp]\ndebounce_ms = 5\n").expect("write");
        std::fs::write(root.path().join("a.pw"), "material m { git = \"x\" }\n").expect("write");
        let mut state = State::new(vec![root.path().to_path_buf()], Encoding::Utf16);
        assert_eq!(state.reload_settings(), None);
        assert_eq!(state.settings.debounce_ms, 5);
        state.scan_roots();
        assert_eq!(state.snapshot().workspace.files.len(), 1);
        assert_eq!(state.snapshot().workspace.files[0].path, "a.pw");

        std::fs::write(&config, "[lsp]\ndebounce_ms = \"soon\"\n").expect("write");
        let problem = state.reload_settings().expect("an invalid setting is reported");
        assert!(problem.contains("debounce_ms"), "{problem}");
        assert_eq!(state.settings, Settings::default());

        std::fs::remove_file(root.path().join("a.pw")).expect("remove");
        let uri = Uri::from_file_path(root.path().join("a.pw")).expect("uri");
        state.reload_from_disk(&uri);
        assert!(state.snapshot().workspace.files.is_empty());
    }

    #[test]
    fn each_file_is_linted_with_the_nearest_configuration() {
        let root = tempfile::tempdir().expect("temporary folder");
        let job =
            |p: &str| format!("pipeline {p} {{\n  stage s {{\n    job j {{\n      run \"make\"\n    }}\n  }}\n}}\n");
        for (folder, pipeline) in [("quiet", "a"), ("loud", "b")] {
            std::fs::create_dir_all(root.path().join(folder)).expect("folder");
            std::fs::write(root.path().join(folder).join(format!("{pipeline}.pw")), job(pipeline)).expect("write");
        }
        std::fs::write(root.path().join("quiet/pipewright.toml"), "[lint]\nignore = [\"missing-timeout\"]\n")
            .expect("write");
        let mut state = State::new(vec![root.path().to_path_buf()], Encoding::Utf16);
        assert_eq!(state.reload_settings(), None);
        state.scan_roots();
        let flagged = |state: &mut State| {
            let snap = state.snapshot();
            let mut files: Vec<String> = snap
                .diagnostics()
                .iter()
                .filter(|d| d.code == "L0008")
                .map(|d| snap.source(d.file).path.clone())
                .collect();
            files.sort();
            files
        };
        assert_eq!(flagged(&mut state), ["loud/b.pw"]);

        // A file opened in a folder of its own takes that folder's configuration.
        std::fs::create_dir_all(root.path().join("new")).expect("folder");
        std::fs::write(root.path().join("new/pipewright.toml"), "[lint]\nignore = [\"all\"]\n").expect("write");
        let uri = Uri::from_file_path(root.path().join("new/c.pw")).expect("uri");
        state.open(uri, job("c"), 1);
        assert_eq!(flagged(&mut state), ["loud/b.pw"]);
    }

    #[test]
    fn an_open_gocd_file_gets_diagnostics_on_its_yaml_lines_and_no_formatting() {
        let root = tempfile::tempdir().expect("temporary folder");
        let mut state = State::new(vec![root.path().to_path_buf()], Encoding::Utf16);
        let uri = Uri::from_file_path(root.path().join("ci.gocd.yaml")).expect("uri");
        let text = "pipelines:\n  p:\n    materials:\n      app:\n        git: https://x.example/a.git\n        brnach: main\n";
        state.open(uri.clone(), text.to_string(), 1);
        let snap = state.snapshot();
        let file = snap.file_id(&uri).expect("the GoCD file is in the workspace");
        let found = snap.diagnostics().iter().find(|d| d.code == "G0003").expect("the ignored key is reported");
        assert_eq!(snap.range(file, found.span).start, Position::new(5, 8));
        assert!(crate::features::formatting::document(&snap, file, None).is_none());
    }

    #[test]
    fn a_snapshot_is_reused_until_a_change() {
        let mut state = State::default();
        let uri: Uri = "file:///w/a.pw".parse().expect("uri");
        state.open(uri.clone(), "material m { git = \"x\" }\n".into(), 1);
        let first = state.snapshot();
        assert!(Arc::ptr_eq(&first, &state.snapshot()));
        state.change(
            &uri,
            2,
            vec![TextDocumentContentChangeEvent { range: None, range_length: None, text: String::new() }],
        );
        let second = state.snapshot();
        assert!(!Arc::ptr_eq(&first, &second));
        assert_eq!(second.versions, vec![Some(2)]);
    }

    fn whole(text: &str) -> Vec<TextDocumentContentChangeEvent> {
        vec![TextDocumentContentChangeEvent { range: None, range_length: None, text: text.into() }]
    }

    /// The snapshot holds the state's texts, and agrees with analysing them from scratch.
    fn assert_fresh(state: &State, snap: &Snapshot) {
        for (uri, doc) in &state.open {
            let file = snap.file_id(uri).expect("an open document is in the snapshot");
            assert_eq!(snap.text(file), doc.text);
            assert_eq!(snap.source(file).path, uri.path().as_str());
        }
        let fresh = pw_compiler::analyze(&snap.workspace);
        assert_eq!(snap.analysis.diagnostics, fresh.diagnostics);
        for (kept, parsed) in snap.analysis.files.iter().zip(&fresh.files) {
            assert_eq!(kept.ast, parsed.ast);
            assert_eq!(kept.comments, parsed.comments);
            assert_eq!(kept.diagnostics, parsed.diagnostics);
        }
    }

    #[test]
    fn an_edit_reparses_only_the_files_that_changed() {
        let mut state = State::default();
        let (a, b): (Uri, Uri) = ("file:///w/a.pw".parse().expect("uri"), "file:///w/b.pw".parse().expect("uri"));
        state.open(a.clone(), "material m { git = \"x\" }\n".into(), 1);
        state.open(b.clone(), "pipeline p { materials = [n] stage s { job j { run \"x\" } } }\n".into(), 1);
        assert_eq!(state.snapshot().files_parsed, 2);
        state.change(&a, 2, whole("material n { git = \"x\" }\n"));
        let second = state.snapshot();
        assert_eq!(second.files_parsed, 1, "a.pw is parsed again, b.pw keeps its parse");
        let rebuilt = second.analysis.kept.as_ref().map(|k| k.rebuilt());
        assert_eq!(rebuilt, Some(0), "b.pw's pipeline is taken as built, and its references resolved again");
        assert!(second.analysis.diagnostics.is_empty(), "b's reference to `n` resolves: {:?}", second.analysis);
        assert_fresh(&state, &second);

        // A request still holds `second`: the unchanged parse is shared with it, not taken.
        state.change(&a, 3, whole("material m { git = \"x\" }\n"));
        let third = state.snapshot();
        assert_eq!(third.files_parsed, 1);
        let b_then = second.file_id(&b).expect("b.pw");
        let b_now = third.file_id(&b).expect("b.pw");
        assert!(Arc::ptr_eq(&second.analysis.files[b_then.0 as usize], &third.analysis.files[b_now.0 as usize]));
        let reparsed = pw_compiler::parse_file(b_then, second.text(b_then)).ast;
        assert_eq!(second.parsed(b_then).ast, reparsed, "the older snapshot is intact");
        assert_eq!(second.analysis.diagnostics, Vec::new());
        assert_eq!(third.analysis.diagnostics[0].code, "E0301", "b's reference to `n` no longer resolves");
        assert_fresh(&state, &third);
    }

    #[test]
    fn a_file_whose_id_moves_is_parsed_again() {
        let mut state = State::default();
        let b: Uri = "file:///w/b.pw".parse().expect("uri");
        state.open(b.clone(), "pipeline p { stage s { job j { run \"x\" fetch q.r.s } } }\n".into(), 1);
        let first = state.snapshot();
        assert_eq!(first.analysis.diagnostics[0].file, FileId(0));
        // `a.pw` sorts first: b.pw becomes file 1, and its spans and diagnostics must say so.
        state.open("file:///w/a.pw".parse().expect("uri"), "material m { git = \"x\" }\n".into(), 1);
        let second = state.snapshot();
        assert_eq!(second.files_parsed, 2, "b.pw is parsed again as file 1");
        assert_eq!(second.file_id(&b), Some(FileId(1)));
        assert!(second.analysis.diagnostics.iter().all(|d| d.file == FileId(1)), "{:?}", second.analysis.diagnostics);
        assert_fresh(&state, &second);
    }

    #[test]
    fn a_gocd_file_is_read_again_when_another_gocd_file_changes() {
        // GoCD merges the files of a config repository: b.gocd.yaml's dependency on `a` is read
        // against the pipelines of every GoCD file, so it changes when a.gocd.yaml does.
        let mut state = State::default();
        let (a, b): (Uri, Uri) =
            ("file:///w/a.gocd.yaml".parse().expect("uri"), "file:///w/b.gocd.yaml".parse().expect("uri"));
        let pipeline = |name: &str, materials: &str, stage: &str| {
            format!(
                "  {name}:\n    materials:\n{materials}    stages:\n      - {stage}:\n          tasks:\n            - exec:\n                command: make\n"
            )
        };
        let git = "      app:\n        git: https://x.example/a.git\n";
        let upstream = "      up:\n        pipeline: a\n        stage: s\n";
        state.open(a.clone(), format!("pipelines:\n{}", pipeline("other", git, "s")), 1);
        state.open(b.clone(), format!("pipelines:\n{}", pipeline("b", upstream, "t")), 1);
        let first = state.snapshot();
        assert_fresh(&state, &first);
        state.change(&a, 2, whole(&format!("pipelines:\n{}", pipeline("a", git, "s"))));
        let second = state.snapshot();
        assert_fresh(&state, &second);
        let b_id = second.file_id(&b).expect("b.gocd.yaml");
        assert_ne!(first.parsed(b_id).ast, second.parsed(b_id).ast, "b now runs after a");
    }

    #[test]
    fn the_linter_runs_when_its_findings_are_first_wanted() {
        let mut state = State::default();
        let uri: Uri = "file:///w/a.pw".parse().expect("uri");
        state.open(uri, "pipeline p { stage s { job j { run \"x\" } } }\n".into(), 1);
        let snap = state.snapshot();
        assert!(!snap.is_linted(), "building a snapshot does not lint");
        assert!(snap.diagnostics().iter().any(|d| d.code == "L0008"), "{:?}", snap.diagnostics());
        assert!(snap.is_linted());
        state.settings.lint = false;
        state.change(
            &"file:///w/a.pw".parse().expect("uri"),
            2,
            whole("pipeline p { stage s { job j { run \"y\" } } }\n"),
        );
        assert!(state.snapshot().diagnostics().is_empty(), "lint = false: the checker's diagnostics only");
    }
}
