//! Fault tests of the runtime across hosts: a `pw server` and two `pw agent`s, each in a network
//! namespace of its own joined to the server's by a veth link, with links cut in the middle of a
//! job. They need root (CI runs as root); where namespaces cannot be made they say so and pass,
//! except under CI, where they fail.

mod common;

use common::cluster::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The lease of the servers below: an agent silent for longer is lost.
const LEASE_MS: u64 = 3000;

/// Runs `ip` with `args`; its error output when it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Three network namespaces, a server's and two agents': agent `k` (1 or 2) is 10.77.k.2 on a
/// veth link whose other end, in the server's namespace, is 10.77.k.1. Dropped, it ends every
/// process inside and deletes the namespaces.
struct Net {
    prefix: String,
}

impl Net {
    fn new() -> Result<Net, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let net = Net { prefix: format!("pw{}x{n}", std::process::id() % 100_000) };
        net.build().map(|_| net)
    }

    fn build(&self) -> Result<(), String> {
        for space in ["s", "a1", "a2"] {
            ip(&["netns", "add", &self.ns(space)])?;
            ip(&["-n", &self.ns(space), "link", "set", "lo", "up"])?;
        }
        for k in ["1", "2"] {
            let (near, far) = (self.server_end(k), format!("{}a{k}", self.prefix));
            ip(&["link", "add", &near, "netns", &self.ns("s"), "type", "veth", "peer", "name", &far])?;
            ip(&["link", "set", &far, "netns", &self.ns(&format!("a{k}"))])?;
            ip(&["-n", &self.ns("s"), "addr", "add", &format!("10.77.{k}.1/24"), "dev", &near])?;
            ip(&["-n", &self.ns(&format!("a{k}")), "addr", "add", &format!("10.77.{k}.2/24"), "dev", &far])?;
            ip(&["-n", &self.ns("s"), "link", "set", &near, "up"])?;
            ip(&["-n", &self.ns(&format!("a{k}")), "link", "set", &far, "up"])?;
        }
        Ok(())
    }

    fn ns(&self, space: &str) -> String {
        format!("{}-{space}", self.prefix)
    }

    fn server_end(&self, agent: &str) -> String {
        format!("{}s{agent}", self.prefix)
    }

    /// Cuts agent `k`'s link: nothing it sends arrives, nothing reaches it, no connection is reset.
    fn cut(&self, agent: &str) {
        ip(&["-n", &self.ns("s"), "link", "set", &self.server_end(agent), "down"]).unwrap();
    }

    fn heal(&self, agent: &str) {
        ip(&["-n", &self.ns("s"), "link", "set", &self.server_end(agent), "up"]).unwrap();
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for space in ["s", "a1", "a2"] {
            let ns = self.ns(space);
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = ip(&["netns", "del", &ns]);
        }
    }
}

/// The namespaces, or `None` with a message where they cannot be made (not as root, say). Under
/// CI, which runs as root, not having them is a failure.
fn net_or_skip(test: &str) -> Option<Net> {
    match Net::new() {
        Ok(net) => Some(net),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped {test}: network namespaces cannot be made here ({e}); run as root to include it");
            None
        }
        Err(e) => panic!("network namespaces cannot be made under CI: {e}"),
    }
}

/// A server in the server's namespace, listening on every address of it.
fn start_server(marker: &Marker, dir: &Path, net: &Net, port: u16) -> Proc {
    let listen = format!("0.0.0.0:{port}");
    let lease = LEASE_MS.to_string();
    let args = server_args(&listen, &lease);
    let proc = spawn_in(marker, dir, Some(&net.ns("s")), &args, &dir.join("server.log"));
    within(20, "the server starts", || std::fs::read_to_string(dir.join("state/server-url")).is_ok());
    proc
}

/// Agent `k` in its own namespace, reaching the server over its link.
fn start_agent(marker: &Marker, dir: &Path, net: &Net, port: u16, k: &str) -> Proc {
    let url = format!("http://10.77.{k}.1:{port}");
    let ns = net.ns(&format!("a{k}"));
    start_agent_in(marker, dir, Some(&ns), &url, &dir.join("state/agent-token"), &format!("a{k}"))
}

/// A task that records its shell's process id in `pids-ATTEMPT`, notes in `overlap` any task of
/// an earlier attempt still running beside it, runs `work`, then appends `name` to `ran`.
fn task(dir: &Path, name: &str, work: &str) -> String {
    let d = dir.display();
    format!(
        "for f in {d}/pids-{name}-*; do [ -e $f ] || continue; p=$(cat $f); \
         if [ -e /proc/$p ] && ! grep -q ') Z ' /proc/$p/stat; then echo $f >> {d}/overlap; fi; done; \
         echo $$ > {d}/pids-{name}-$PW_ATTEMPT; {work}; echo {name} >> {d}/ran"
    )
}

/// The process id that attempt `attempt` of job `name` recorded, once it has.
fn task_pid(dir: &Path, name: &str, attempt: u32) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(format!("pids-{name}-{attempt}"))).ok()?;
    Some(text.trim().to_string()).filter(|p| !p.is_empty())
}

struct Cluster {
    marker: Marker,
    dir: tempfile::TempDir,
    _agents: Vec<Proc>,
    _server: Proc,
    net: Net,
}

impl Cluster {
    /// A server and two agents, in their namespaces, running the pipeline `pipeline` writes for
    /// the test's folder; `None` when namespaces cannot be made.
    fn start(test: &str, pipeline: impl Fn(&Path) -> String) -> Option<Cluster> {
        let net = net_or_skip(test)?;
        let marker = Marker::new(test);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ci.pw"), pipeline(dir.path())).unwrap();
        let port = free_port();
        let server = start_server(&marker, dir.path(), &net, port);
        let agents =
            vec![start_agent(&marker, dir.path(), &net, port, "1"), start_agent(&marker, dir.path(), &net, port, "2")];
        let c = Cluster { marker, dir, _agents: agents, _server: server, net };
        within(60, "both agents registered", || c.status()["agents"].as_array().is_some_and(|a| a.len() == 2));
        Some(c)
    }

    fn d(&self) -> &Path {
        self.dir.path()
    }

    fn client(&self, args: &[&str]) -> Value {
        json_in(&self.marker, self.d(), Some(&self.net.ns("s")), args)
    }

    fn status(&self) -> Value {
        self.client(&["status"])
    }

    fn wait(&self, target: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        wait_for_in(&self.marker, self.d(), Some(&self.net.ns("s")), target, what, cond)
    }

    fn agent_state(&self, name: &str) -> Value {
        let agents = self.status()["agents"].clone();
        agents.as_array().and_then(|a| a.iter().find(|a| a["name"] == name)).map_or(Value::Null, |a| a["state"].clone())
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.d().join(name)).unwrap_or_default()
    }
}

fn pipeline_of(stages: &[(&str, &str, String)]) -> String {
    let body: String = stages
        .iter()
        .map(|(stage, job, script)| format!("  stage {stage} {{\n    job {job} {{ run {script:?} }}\n  }}\n"))
        .collect();
    format!("pipeline p {{\n{body}}}\n")
}

/// The agent (`a1` or `a2`) running the first attempt of `job`, once one does.
fn first_agent(c: &Cluster, stage: &str, job: &str) -> String {
    let i = c.wait("p/1", "assigned its job", |i| job_attempts(i, stage, job)[0]["agent"].is_string());
    let agent = job_attempts(&i, stage, job)[0]["agent"].as_str().unwrap().to_string();
    within(30, "the first attempt's task started", || task_pid(c.d(), job, 1).is_some());
    agent
}

#[test]
fn an_agent_cut_off_mid_job_stops_it_and_the_job_runs_once_elsewhere_within_a_lease() {
    let Some(c) = Cluster::start("cut", |d| {
        pipeline_of(&[("s", "deploy", task(d, "deploy", "if [ $PW_ATTEMPT = 1 ]; then sleep 300; fi"))])
    }) else {
        return;
    };
    c.client(&["trigger", "p"]);
    let victim = first_agent(&c, "s", "deploy");
    let k = victim.trim_start_matches('a').to_string();
    let pid = task_pid(c.d(), "deploy", 1).unwrap();
    c.net.cut(&k);

    // Cut off, the agent stops its task itself before the lease runs out on the server's side.
    within(LEASE_MS / 1000 + 10, "the cut-off agent stops its task", || gone(&pid));
    let i = c.wait("p/1", "passed", |i| i["state"] == "passed" || i["state"] == "failed");
    assert_eq!(i["state"], "passed", "{i:#}");
    let attempts = job_attempts(&i, "s", "deploy");
    assert_eq!(attempts.len(), 2, "{i:#}");
    let reason = attempts[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with(&format!("agent `{victim}` lost (silent for more than 3s)")), "{reason}");
    assert_ne!(attempts[1]["agent"], victim.as_str(), "{i:#}");
    assert_eq!(c.file("ran"), "deploy\n", "the job's work was done once");
    assert_eq!(c.file("overlap"), "", "no two attempts of the job ran at once");
    assert_eq!(c.agent_state(&victim), "lost");

    // Healed, the agent says why it gave the job up, and takes work again.
    c.net.heal(&k);
    let said = wait_log(&c.d().join(format!("{victim}.log")), "given up");
    assert!(said.contains("no word from the server for 2.4s"), "{said}");
    within(30, "the healed agent is back", || c.agent_state(&victim) != "lost");
}

#[test]
fn a_partition_of_every_agent_for_longer_than_a_lease_loses_nothing_and_runs_nothing_twice() {
    let Some(c) = Cluster::start("partition", |d| {
        pipeline_of(&[
            ("build", "compile", task(d, "compile", "if [ $PW_ATTEMPT = 1 ]; then sleep 300; else echo compiled; fi")),
            ("ship", "publish", task(d, "publish", "echo published")),
        ])
    }) else {
        return;
    };
    c.client(&["trigger", "p"]);
    let victim = first_agent(&c, "build", "compile");
    let pid = task_pid(c.d(), "compile", 1).unwrap();
    c.net.cut("1");
    c.net.cut("2");

    // The server loses both agents and the attempt; the agent has stopped the task by then.
    let i = c.wait("p/1", "lost its attempt", |i| job_attempts(i, "build", "compile").len() == 2);
    assert!(gone(&pid), "the task was stopped before its attempt was lost: {i:#}");
    within(LEASE_MS / 1000 + 10, "both agents are lost", || {
        c.agent_state("a1") == "lost" && c.agent_state("a2") == "lost"
    });
    std::thread::sleep(Duration::from_millis(LEASE_MS));
    let i = instance_in(&c.marker, c.d(), Some(&c.net.ns("s")), "p/1").unwrap();
    assert_eq!(i["state"], "running", "the job waits for an agent to come back: {i:#}");
    c.net.heal("1");
    c.net.heal("2");

    let i = c.wait("p/1", "passed", |i| i["state"] == "passed" || i["state"] == "failed");
    assert_eq!(i["state"], "passed", "{i:#}");
    // The retry may first have been given to the other agent's long poll, held by the server
    // when the links were cut: that assignment never arrived, and does not spend the retry.
    let compile = job_attempts(&i, "build", "compile");
    let (last, between) = (compile.last().unwrap(), &compile[1..compile.len() - 1]);
    assert!(
        between
            .iter()
            .all(|a| a["reason"].as_str().unwrap_or_default().ends_with("before it took the job; given again")),
        "{i:#}"
    );
    assert_eq!(last["state"], "passed", "{i:#}");
    assert_ne!(last["agent"], victim.as_str(), "the retry runs on the agent that did not lose it");
    assert_eq!(job_attempts(&i, "ship", "publish").len(), 1, "{i:#}");
    assert_eq!(c.file("ran"), "compile\npublish\n", "each job's work was done once, in order: {i:#}");
    assert_eq!(c.file("overlap"), "", "no two attempts of a job ran at once");
    let out = pw_in(&c.marker, c.d(), Some(&c.net.ns("s")), &["logs", "p/1/build/compile", "--state", "state"]);
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("compiled"), "the retry's log is kept: {log}");
}
