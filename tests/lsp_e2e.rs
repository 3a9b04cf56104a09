//! `pw lsp` driven over stdio as an editor drives it: initialize, open two files, edit, and
//! the published diagnostics, a definition across files, completion, rename and formatting.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

/// An editor's side of the connection.
struct Editor {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    /// Notifications received while waiting for something else.
    notifications: Vec<Value>,
    next_id: i64,
}

impl Editor {
    fn start(root: &std::path::Path) -> Editor {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pw"))
            .arg("lsp")
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("pw lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, incoming) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        Editor { child, stdin, incoming, notifications: Vec::new(), next_id: 1 }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write to server");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its response, answering the server's own requests.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let message = self.receive(deadline);
            if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
                return message;
            }
            self.handle(message);
        }
    }

    fn receive(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        self.incoming.recv_timeout(left).expect("the server answers in time")
    }

    fn handle(&mut self, message: Value) {
        match (message.get("id"), message.get("method")) {
            (Some(id), Some(_)) => {
                let id = id.clone();
                self.send(json!({"jsonrpc": "2.0", "id": id, "result": null}));
            }
            (None, Some(_)) => self.notifications.push(message),
            _ => {}
        }
    }

    /// Waits for diagnostics published for `uri` that satisfy `wanted`.
    fn diagnostics(&mut self, uri: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let found = self.notifications.iter().position(|n| {
                n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"] == uri && wanted(&n["params"])
            });
            if let Some(i) = found {
                return self.notifications.remove(i)["params"].clone();
            }
            let message = self.receive(deadline);
            self.handle(message);
        }
    }

    fn stop(mut self) {
        let response = self.request("shutdown", Value::Null);
        assert!(response.get("error").is_none(), "{response}");
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "pw lsp exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill().ok();
        panic!("pw lsp did not exit after `exit`");
    }
}

impl Drop for Editor {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length: ") {
            length = value.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

const BUILD: &str = r#"material app {
  git = "https://git.example.com/app.git"
}

pipeline build {
  materials = [app]

  stage compile {
    job linux {
      run "make"
      artifact webapp = "out/webapp"
    }
  }

  stage test {
    job unit {
      run "make test"
    }
  }
}
"#;

const DEPLOY: &str = r#"pipeline deploy {
  after = [build.test]

  stage production {
    job ship {
      fetch build.compile.linux.webapp
      run "./ship"
    }
  }
}
"#;

/// How many of the published diagnostics are errors.
fn errors(published: &Value) -> usize {
    published["diagnostics"].as_array().into_iter().flatten().filter(|d| d["severity"] == 1).count()
}

fn position_of(text: &str, needle: &str) -> Value {
    let offset = text.find(needle).expect("needle in text");
    let line = text[..offset].matches('\n').count();
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": column})
}

#[test]
fn an_editing_session_over_stdio() {
    let root = tempfile::tempdir().expect("temporary folder");
    let settings = "[lsp]\ndebounce_ms = 10\ndocs_url = \"https://docs.example.com/pw/\"\n";
    std::fs::write(root.path().join("pipewright.toml"), settings).expect("settings");
    let build_path = root.path().join("build.pw");
    let deploy_path = root.path().join("deploy.pw");
    std::fs::write(&build_path, BUILD).expect("build.pw");
    std::fs::write(&deploy_path, DEPLOY).expect("deploy.pw");
    let uri = |p: &std::path::Path| format!("file://{}", p.display());
    let (build, deploy) = (uri(&build_path), uri(&deploy_path));

    let mut editor = Editor::start(root.path());
    let init =
        editor.request("initialize", json!({"processId": null, "rootUri": uri(root.path()), "capabilities": {}}));
    assert_eq!(init["result"]["capabilities"]["positionEncoding"], "utf-16", "{init}");
    assert_eq!(init["result"]["capabilities"]["renameProvider"]["prepareProvider"], true);
    editor.notify("initialized", json!({}));

    // Open both files: no problems.
    for (uri, text) in [(&build, BUILD), (&deploy, DEPLOY)] {
        editor.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "pipewright", "version": 1, "text": text}}),
        );
    }
    let clean = editor.diagnostics(&deploy, |p| p["version"] == 1);
    assert_eq!(errors(&clean), 0, "{clean}");
    // The linter's findings come with the checker's: these jobs have no timeout.
    assert!(clean["diagnostics"].as_array().into_iter().flatten().any(|d| d["code"] == "L0008"), "{clean}");

    // Break the reference in deploy.pw: the published diagnostics are for version 2.
    let at = position_of(DEPLOY, "webapp");
    let end = json!({"line": at["line"], "character": at["character"].as_u64().unwrap_or(0) + 6});
    editor.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": deploy, "version": 2},
               "contentChanges": [{"range": {"start": at, "end": end}, "text": "webap"}]}),
    );
    let broken = editor.diagnostics(&deploy, |p| p["version"] == 2 && errors(p) > 0);
    let first = &broken["diagnostics"][0];
    assert_eq!(first["code"], "E0403", "{broken}");
    assert_eq!(first["range"]["start"], at, "{broken}");
    assert!(first["message"].as_str().unwrap_or_default().contains("webap"), "{first}");
    assert_eq!(first["codeDescription"]["href"], "https://docs.example.com/pw/reference/errors#e0403", "{first}");

    // Fix it again, then jump from the reference to the artifact in the other file.
    editor.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": deploy, "version": 3}, "contentChanges": [{"text": DEPLOY}]}),
    );
    editor.diagnostics(&deploy, |p| p["version"] == 3 && errors(p) == 0);
    let definition = editor.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": deploy}, "position": position_of(DEPLOY, "webapp")}),
    );
    assert_eq!(definition["result"]["uri"], build.as_str(), "{definition}");
    assert_eq!(definition["result"]["range"]["start"], position_of(BUILD, "webapp = "), "{definition}");

    // Completion after `after = [build.`: the stages of build.
    let typed = DEPLOY.replace("[build.test]", "[build.]");
    editor.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": deploy, "version": 4}, "contentChanges": [{"text": typed}]}),
    );
    let cursor = position_of(&typed, "]");
    let completion =
        editor.request("textDocument/completion", json!({"textDocument": {"uri": deploy}, "position": cursor}));
    let labels: Vec<&str> =
        completion["result"].as_array().into_iter().flatten().filter_map(|i| i["label"].as_str()).collect();
    assert_eq!(labels, ["compile", "test"], "{completion}");
    editor.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": deploy, "version": 5}, "contentChanges": [{"text": DEPLOY}]}),
    );

    // Rename the stage `compile`: its definition and the fetch in the other file.
    let rename = editor.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": build}, "position": position_of(BUILD, "compile"), "newName": "assemble"}),
    );
    let changes = &rename["result"]["changes"];
    assert_eq!(changes[build.as_str()].as_array().map(Vec::len), Some(1), "{rename}");
    assert_eq!(changes[deploy.as_str()][0]["range"]["start"], position_of(DEPLOY, "compile"), "{rename}");
    assert_eq!(changes[deploy.as_str()][0]["newText"], "assemble");
    let taken = editor.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": build}, "position": position_of(BUILD, "compile"), "newName": "test"}),
    );
    assert!(taken["error"]["message"].as_str().unwrap_or_default().contains("already"), "{taken}");

    // Formatting a messy document returns the edits to the canonical layout.
    let messy = BUILD.replace("  git = ", "      git     =   ");
    editor.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": build, "version": 2}, "contentChanges": [{"text": messy}]}),
    );
    let formatting = editor.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": build}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let edits = formatting["result"].as_array().cloned().unwrap_or_default();
    assert_eq!(edits.len(), 1, "{formatting}");
    assert_eq!(edits[0]["range"]["start"], json!({"line": 1, "character": 0}));
    assert_eq!(edits[0]["newText"], "  git = \"https://git.example.com/app.git\"\n");

    editor.stop();
}
