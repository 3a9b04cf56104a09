//! The dashboard in a real browser: Debian's headless `chromium`, driven over WebDriver by
//! `chromedriver`, against a `pw server` process with two `pw agent` processes. In this order:
//! stage cells change colour live with no reload, a manual stage is approved from the page, a
//! failed job is rerun from its page, a job page shows a running task's log as it is written, and
//! the value stream map shows the downstream pipeline. Screenshots of each page are kept under
//! `target/dashboard-screenshots/`, and no page overflows horizontally at 1280×800 or 390×844.
//!
//! Without a browser the test is skipped, unless `CI` is set: there it fails.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(program: &str, args: &[&str], dir: &Path, log: &str) -> Proc {
    let out = std::fs::File::create(dir.join(log)).expect("log file");
    let child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    Proc(child)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("port").port()
}

fn workspace(dir: &Path) {
    let mark = dir.join("flaky-ran-once");
    let pw = format!(
        r#"
pipeline app {{
  stage build {{
    job compile {{
      run "sleep 1; echo preparing"
      run "for i in 1 2 3 4 5 6 7 8; do echo line-$i; sleep 0.5; done"
    }}
  }}
  stage deploy {{
    approval = manual
    job ship {{ run "echo shipped" }}
  }}
  stage verify {{
    job flaky {{ run "if [ -f {mark} ]; then echo second attempt passes; else touch {mark}; echo first attempt fails; exit 1; fi" }}
  }}
}}

pipeline notify {{
  after = [app.deploy]
  stage tell {{
    job chat {{ run "echo told" }}
  }}
}}
"#,
        mark = mark.display()
    );
    std::fs::write(dir.join("ci.pw"), pw).expect("workspace");
}

/// A WebDriver session on chromedriver.
struct Browser {
    http: reqwest::Client,
    session: String,
    shots: PathBuf,
}

impl Browser {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("webdriver {path}: {e}"));
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "webdriver {path}: {status} {v}");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    async fn js(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": [] }))).await
    }

    /// Waits (up to `secs`) for `expr` to be true in the page, then checks the page was not
    /// reloaded since `mark` was set (when `live`).
    async fn wait_for(&self, expr: &str, what: &str, secs: u64, live: bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if self.js(&format!("return !!({expr});")).await == json!(true) {
                break;
            }
            if Instant::now() > deadline {
                let body = self.js("return document.querySelector('main') ? document.querySelector('main').innerText : document.body.innerText;").await;
                self.screenshot(&format!("failed-{}", what.replace(' ', "-"))).await;
                panic!("{what}: not seen within {secs}s; the page shows:\n{}", body.as_str().unwrap_or(""));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if live {
            assert_eq!(self.js("return window.__pwMark === true;").await, json!(true), "{what}: the page was reloaded");
        }
    }

    /// Marks the page, so that a reload (which loses the mark) is seen.
    async fn mark(&self) {
        self.js("window.__pwMark = true; return true;").await;
    }

    async fn resize(&self, width: u32, height: u32) {
        self.call(reqwest::Method::POST, "/window/rect", Some(json!({ "width": width, "height": height }))).await;
    }

    async fn screenshot(&self, name: &str) {
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        if let Some(png) = data.as_str().and_then(base64) {
            let _ = std::fs::write(self.shots.join(format!("{name}.png")), png);
        }
    }

    async fn close(&self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

/// Standard base64 without line breaks (WebDriver's screenshots).
fn base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let bytes: Vec<u8> = text.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for group in bytes.chunks(4) {
        let v: Vec<u8> = group.iter().map(|c| value(*c)).collect::<Option<_>>()?;
        let n = v.iter().enumerate().fold(0u32, |n, (i, x)| n | (u32::from(*x) << (18 - 6 * i)));
        out.extend(n.to_be_bytes()[1..v.len()].iter());
    }
    Some(out)
}

/// Starts chromedriver and a headless session; `Err` says why there is no browser.
async fn browser(dir: &Path, shots: PathBuf) -> Result<(Proc, Browser), String> {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        return Err(format!("{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"));
    }
    let port = free_port();
    let driver = spawn(CHROMEDRIVER, &[&format!("--port={port}")], dir, "chromedriver.log");
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while http.get(format!("{base}/status")).send().await.is_err() {
        if Instant::now() > deadline {
            return Err("chromedriver did not answer within 10 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let profile = dir.join("profile");
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        format!("--user-data-dir={}", profile.display()),
        "--window-size=1280,800".into(),
    ];
    let caps = json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
    } } });
    let resp = http.post(format!("{base}/session")).json(&caps).send().await.map_err(|e| e.to_string())?;
    let v: Value = resp.json().await.map_err(|e| e.to_string())?;
    let id = v["value"]["sessionId"].as_str().ok_or_else(|| format!("no browser session: {v}"))?;
    let session = format!("{base}/session/{id}");
    Ok((driver, Browser { http, session, shots }))
}

async fn api(http: &reqwest::Client, url: &str, token: &str, path: &str) -> Value {
    let resp = http.post(format!("{url}/api/v1{path}")).bearer_auth(token).send().await.expect("api");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

async fn wait_status(http: &reqwest::Client, url: &str, what: &str, cond: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s: Value =
            http.get(format!("{url}/api/v1/status")).send().await.expect("status").json().await.expect("json");
        if cond(&s) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not reached; status {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Records, in `window.__cells`, when each stage cell first took each class.
const OBSERVE_CELLS: &str = "window.__cells = {};
new MutationObserver(function (changes) {
  changes.forEach(function (c) {
    var k = c.target.dataset && c.target.dataset.stage ? c.target.dataset.stage + ' ' + c.target.className : null;
    if (k && !(k in window.__cells)) { window.__cells[k] = Date.now(); }
  });
}).observe(document.body, { attributes: true, subtree: true, attributeFilter: ['class'] });
return true;";

/// Milliseconds from the server recording that app/1's build stage passed to its cell on the
/// overview turning green.
async fn event_to_page_ms(b: &Browser, http: &reqwest::Client, url: &str) -> i64 {
    let cells = b.js("return window.__cells;").await;
    let shown = cells
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.starts_with("app/1/build ") && k.contains("st-passed")))
        .and_then(|(_, t)| t.as_i64())
        .expect("the cell changed in place");
    let events: Value =
        http.get(format!("{url}/api/v1/events?after=0")).send().await.expect("events").json().await.expect("json");
    let at = events["events"]
        .as_array()
        .and_then(|es| {
            es.iter().find(|e| {
                e["event"] == "stage_finished" && e["pipeline"] == "app" && e["counter"] == 1 && e["stage"] == "build"
            })
        })
        .and_then(|e| e["at_ms"].as_i64())
        .expect("the stage's event");
    shown - at
}

fn cell(stage_key: &str, state: &str) -> String {
    format!("document.querySelector('[data-stage=\"{stage_key}\"].st-{state}')")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_browser_follows_and_drives_a_pipeline() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("dashboard-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let (_driver, b) = match browser(dir, shots).await {
        Ok(found) => found,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: no browser: {why}");
            return;
        }
        Err(why) => panic!("no browser in CI: {why}"),
    };
    workspace(dir);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let pw = env!("CARGO_BIN_EXE_pw");
    let listen = format!("127.0.0.1:{port}");
    let server_args =
        ["server", "ci.pw", "--listen", &listen, "--state", "state", "--no-poll", "--heartbeat-ms", "300"];
    let _server = spawn(pw, &server_args, dir, "server.log");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(dir.join("state/server-url")).is_ok_and(|u| u.starts_with("http")) {
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "the server did not start: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = std::fs::read_to_string(dir.join("state/api-token")).expect("api token").trim().to_string();
    let agent_token = dir.join("state/agent-token");
    let agents: Vec<Proc> = ["a1", "a2"]
        .iter()
        .map(|name| {
            let work = dir.join("agents").join(name);
            let args = [
                "agent",
                "--server",
                &url,
                "--token-file",
                agent_token.to_str().unwrap_or(""),
                "--workdir",
                work.to_str().unwrap_or(""),
                "--name",
                name,
            ];
            spawn(pw, &args, dir, &format!("{name}.log"))
        })
        .collect();
    wait_status(&http, &url, "two agents", |s| s["agents"].as_array().is_some_and(|a| a.len() == 2)).await;

    // The overview, with the token pasted: cells appear and change colour with no reload.
    b.goto(&format!("{url}/")).await;
    b.wait_for("document.getElementById('live').className === 'on'", "the live stream", 10, false).await;
    b.js(&format!("document.getElementById('token').value = '{token}'; document.getElementById('token-form').requestSubmit(); return true;")).await;
    b.wait_for("!document.querySelector('button.act').disabled", "buttons enabled by the token", 5, false).await;
    b.mark().await;
    // When each stage cell took each state, on the page's clock (the server's: one machine).
    b.js(OBSERVE_CELLS).await;
    api(&http, &url, &token, "/pipelines/app/trigger").await;
    b.wait_for(&cell("app/1/build", "running"), "the build cell running", 15, true).await;
    b.wait_for(&cell("app/1/deploy", "awaiting_approval"), "the deploy cell awaiting approval", 20, true).await;
    b.wait_for(&cell("app/1/build", "passed"), "the build cell passed", 5, true).await;
    b.screenshot("overview").await;
    let latency = event_to_page_ms(&b, &http, &url).await;
    eprintln!("event to page: {latency} ms");
    assert!(latency < 1000, "the build cell turned green {latency} ms after the stage passed");

    // Approving the manual stage from the page makes it run; the verify stage then fails.
    let approve = "document.querySelector('button.act[data-path$=\"/stages/deploy/approve\"]')";
    b.wait_for(&format!("{approve} && !{approve}.disabled"), "the approve button", 5, true).await;
    b.js(&format!("{approve}.click(); return true;")).await;
    b.wait_for(&cell("app/1/deploy", "passed"), "the approved stage passed", 20, true).await;
    b.wait_for(&cell("app/1/verify", "failed"), "the verify stage failed", 20, true).await;

    // Rerunning the failed job from its page.
    b.goto(&format!("{url}/pipelines/app/1/verify/flaky")).await;
    b.wait_for("document.getElementById('live').className === 'on'", "the live stream", 10, false).await;
    b.wait_for("document.querySelector('pre.log-tail') && document.querySelector('pre.log-tail').textContent.includes('first attempt fails')", "the failed log", 5, false).await;
    b.screenshot("job-failed").await;
    b.mark().await;
    b.js("document.querySelector('button.act').click(); return true;").await;
    b.wait_for(
        "document.querySelector('[data-job=\"app/1/verify/flaky\"] .badge[data-state=\"passed\"]')",
        "the rerun job passed",
        20,
        true,
    )
    .await;
    b.goto(&format!("{url}/pipelines/app/1")).await;
    b.wait_for(&cell("app/1/verify", "passed"), "the instance page shows verify passed", 5, false).await;
    b.screenshot("instance").await;

    // A running task's log, as it is written.
    api(&http, &url, &token, "/pipelines/app/trigger").await;
    b.goto(&format!("{url}/pipelines/app/2/build/compile")).await;
    b.wait_for("document.getElementById('live').className === 'on'", "the live stream", 10, false).await;
    b.mark().await;
    let log = "(document.querySelector('.log') ? document.querySelector('.log').textContent : '')";
    b.wait_for(
        &format!("{log}.includes('line-2') && !{log}.includes('line-8')"),
        "the first lines while running",
        15,
        true,
    )
    .await;
    b.wait_for(&format!("{log}.includes('line-8')"), "the last line", 15, true).await;
    let parts = b.js("return [...document.querySelectorAll('.log summary')].map(s => s.textContent);").await;
    assert!(
        parts.as_array().is_some_and(|p| p.iter().any(|t| t.as_str().is_some_and(|t| t.starts_with("task 2/2")))),
        "the second task's part opened live: {parts}"
    );
    b.screenshot("job-live-log").await;

    // The value stream map of app/1 shows the downstream instance it caused.
    wait_status(&http, &url, "notify/1", |s| {
        s["instances"].as_array().is_some_and(|a| a.iter().any(|i| i["pipeline"] == "notify"))
    })
    .await;
    b.goto(&format!("{url}/vsm/app/1")).await;
    b.wait_for(
        "[...document.querySelectorAll('a.downstream')].some(a => a.textContent === 'notify/1')",
        "notify/1 downstream",
        10,
        false,
    )
    .await;
    b.wait_for("document.querySelector('svg.vsm g[data-pipeline=\"notify\"]')", "the notify node", 2, false).await;
    b.screenshot("vsm").await;

    // Nothing overflows horizontally on a desktop or a phone.
    let pages =
        ["/", "/pipelines/app", "/pipelines/app/1", "/pipelines/app/1/verify/flaky", "/vsm", "/vsm/app/1", "/agents"];
    for (w, h, name) in [(1280, 800, "desktop"), (390, 844, "phone")] {
        b.resize(w, h).await;
        for page in pages {
            b.goto(&format!("{url}{page}")).await;
            let fits = b.js("return [document.documentElement.scrollWidth, window.innerWidth];").await;
            let (scroll, inner) = (fits[0].as_u64().unwrap_or(u64::MAX), fits[1].as_u64().unwrap_or(0));
            assert!(scroll <= inner, "{page} at {w}x{h} overflows: {scroll} > {inner}");
        }
        b.goto(&format!("{url}/")).await;
        b.screenshot(&format!("overview-{name}")).await;
        b.goto(&format!("{url}/pipelines/app/1")).await;
        b.screenshot(&format!("instance-{name}")).await;
    }
    b.close().await;
    drop(agents);
}
