//! A scripted editing session against the language server, in process over in-memory pipes with
//! the protocol's framing, on a workspace of 10 files and about 5,000 lines:
//!
//! - diagnostics: from sending a `didChange` to receiving its `publishDiagnostics`, with the
//!   debounce set to 0 ms (so the figure is the server's own work);
//! - hover and completion sent right after a `didChange`, before the server has analysed the new
//!   text, and again once it has: request to response.
//!
//! Before the session, the cost of each stage of the analysis on the same workspace.
//!
//! ```text
//! cargo bench -p pw-lsp --bench session
//! ```

use pw_lsp::position::Encoding;
use pw_lsp::state::State;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::DuplexStream;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, ReadHalf, WriteHalf};
use tower_lsp_server::ls_types::TextDocumentContentChangeEvent;

/// The compiler's benchmark generator; this bench uses only part of it.
#[allow(dead_code)]
#[path = "../../compiler/benches/common/mod.rs"]
mod common;

/// The allocator of the `pw` binary, so that the figures are those of `pw lsp`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EDITS: usize = 400;
/// Runs of each stage in the per-stage figures.
const STAGE_RUNS: usize = 100;

struct Client {
    reader: BufReader<ReadHalf<DuplexStream>>,
    writer: WriteHalf<DuplexStream>,
    next_id: i64,
    /// Diagnostics of the edited document that arrived while waiting for something else.
    pending: Vec<Value>,
    /// The edited document: the diagnostics of the others are read and dropped.
    edited: String,
}

impl Client {
    async fn send(&mut self, message: Value) {
        let body = message.to_string();
        let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.writer.write_all(frame.as_bytes()).await.expect("write");
    }

    async fn read(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await.expect("read header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().expect("length");
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await.expect("read body");
        serde_json::from_slice(&body).expect("json")
    }

    /// Reads until `wanted` matches, answering the server's requests on the way.
    async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&wanted) {
            return self.pending.remove(i);
        }
        loop {
            let message = self.read().await;
            if wanted(&message) {
                return message;
            }
            if message["method"] == "textDocument/publishDiagnostics" {
                if message["params"]["uri"] == self.edited.as_str() {
                    self.pending.push(message);
                }
                continue;
            }
            if let (Some(id), Some(_)) = (message.get("id"), message.get("method")) {
                let id = id.clone();
                self.send(json!({"jsonrpc": "2.0", "id": id, "result": null})).await;
            }
        }
    }

    async fn request(&mut self, method: &str, params: Value) -> (Value, Duration) {
        let id = self.next_id;
        self.next_id += 1;
        let start = Instant::now();
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await;
        let response = self.until(|m| m.get("id") == Some(&json!(id)) && m.get("method").is_none()).await;
        (response, start.elapsed())
    }

    async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params})).await;
    }
}

/// The position `delta` characters after the `nth` occurrence of `needle`.
fn position_of(text: &str, needle: &str, nth: usize, delta: usize) -> Value {
    let offset = text.match_indices(needle).nth(nth).map(|(i, _)| i).expect("needle");
    let line = text[..offset].matches('\n').count();
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": column + delta})
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

/// The median time of `f` over [`STAGE_RUNS`] runs.
fn median_of<T>(mut f: impl FnMut() -> T) -> Duration {
    let mut samples: Vec<Duration> = (0..STAGE_RUNS)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    percentile(&mut samples, 0.5)
}

/// The time of each stage of the server's analysis on the workspace: what a request after an
/// edit waits for, and what the diagnostics wait for besides.
fn stages(files: &[(String, String)]) {
    let workspace = common::workspace(files);
    let ids: Vec<pw_compiler::FileId> = workspace.ids().collect();
    let lex =
        median_of(|| ids.iter().map(|&id| pw_compiler::lexer::lex(id, &workspace.file(id).text)).collect::<Vec<_>>());
    let parse = || ids.iter().map(|&id| pw_compiler::parse_file(id, &workspace.file(id).text)).collect::<Vec<_>>();
    let shared = || parse().into_iter().map(std::sync::Arc::new).collect();
    let parse_all = median_of(parse);
    let last = *ids.last().expect("files");
    let parse_one = median_of(|| pw_compiler::parse_file(last, &workspace.file(last).text));
    let check = median_of(|| pw_compiler::analyze_parsed(&workspace, shared()));
    let first = pw_compiler::analyze_again(&workspace, shared(), None);
    let again = median_of(|| {
        let mut files = first.files.clone();
        files[last.0 as usize] = std::sync::Arc::new(pw_compiler::parse_file(last, &workspace.file(last).text));
        pw_compiler::analyze_again(&workspace, files, first.kept.as_deref())
    });
    let analysis = pw_compiler::analyze(&workspace);
    let uris: Vec<tower_lsp_server::ls_types::Uri> =
        files.iter().map(|(path, _)| format!("file:///ws/{path}").parse().expect("uri")).collect();
    let lint = median_of(|| pw_lsp::lints::lint(&workspace, &analysis, &Default::default(), &uris));

    // The server's own snapshots: from scratch, and after an edit of one file.
    let mut state = State::new(Vec::new(), Encoding::Utf16);
    for (uri, (_, text)) in uris.iter().zip(files) {
        state.open(uri.clone(), text.clone(), 1);
    }
    let (uri, text) = (uris.last().expect("files"), &files.last().expect("files").1);
    let mut version = 1;
    let mut edit = |state: &mut State| {
        version += 1;
        let changed = if version % 2 == 0 { text.replacen("cargo build", "cargo check", 1) } else { text.clone() };
        let change = TextDocumentContentChangeEvent { range: None, range_length: None, text: changed };
        state.change(uri, version, vec![change]);
    };
    let mut fresh = Vec::new();
    let mut after_edit = Vec::new();
    for _ in 0..STAGE_RUNS {
        edit(&mut state);
        let start = Instant::now();
        let snap = state.snapshot();
        after_edit.push(start.elapsed());
        drop(snap);
        let start = Instant::now();
        std::hint::black_box(pw_compiler::analyze(&state.snapshot().workspace));
        fresh.push(start.elapsed());
    }
    // The same, while the previous snapshot is still held (by the linter, or a request).
    let mut while_held = Vec::new();
    for _ in 0..STAGE_RUNS {
        let held = state.snapshot();
        edit(&mut state);
        let start = Instant::now();
        let snap = state.snapshot();
        while_held.push(start.elapsed());
        drop((snap, held));
    }
    let ms = |d: Duration| format!("{:>7.2} ms", d.as_secs_f64() * 1000.0);
    println!("per stage, median of {STAGE_RUNS} runs:");
    println!("  lex, 10 files                                  {}", ms(lex));
    println!("  lex + parse, 10 files                          {}", ms(parse_all));
    println!("  lex + parse, the edited file                   {}", ms(parse_one));
    println!("  parse + check, 10 files                        {}", ms(check));
    println!("  parse + check of the edited file, the others kept {}", ms(again));
    println!("  lint                                           {}", ms(lint));
    println!("  analyse from scratch (parse on 2 threads + check) {}", ms(percentile(&mut fresh, 0.5)));
    println!("  server snapshot after an edit of one file      {}", ms(percentile(&mut after_edit, 0.5)));
    println!("  the same, the previous snapshot still held     {}", ms(percentile(&mut while_held, 0.5)));
}

fn report(name: &str, samples: &mut [Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (p50, p99, max) = (percentile(samples, 0.5), percentile(samples, 0.99), percentile(samples, 1.0));
    println!(
        "{name:<44} n={:<5} median {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
        samples.len(),
        ms(p50),
        ms(p99),
        ms(max)
    );
}

/// A server started on the workspace, written to a temporary folder with `pipewright.toml`, and
/// the document the session edits (the workspace's last file), open.
struct Session {
    client: Client,
    uri: String,
    text: String,
    version: i64,
    _root: tempfile::TempDir,
}

impl Session {
    async fn start(files: &[(String, String)], settings: &str) -> Session {
        let root = tempfile::tempdir().expect("temporary folder");
        std::fs::write(root.path().join("pipewright.toml"), settings).expect("settings");
        for (path, text) in files {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
            std::fs::write(path, text).expect("file");
        }
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let (server_read, server_write) = tokio::io::split(server_io);
        tokio::spawn(pw_lsp::serve(server_read, server_write));
        let (read, writer) = tokio::io::split(client_io);
        let (path, text) = files.last().cloned().expect("files");
        let uri = format!("file://{}", root.path().join(&path).display());
        let mut client =
            Client { reader: BufReader::new(read), writer, next_id: 1, pending: Vec::new(), edited: uri.clone() };

        let root_uri = format!("file://{}", root.path().display());
        client.request("initialize", json!({"processId": null, "rootUri": root_uri, "capabilities": {}})).await;
        client.notify("initialized", json!({})).await;
        client
            .notify(
                "textDocument/didOpen",
                json!({"textDocument": {"uri": uri, "languageId": "pipewright", "version": 1, "text": text}}),
            )
            .await;
        let mut session = Session { client, uri, text, version: 1, _root: root };
        session.diagnostics().await;
        session
    }

    /// Toggles a word of a run command, as an editor sends it (the changed range only): a real
    /// edit that changes the tree and the plan.
    async fn edit(&mut self) {
        self.version += 1;
        let (old, new) = if self.version % 2 == 0 { ("build", "check") } else { ("check", "build") };
        let start = position_of(&self.text, &format!("cargo {old}"), 0, 6);
        let end = json!({"line": start["line"], "character": start["character"].as_u64().unwrap_or(0) + 5});
        self.text = self.text.replacen(&format!("cargo {old}"), &format!("cargo {new}"), 1);
        let change = json!({"range": {"start": start, "end": end}, "text": new});
        let params = json!({"textDocument": {"uri": self.uri, "version": self.version}, "contentChanges": [change]});
        self.client.notify("textDocument/didChange", params).await;
    }

    /// Waits for the diagnostics of the current version.
    async fn diagnostics(&mut self) {
        let version = json!(self.version);
        self.client
            .until(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["version"] == version)
            .await;
    }

    /// Hovers over the name of the `nth` job (of 78 in the file).
    async fn hover(&mut self, nth: usize) -> Duration {
        let at = position_of(&self.text, "job ", nth % 78, 5);
        let params = json!({"textDocument": {"uri": self.uri}, "position": at});
        let (response, took) = self.client.request("textDocument/hover", params).await;
        assert!(response["result"].is_object(), "a hover: {response}");
        took
    }

    /// Completes after `fetch ` in the `nth` fetch task (of 65 in the file).
    async fn complete(&mut self, nth: usize) -> Duration {
        let at = position_of(&self.text, "fetch ", nth % 65, 6);
        let params = json!({"textDocument": {"uri": self.uri}, "position": at});
        let (response, took) = self.client.request("textDocument/completion", params).await;
        assert!(response["result"].as_array().is_some_and(|a| !a.is_empty()), "completions: {response}");
        took
    }

    async fn stop(mut self) {
        self.client.request("shutdown", Value::Null).await;
        self.client.notify("exit", Value::Null).await;
    }
}

/// The process's resident memory now and at its peak, from `/proc/self/status`.
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).map_or("?".to_string(), |v| v.trim().to_string())
    };
    format!("resident {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let shape = common::Shape { files: 10, stages: 6, jobs: 13, tasks: 3 };
    let files = common::generate(&shape);
    let (lines, bytes) = common::size(&files);
    println!("workspace: {} files, {lines} lines, {} KB", files.len(), bytes / 1024);
    stages(&files);

    // No debounce: the check and the linter start at each edit, and the requests sent right
    // after it share the two cores with the linter.
    let mut session = Session::start(&files, "[lsp]\ndebounce_ms = 0\n").await;
    let (mut diagnostics, mut hovers, mut completions) = (Vec::new(), Vec::new(), Vec::new());
    let (mut hovers_after_edit, mut completions_after_edit) = (Vec::new(), Vec::new());
    for i in 0..EDITS {
        session.edit().await;
        let sent = Instant::now();
        if i % 2 == 0 {
            hovers_after_edit.push(session.hover(i).await);
        } else {
            completions_after_edit.push(session.complete(i).await);
        }
        session.diagnostics().await;
        diagnostics.push(sent.elapsed());
        for k in 1..4 {
            hovers.push(session.hover(i * 3 + k).await);
            completions.push(session.complete(i * 3 + k).await);
        }
    }
    session.stop().await;
    // The process holds the server and this client; the client keeps only the files' text.
    println!("memory after {EDITS} edits: {}", memory());
    println!("no debounce, {EDITS} edits:");
    report("didChange -> publishDiagnostics", &mut diagnostics);
    report("hover right after an edit", &mut hovers_after_edit);
    report("completion right after an edit", &mut completions_after_edit);
    report("hover, text analysed", &mut hovers);
    report("completion, text analysed", &mut completions);

    // Typing with the default debounce: an edit every 30 ms, each followed at once by a request;
    // the linter waits for the typing to pause.
    let mut session = Session::start(&files, "").await;
    let (mut hovers_typing, mut completions_typing) = (Vec::new(), Vec::new());
    for i in 0..EDITS {
        session.edit().await;
        if i % 2 == 0 {
            hovers_typing.push(session.hover(i).await);
        } else {
            completions_typing.push(session.complete(i).await);
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    session.diagnostics().await;
    session.stop().await;
    println!("typing, an edit every 30 ms, debounce 150 ms, {EDITS} edits:");
    report("hover right after an edit", &mut hovers_typing);
    report("completion right after an edit", &mut completions_typing);
    // The servers' tasks end with the process.
    std::process::exit(0);
}
