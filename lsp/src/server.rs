//! The LSP front: receives the editor's requests and notifications, keeps the [`State`] up to
//! date, and answers from a [`Snapshot`] with the plain functions of [`crate::features`].
//! Diagnostics are published after a quiet period (the debounce), never for a document version
//! older than one already seen.

use crate::features::{
    actions, completion, diagnostics, folding, formatting, hover, inlay, navigation, symbols, tokens,
};
use crate::position::Encoding;
use crate::state::{Snapshot, State};
use pw_compiler::FileId;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

pub struct Backend {
    client: Client,
    state: Arc<Mutex<State>>,
    /// Bumped on every change; a debounced check runs only if no change came after it.
    generation: Arc<AtomicU64>,
    /// What was last published for each document.
    published: Arc<tokio::sync::Mutex<HashMap<Uri, Published>>>,
}

struct Published {
    version: Option<i32>,
    diagnostics: Vec<Diagnostic>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs the linter of `snap` on a thread of its own with a lower priority than the server's
/// other threads: on a machine with few cores, a request sent meanwhile (which needs only the
/// checked program) is not kept waiting behind it. A panic in the linter is passed on.
fn lint_behind_requests(snap: &Arc<Snapshot>) {
    let linted = snap.clone();
    let spawned = std::thread::Builder::new().name("pw-lint".into()).spawn(move || {
        lower_priority();
        linted.diagnostics();
    });
    match spawned {
        Ok(thread) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(_) => {
            snap.diagnostics();
        }
    }
}

/// Gives the calling thread (and the threads it starts) the nice value 10. Linux keeps a nice
/// value per thread; elsewhere it is the process's, which must not change.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: `setpriority` on the calling thread only (`gettid`); it reads no memory of ours.
    unsafe {
        let thread = libc::gettid() as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, thread, 10);
    }
}

impl Backend {
    pub fn new(client: Client) -> Self {
        Backend {
            client,
            state: Arc::new(Mutex::new(State::default())),
            generation: Arc::new(AtomicU64::new(0)),
            published: Arc::new(tokio::sync::Mutex::new(HashMap::new())),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Checks the workspace at once, for the requests to come, and publishes its diagnostics
    /// once no change has come for the debounce period.
    fn schedule_diagnostics(&self) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let debounce = Duration::from_millis(self.state().settings.debounce_ms);
        let (client, state, latest, published) =
            (self.client.clone(), self.state.clone(), self.generation.clone(), self.published.clone());
        if !debounce.is_zero() {
            // Unless a newer change has come by the time the lock is free (its own check
            // follows): a burst of changes is checked once, and checks queued behind a running
            // one give way at once.
            let (checked, newest) = (state.clone(), latest.clone());
            tokio::task::spawn_blocking(move || {
                let mut state = lock(&checked);
                if newest.load(Ordering::SeqCst) == generation {
                    state.snapshot();
                }
            });
        }
        tokio::spawn(async move {
            tokio::time::sleep(debounce).await;
            if latest.load(Ordering::SeqCst) != generation {
                return;
            }
            let (analysed, newest) = (state.clone(), latest.clone());
            // The checker's snapshot is built under the lock (requests share it); the linter
            // runs outside it, unless a newer change has already made this check pointless.
            let checked = tokio::task::spawn_blocking(move || {
                let snap = lock(&analysed).snapshot();
                let current = newest.load(Ordering::SeqCst) == generation;
                current.then(|| {
                    lint_behind_requests(&snap);
                    snap
                })
            });
            let snap = match checked.await {
                Ok(Some(snap)) => snap,
                Ok(None) => return,
                Err(e) => {
                    client.log_message(MessageType::ERROR, format!("checking the workspace failed: {e}")).await;
                    return;
                }
            };
            publish(&client, &state, &published, &snap).await;
        });
    }

    /// Runs `f` on the current snapshot off the async threads. A panic in `f` becomes an error
    /// response and a log message, not a crash.
    async fn with_snapshot<T: Send + 'static>(
        &self,
        request: &str,
        f: impl FnOnce(&Snapshot) -> T + Send + 'static,
    ) -> Result<T> {
        let state = self.state.clone();
        let answer = move || {
            let snap = lock(&state).snapshot();
            f(&snap)
        };
        match tokio::task::spawn_blocking(answer).await {
            Ok(value) => Ok(value),
            Err(e) => {
                let message = format!("{request} failed: {e}");
                self.client.log_message(MessageType::ERROR, &message).await;
                Err(Error { message: message.into(), ..Error::internal_error() })
            }
        }
    }

    /// Like [`Self::with_snapshot`], for a request about a position in a document.
    async fn at<T: Send + 'static>(
        &self,
        request: &str,
        doc: &TextDocumentPositionParams,
        f: impl FnOnce(&Snapshot, FileId, usize) -> Option<T> + Send + 'static,
    ) -> Result<Option<T>> {
        let (uri, position) = (doc.text_document.uri.clone(), doc.position);
        self.with_snapshot(request, move |snap| {
            let file = snap.file_id(&uri)?;
            f(snap, file, snap.offset(file, position))
        })
        .await
    }

    /// Like [`Self::with_snapshot`], for a request about a whole document.
    async fn in_doc<T: Send + 'static>(
        &self,
        request: &str,
        uri: &Uri,
        f: impl FnOnce(&Snapshot, FileId) -> Option<T> + Send + 'static,
    ) -> Result<Option<T>> {
        let uri = uri.clone();
        self.with_snapshot(request, move |snap| f(snap, snap.file_id(&uri)?)).await
    }

    async fn log(&self, message: impl std::fmt::Display) {
        self.client.log_message(MessageType::INFO, message).await;
    }
}

/// Publishes the snapshot's diagnostics for every document whose version it still matches and
/// whose diagnostics or version differ from those last published, and clears the documents that
/// no longer have any.
async fn publish(
    client: &Client,
    state: &Mutex<State>,
    published: &tokio::sync::Mutex<HashMap<Uri, Published>>,
    snap: &Snapshot,
) {
    let mut published = published.lock().await;
    let batches = diagnostics::by_document(snap);
    let current: HashMap<Uri, Option<i32>> = {
        let state = lock(state);
        batches.iter().map(|(uri, _, _)| (uri.clone(), state.version(uri))).collect()
    };
    let mut seen = Vec::new();
    for (uri, version, items) in batches {
        seen.push(uri.clone());
        let newer_text = current.get(&uri).copied().flatten() > version;
        let newer_published = published.get(&uri).is_some_and(|p| p.version > version);
        if newer_text || newer_published {
            continue;
        }
        // An open document hears once about each of its versions; a file on disk when it has
        // diagnostics, and again when they change.
        let last = published.get(&uri);
        let known = last.is_some_and(|p| p.version == version && p.diagnostics == items);
        let clean_on_disk = version.is_none() && items.is_empty() && last.is_none();
        if known || clean_on_disk {
            continue;
        }
        client.publish_diagnostics(uri.clone(), items.clone(), version).await;
        published.insert(uri, Published { version, diagnostics: items });
    }
    let gone: Vec<Uri> = published.keys().filter(|u| !seen.contains(u)).cloned().collect();
    for uri in gone {
        if published.remove(&uri).is_some_and(|p| !p.diagnostics.is_empty()) {
            client.publish_diagnostics(uri, Vec::new(), None).await;
        }
    }
}

fn roots(params: &InitializeParams) -> Vec<PathBuf> {
    let folders = params.workspace_folders.iter().flatten().map(|f| &f.uri);
    #[allow(deprecated)]
    let root = params.root_uri.iter();
    folders.chain(root).filter_map(|u| u.to_file_path().map(|p| p.into_owned())).take(16).collect()
}

fn capabilities(encoding: Encoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(encoding.kind()),
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::INCREMENTAL),
            save: Some(TextDocumentSyncSaveOptions::Supported(true)),
            ..TextDocumentSyncOptions::default()
        })),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), "=".into(), " ".into()]),
            ..CompletionOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        document_symbol_provider: Some(OneOf::Left(true)),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_range_formatting_provider: Some(OneOf::Left(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: tokens::legend(),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                range: Some(true),
                work_done_progress_options: WorkDoneProgressOptions::default(),
            },
        )),
        folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
        inlay_hint_provider: Some(OneOf::Left(true)),
        workspace: Some(WorkspaceServerCapabilities {
            workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                supported: Some(true),
                change_notifications: Some(OneOf::Left(true)),
            }),
            file_operations: None,
        }),
        ..ServerCapabilities::default()
    }
}

fn watchers() -> Registration {
    let watch = |glob: &str| FileSystemWatcher { glob_pattern: GlobPattern::String(glob.into()), kind: None };
    let options = DidChangeWatchedFilesRegistrationOptions {
        watchers: vec![watch("**/*.pw"), watch("**/*.gocd.yaml"), watch("**/*.gocd.yml"), watch("**/pipewright.toml")],
    };
    Registration {
        id: "pipewright-files".into(),
        method: "workspace/didChangeWatchedFiles".into(),
        register_options: serde_json::to_value(options).ok(),
    }
}

fn is_settings_file(uri: &Uri) -> bool {
    uri.path().as_str().ends_with("/pipewright.toml")
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let offered = params.capabilities.general.as_ref().and_then(|g| g.position_encodings.as_deref());
        let encoding = Encoding::negotiate(offered);
        let problem = {
            let mut state = self.state();
            *state = State::new(roots(&params), encoding);
            let problem = state.reload_settings();
            state.scan_roots();
            problem
        };
        if let Some(problem) = problem {
            self.client.log_message(MessageType::WARNING, format!("ignoring settings: {problem}")).await;
        }
        Ok(InitializeResult {
            capabilities: capabilities(encoding),
            server_info: Some(ServerInfo { name: "pw lsp".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
            ..InitializeResult::default()
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let files = self.state().disk.len();
        self.log(format!("Pipewright language server ready; {files} .pw files in the workspace")).await;
        if self.client.register_capability(vec![watchers()]).await.is_err() {
            self.log("the editor does not watch files for the server; changes on disk are seen when saved").await;
        }
        self.schedule_diagnostics();
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        self.state().open(doc.uri, doc.text, doc.version);
        self.schedule_diagnostics();
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let doc = params.text_document;
        self.state().change(&doc.uri, doc.version, params.content_changes);
        self.schedule_diagnostics();
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        if is_settings_file(&params.text_document.uri) {
            self.did_change_watched_files(DidChangeWatchedFilesParams {
                changes: vec![FileEvent { uri: params.text_document.uri, typ: FileChangeType::CHANGED }],
            })
            .await;
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        self.state().close(&params.text_document.uri);
        self.schedule_diagnostics();
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let mut problems = Vec::new();
        {
            let mut state = self.state();
            for change in params.changes {
                if is_settings_file(&change.uri) {
                    problems.extend(state.reload_settings());
                } else if !state.open.contains_key(&change.uri) {
                    state.reload_from_disk(&change.uri);
                }
            }
        }
        for problem in problems {
            self.client.show_message(MessageType::WARNING, format!("ignoring settings: {problem}")).await;
        }
        self.schedule_diagnostics();
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        {
            let mut state = self.state();
            let removed: Vec<PathBuf> =
                params.event.removed.iter().filter_map(|f| f.uri.to_file_path().map(|p| p.into_owned())).collect();
            state.roots.retain(|r| !removed.contains(r));
            let added = params.event.added.iter().filter_map(|f| f.uri.to_file_path().map(|p| p.into_owned()));
            state.roots.extend(added);
            state.scan_roots();
        }
        self.schedule_diagnostics();
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        self.at("hover", &params.text_document_position_params, hover::hover).await
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        self.at("completion", &params.text_document_position, |snap, file, offset| {
            Some(CompletionResponse::Array(completion::complete(snap, file, offset)))
        })
        .await
    }

    async fn goto_definition(&self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>> {
        self.at("definition", &params.text_document_position_params, |snap, file, offset| {
            navigation::definition(snap, file, offset).map(GotoDefinitionResponse::Scalar)
        })
        .await
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let declaration = params.context.include_declaration;
        self.at("references", &params.text_document_position, move |snap, file, offset| {
            navigation::references(snap, file, offset, declaration)
        })
        .await
    }

    async fn prepare_rename(&self, params: TextDocumentPositionParams) -> Result<Option<PrepareRenameResponse>> {
        self.at("prepareRename", &params, |snap, file, offset| {
            navigation::prepare_rename(snap, file, offset).map(PrepareRenameResponse::Range)
        })
        .await
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let name = params.new_name;
        let result = self
            .at("rename", &params.text_document_position, move |snap, file, offset| {
                Some(navigation::rename(snap, file, offset, &name))
            })
            .await?;
        match result {
            None => Ok(None),
            Some(Ok(edit)) => Ok(Some(edit)),
            Some(Err(reason)) => Err(Error::invalid_params(reason)),
        }
    }

    async fn document_symbol(&self, params: DocumentSymbolParams) -> Result<Option<DocumentSymbolResponse>> {
        self.in_doc("documentSymbol", &params.text_document.uri, |snap, file| {
            Some(DocumentSymbolResponse::Nested(symbols::document(snap, file)))
        })
        .await
    }

    async fn symbol(&self, params: WorkspaceSymbolParams) -> Result<Option<WorkspaceSymbolResponse>> {
        self.with_snapshot("workspaceSymbol", move |snap| {
            Some(WorkspaceSymbolResponse::Nested(symbols::workspace(snap, &params.query)))
        })
        .await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let range = params.range;
        self.in_doc("codeAction", &params.text_document.uri, move |snap, file| {
            Some(actions::code_actions(snap, file, range))
        })
        .await
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        self.in_doc("formatting", &params.text_document.uri, |snap, file| formatting::document(snap, file, None)).await
    }

    async fn range_formatting(&self, params: DocumentRangeFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        let range = params.range;
        self.in_doc("rangeFormatting", &params.text_document.uri, move |snap, file| {
            formatting::document(snap, file, Some(range))
        })
        .await
    }

    async fn semantic_tokens_full(&self, params: SemanticTokensParams) -> Result<Option<SemanticTokensResult>> {
        self.in_doc("semanticTokens", &params.text_document.uri, |snap, file| {
            Some(SemanticTokensResult::Tokens(tokens::semantic_tokens(snap, file, None)))
        })
        .await
    }

    async fn semantic_tokens_range(
        &self,
        params: SemanticTokensRangeParams,
    ) -> Result<Option<SemanticTokensRangeResult>> {
        let range = params.range;
        self.in_doc("semanticTokens", &params.text_document.uri, move |snap, file| {
            let span = snap.encoding.span(snap.source(file), range);
            Some(SemanticTokensRangeResult::Tokens(tokens::semantic_tokens(snap, file, Some(span))))
        })
        .await
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        self.in_doc("foldingRange", &params.text_document.uri, |snap, file| Some(folding::ranges(snap, file))).await
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let range = params.range;
        self.in_doc("inlayHint", &params.text_document.uri, move |snap, file| {
            if !snap.settings.inlay_hints {
                return Some(Vec::new());
            }
            let span = snap.encoding.span(snap.source(file), range);
            Some(inlay::hints(snap, file, span))
        })
        .await
    }
}

#[cfg(all(test, target_os = "linux"))]
mod priority_tests {
    /// The nice value of the calling thread.
    fn nice() -> i32 {
        // SAFETY: reads the calling thread's nice value.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[test]
    fn the_linter_thread_yields_to_the_others_and_leaves_their_priority_alone() {
        let before = nice();
        let linter = std::thread::spawn(|| {
            let own = nice();
            super::lower_priority();
            (own, nice(), std::thread::spawn(nice).join().unwrap_or(i32::MIN))
        });
        let (own, lowered, started_by_it) = linter.join().unwrap();
        assert_eq!(own, before);
        assert_eq!(lowered, (before + 10).min(19), "the linter's thread is lowered");
        assert_eq!(started_by_it, lowered, "and so are the threads it starts");
        assert_eq!(nice(), before, "the server's other threads keep their priority");
    }
}
