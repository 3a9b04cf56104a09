//! A scripted editing session against the language server, in process over in-memory pipes with
//! the protocol's framing, on a workspace of 10 files and about 5,000 lines:
//!
//! - diagnostics: from sending a `didChange` to receiving its `publishDiagnostics`, with the
//!   debounce set to 0 ms (so the figure is the server's own work);
//! - hover and completion: request to response, while the session edits, hovers and completes.
//!
//! ```text
//! cargo bench -p pw-lsp --bench session
//! ```

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::DuplexStream;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, ReadHalf, WriteHalf};

/// The compiler's benchmark generator; this bench uses only part of it.
#[allow(dead_code)]
#[path = "../../compiler/benches/common/mod.rs"]
mod common;

const EDITS: usize = 200;

struct Client {
    reader: BufReader<ReadHalf<DuplexStream>>,
    writer: WriteHalf<DuplexStream>,
    next_id: i64,
    /// Diagnostics that arrived while waiting for something else.
    pending: Vec<Value>,
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
                self.pending.push(message);
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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let shape = common::Shape { files: 10, stages: 6, jobs: 13, tasks: 3 };
    let files = common::generate(&shape);
    let (lines, bytes) = common::size(&files);
    let root = tempfile::tempdir().expect("temporary folder");
    std::fs::write(root.path().join("pipewright.toml"), "[lsp]\ndebounce_ms = 0\n").expect("settings");
    for (path, text) in &files {
        let path = root.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
        std::fs::write(path, text).expect("file");
    }
    println!("workspace: {} files, {lines} lines, {} KB", files.len(), bytes / 1024);

    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let (server_read, server_write) = tokio::io::split(server_io);
    tokio::spawn(pw_lsp::serve(server_read, server_write));
    let (read, writer) = tokio::io::split(client_io);
    let mut client = Client { reader: BufReader::new(read), writer, next_id: 1, pending: Vec::new() };

    let root_uri = format!("file://{}", root.path().display());
    client.request("initialize", json!({"processId": null, "rootUri": root_uri, "capabilities": {}})).await;
    client.notify("initialized", json!({})).await;

    // The session edits the last file: its text and URI.
    let (path, original) = files.last().cloned().expect("files");
    let uri = format!("file://{}", root.path().join(&path).display());
    client
        .notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "pipewright", "version": 1, "text": original}}),
        )
        .await;
    client.until(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["version"] == 1).await;

    let (mut diagnostics, mut hovers, mut cold_hovers, mut completions) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut text = original.clone();
    for i in 0..EDITS {
        let version = i as i64 + 2;
        // Toggle a run command's text: a real edit that changes the tree and the plan.
        text = if i % 2 == 0 { text.replacen("cargo build", "cargo check", 1) } else { original.clone() };
        // A hover straight after an edit waits for the analysis of the new text.
        client
            .notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
            )
            .await;
        let sent = Instant::now();
        if i % 4 == 3 {
            let at = position_of(&text, "stage ", i % 6, 7);
            let (_, took) =
                client.request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": at})).await;
            cold_hovers.push(took);
        }
        client
            .until(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["version"] == json!(version))
            .await;
        diagnostics.push(sent.elapsed());
        for k in 0..3 {
            let at = position_of(&text, "job ", (i * 3 + k) % 30, 5);
            let (response, took) =
                client.request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": at})).await;
            assert!(response["result"].is_object(), "a hover: {response}");
            hovers.push(took);
        }
        for k in 0..3 {
            let at = position_of(&text, "fetch ", (i + k) % 20, 6);
            let (response, took) =
                client.request("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": at})).await;
            assert!(response["result"].as_array().is_some_and(|a| !a.is_empty()), "completions: {response}");
            completions.push(took);
        }
    }
    report("didChange -> publishDiagnostics (no debounce)", &mut diagnostics);
    report("hover", &mut hovers);
    report("hover right after an edit (re-analyses)", &mut cold_hovers);
    report("completion", &mut completions);
    client.request("shutdown", Value::Null).await;
    client.notify("exit", Value::Null).await;
    // The server's task ends with the process.
    std::process::exit(0);
}
