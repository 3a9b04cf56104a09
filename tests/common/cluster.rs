//! Helpers of the runtime's end-to-end tests: `pw` processes (server, agents, client commands)
//! started with a marker in their environment, so that whatever they leave running is ended with
//! the test, and waits on their state with a deadline.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub(crate) fn pw_bin() -> &'static str {
    env!("CARGO_BIN_EXE_pw")
}

/// A marker in the environment of every process a test starts, so that the processes they start
/// in turn (tasks of an agent killed with SIGKILL) are found and ended too.
pub(crate) struct Marker(pub(crate) String);

impl Marker {
    pub(crate) fn new(name: &str) -> Marker {
        Marker(format!("PW_TEST_MARKER_{}_{}", name, std::process::id()))
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let needle = format!("PW_TEST_MARKER={}", self.0);
        let Ok(dir) = std::fs::read_dir("/proc") else { return };
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let env = std::fs::read(format!("/proc/{name}/environ")).unwrap_or_default();
            if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
                let _ = Command::new("kill").args(["-9", &name]).status();
            }
        }
    }
}

/// A child process killed when dropped.
pub(crate) struct Proc(pub(crate) Child);

impl Proc {
    pub(crate) fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `pw` with the test's marker in its environment, run in network namespace `netns` when given.
pub(crate) fn command(marker: &Marker, dir: &Path, netns: Option<&str>) -> Command {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, pw_bin()]);
            c
        }
        None => Command::new(pw_bin()),
    };
    cmd.current_dir(dir).env("PW_TEST_MARKER", &marker.0).env("NO_COLOR", "1");
    cmd
}

pub(crate) fn pw(marker: &Marker, dir: &Path, args: &[&str]) -> Output {
    pw_in(marker, dir, None, args)
}

pub(crate) fn pw_in(marker: &Marker, dir: &Path, netns: Option<&str>, args: &[&str]) -> Output {
    command(marker, dir, netns).args(args).output().expect("pw")
}

pub(crate) fn spawn(marker: &Marker, dir: &Path, args: &[&str], log: &Path) -> Proc {
    spawn_in(marker, dir, None, args, log)
}

/// Starts `pw` with `args` (in network namespace `netns` when given), its output going to `log`.
pub(crate) fn spawn_in(marker: &Marker, dir: &Path, netns: Option<&str>, args: &[&str], log: &Path) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    let child = command(marker, dir, netns)
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawn pw");
    Proc(child)
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) struct Server {
    pub(crate) proc: Proc,
    pub(crate) url: String,
    pub(crate) state: PathBuf,
}

pub(crate) fn start_server(marker: &Marker, dir: &Path, port: u16, log: &str) -> Server {
    start_server_with(marker, dir, port, log, "1500", &[])
}

/// The arguments of a `pw server` of `ci.pw` listening on `listen`, with state in `state`, no
/// polling of materials, a lease of `lease_ms` and renewals every 300 ms.
pub(crate) fn server_args<'a>(listen: &'a str, lease_ms: &'a str) -> Vec<&'a str> {
    vec![
        "server",
        "ci.pw",
        "--listen",
        listen,
        "--state",
        "state",
        "--no-poll",
        "--lease-ms",
        lease_ms,
        "--heartbeat-ms",
        "300",
    ]
}

/// A server whose agents' lease is `lease_ms`, with `extra` arguments.
pub(crate) fn start_server_with(
    marker: &Marker,
    dir: &Path,
    port: u16,
    log: &str,
    lease_ms: &str,
    extra: &[&str],
) -> Server {
    let state = dir.join("state");
    let _ = std::fs::remove_file(state.join("server-url"));
    let listen = format!("127.0.0.1:{port}");
    let mut args = server_args(&listen, lease_ms);
    args.extend(extra);
    let proc = spawn(marker, dir, &args, &dir.join(log));
    for _ in 0..500 {
        if std::fs::read_to_string(state.join("server-url")).is_ok_and(|u| u.starts_with("http")) {
            return Server { proc, url: format!("http://{listen}"), state };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the server did not start: {}", std::fs::read_to_string(dir.join(log)).unwrap_or_default());
}

pub(crate) fn start_agent(marker: &Marker, dir: &Path, server: &Server, name: &str) -> Proc {
    start_agent_at(marker, dir, &server.url, &server.state.join("agent-token"), name)
}

pub(crate) fn start_agent_at(marker: &Marker, dir: &Path, url: &str, token: &Path, name: &str) -> Proc {
    start_agent_in(marker, dir, None, url, token, name)
}

/// An agent `name` of the server at `url` (in network namespace `netns` when given), working in
/// `agents/NAME`, its output going to `NAME.log`.
pub(crate) fn start_agent_in(
    marker: &Marker,
    dir: &Path,
    netns: Option<&str>,
    url: &str,
    token: &Path,
    name: &str,
) -> Proc {
    let workdir = dir.join("agents").join(name);
    let args = [
        "agent",
        "--server",
        url,
        "--token-file",
        token.to_str().unwrap(),
        "--workdir",
        workdir.to_str().unwrap(),
        "--name",
        name,
        "--kill-grace-ms",
        "300",
    ];
    spawn_in(marker, dir, netns, &args, &dir.join(format!("{name}.log")))
}

pub(crate) fn json(marker: &Marker, dir: &Path, args: &[&str]) -> Value {
    json_in(marker, dir, None, args)
}

/// The JSON a client command prints, run in network namespace `netns` when given.
pub(crate) fn json_in(marker: &Marker, dir: &Path, netns: Option<&str>, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--state", "state", "--format", "json"]);
    let out = pw_in(marker, dir, netns, &all);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("pw {args:?}: {e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

pub(crate) fn instance(marker: &Marker, dir: &Path, target: &str) -> Option<Value> {
    instance_in(marker, dir, None, target)
}

pub(crate) fn instance_in(marker: &Marker, dir: &Path, netns: Option<&str>, target: &str) -> Option<Value> {
    let s = json_in(marker, dir, netns, &["status", target]);
    s["instances"].as_array().and_then(|a| a.first().cloned())
}

/// Waits (up to a minute) for `cond` on the status of `target`.
pub(crate) fn wait_for(marker: &Marker, dir: &Path, target: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    wait_for_in(marker, dir, None, target, what, cond)
}

pub(crate) fn wait_for_in(
    marker: &Marker,
    dir: &Path,
    netns: Option<&str>,
    target: &str,
    what: &str,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        if let Some(i) = instance_in(marker, dir, netns, target) {
            if cond(&i) {
                return i;
            }
            last = i;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{target} never {what}: {last:#}");
}

/// The body of a plain HTTP GET on loopback.
pub(crate) fn http_get(url: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    write!(conn, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
}

pub(crate) fn git(dir: &Path, script: &str) {
    let ok = Command::new("sh").arg("-c").arg(script).current_dir(dir).status().unwrap().success();
    assert!(ok, "{script}");
}

/// Waits (up to a minute) for a process to end; its exit code.
pub(crate) fn wait_exit(p: &mut Proc) -> Option<i32> {
    for _ in 0..600 {
        if let Ok(Some(status)) = p.0.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Waits (up to a minute) for a log file to hold `needle`; its text.
pub(crate) fn wait_log(path: &Path, needle: &str) -> String {
    wait_logs(&[path], needle)
}

/// The logs at `paths` one after another, once one of them says `needle` (a job's agent writes
/// its last line after it reports the job, so the server may know of it first).
pub(crate) fn wait_logs(paths: &[&Path], needle: &str) -> String {
    let read = || paths.iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect::<String>();
    for _ in 0..600 {
        let text = read();
        if text.contains(needle) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{paths:?} never said {needle:?}: {}", read());
}

pub(crate) fn job_attempts<'a>(i: &'a Value, stage: &str, job: &str) -> &'a Vec<Value> {
    let st = i["stages"].as_array().unwrap().iter().find(|s| s["name"] == stage).unwrap();
    st["jobs"].as_array().unwrap().iter().find(|j| j["name"] == job).unwrap()["attempts"].as_array().unwrap()
}

/// Whether process `pid` is gone (or a zombie waiting to be reaped).
pub(crate) fn gone(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.is_empty() || stat.contains(") Z ")
}

/// Waits (up to `secs`) for `cond`.
pub(crate) fn within(secs: u64, what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "not within {secs}s: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (up to a minute) for `n` agents to be registered.
pub(crate) fn wait_agents(marker: &Marker, dir: &Path, n: usize) {
    within(60, &format!("{n} agents registered"), || {
        json(marker, dir, &["status"])["agents"].as_array().is_some_and(|a| a.len() >= n)
    });
}
