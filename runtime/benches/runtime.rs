//! Runtime benchmark: stage transition latency, overhead per trivial job, throughput of 1,000
//! trivial jobs across 16 agents, the server's CPU with 200 idle agents long-polling, the
//! dashboard's overview of 1,000 pipelines and 5,000 instances, and the server's CPU with 200
//! dashboards open.
//!
//! The server (with its store thread) and the agents run on separate thread pools in this
//! process and talk HTTP on loopback, as separate processes would; the server's CPU is read
//! from its own threads in /proc over 45 s, longer than the 30 s an agent's poll is held, so that
//! every agent polls again within the window.
//!
//!     cargo bench -p pw-runtime --bench runtime
//!     cargo bench -p pw-runtime --bench runtime -- overview   # or: dashboards

use pw_compiler::plan::*;
use pw_runtime::agent::{self, AgentOptions};
use pw_runtime::engine::{Engine, EngineConfig};
use pw_runtime::protocol::{Event, EventKind};
use pw_runtime::state::{Cause, JobState};
use pw_runtime::statedir::StateDir;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn src() -> Source {
    Source { file: "bench.pw".into(), line: 1, column: 1 }
}

fn trivial_job(name: &str) -> Job {
    Job::new(name, vec![Task::new(TaskAction::Exec { argv: vec!["true".into()] }, src())], src())
}

fn stage(name: &str, jobs: Vec<Job>) -> Stage {
    Stage::new(name, jobs, src())
}

fn pipeline(name: &str, stages: Vec<Stage>) -> Pipeline {
    Pipeline::new(name, stages, src())
}

struct Bench {
    engine: Arc<Engine>,
    server_rt: tokio::runtime::Runtime,
    agents_rt: tokio::runtime::Runtime,
    url: String,
    dir: tempfile::TempDir,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Bench {
    fn new(plan: Plan) -> Bench {
        let dir = tempfile::tempdir().expect("tempdir");
        let server_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pw-server")
            .enable_all()
            .build()
            .expect("runtime");
        let agents_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pw-agents")
            .enable_all()
            .build()
            .expect("runtime");
        let state = StateDir::new(dir.path().join("state"));
        let (engine, url) = server_rt.block_on(async {
            let engine = Engine::start(state, plan, EngineConfig::default()).expect("engine");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let url = format!("http://{}", listener.local_addr().expect("addr"));
            tokio::spawn(pw_runtime::server::serve(engine.clone(), listener));
            (engine, url)
        });
        let (stop, _) = tokio::sync::watch::channel(false);
        Bench { engine, server_rt, agents_rt, url, dir, stop }
    }

    fn agents(&self, n: usize) {
        for i in 0..n {
            let o = AgentOptions {
                server: self.url.clone(),
                token: self.engine.tokens.agent.clone(),
                name: format!("bench-{i}"),
                resources: Vec::new(),
                workdir: self.dir.path().join("agents").join(i.to_string()),
                kill_grace: Duration::from_secs(1),
                announce: false,
                run_as: None,
            };
            let rx = self.stop.subscribe();
            self.agents_rt.spawn(async move { agent::run(o, rx).await });
        }
        for _ in 0..2000 {
            if self.engine.status(None).map(|s| s.agents.len()).unwrap_or(0) >= n {
                // Let every agent reach its long poll.
                std::thread::sleep(Duration::from_millis(300));
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("agents did not register");
    }

    /// Triggers `pipeline` and collects its events until the instance finishes.
    fn run(&self, pipeline: &str) -> (Vec<Event>, Duration) {
        self.server_rt.block_on(async {
            let mut rx = self.engine.subscribe();
            let start = Instant::now();
            let (_, counter) = self.engine.trigger(pipeline, Cause::Manual { by: "bench".into() }).await.expect("trigger");
            let mut events = Vec::new();
            loop {
                // Under load the receiver may fall behind the channel's capacity and miss events:
                // measurements use the ones it got (counts come from the status).
                let e = match rx.recv().await {
                    Ok(e) => e,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(e) => panic!("events: {e}"),
                };
                let done = matches!(&e.kind, EventKind::InstanceFinished { pipeline: p, counter: c, .. } if p == pipeline && *c == counter);
                events.push(e);
                if done {
                    return (events, start.elapsed());
                }
            }
        })
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn stage_transitions() {
    const STAGES: usize = 50;
    const RUNS: usize = 4;
    let stages = (0..STAGES).map(|i| stage(&format!("s{i}"), vec![trivial_job("j")])).collect();
    let b = Bench::new(Plan {
        plan_version: pw_compiler::plan::PLAN_VERSION,
        materials: Vec::new(),
        pipelines: vec![pipeline("chain", stages)],
    });
    b.agents(2);
    let mut latencies = Vec::new();
    for _ in 0..RUNS {
        let (events, _) = b.run("chain");
        let mut finished: HashMap<String, u64> = HashMap::new();
        let mut started: HashMap<String, u64> = HashMap::new();
        for e in &events {
            match &e.kind {
                EventKind::JobFinished { job, state: JobState::Passed, agent_at_us: Some(at), .. } => {
                    finished.insert(job.stage.clone(), *at);
                }
                EventKind::TaskStarted { job, index: 0, agent_at_us, .. } => {
                    started.insert(job.stage.clone(), *agent_at_us);
                }
                _ => {}
            }
        }
        for i in 1..STAGES {
            if let (Some(f), Some(s)) = (finished.get(&format!("s{}", i - 1)), started.get(&format!("s{i}"))) {
                latencies.push(s.saturating_sub(*f) as f64 / 1000.0);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "stage transition latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} transitions)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len()
    );
}

fn job_overhead() {
    const JOBS: usize = 200;
    let b = Bench::new(Plan {
        plan_version: pw_compiler::plan::PLAN_VERSION,
        materials: Vec::new(),
        pipelines: vec![pipeline("one", vec![stage("s", vec![trivial_job("j")])])],
    });
    b.agents(1);
    let mut walls = Vec::new();
    for _ in 0..JOBS {
        let (_, wall) = b.run("one");
        walls.push(wall.as_secs_f64() * 1000.0);
    }
    walls.sort_by(f64::total_cmp);
    let mut spawns = Vec::new();
    for _ in 0..JOBS {
        let t = Instant::now();
        let _ = std::process::Command::new("true").status();
        spawns.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    spawns.sort_by(f64::total_cmp);
    let (wall, spawn) = (percentile(&walls, 0.5), percentile(&spawns, 0.5));
    println!(
        "trivial job (`true`), trigger to instance passed: median {wall:.2} ms, p99 {:.2} ms; running `true` alone: {spawn:.2} ms; overhead {:.2} ms",
        percentile(&walls, 0.99),
        wall - spawn
    );
}

fn throughput() {
    const JOBS: usize = 1000;
    const AGENTS: usize = 16;
    let jobs = (0..JOBS).map(|i| trivial_job(&format!("j{i}"))).collect();
    let b = Bench::new(Plan {
        plan_version: pw_compiler::plan::PLAN_VERSION,
        materials: Vec::new(),
        pipelines: vec![pipeline("wide", vec![stage("s", jobs)])],
    });
    b.agents(AGENTS);
    let (_, wall) = b.run("wide");
    let status = b.engine.status(Some("wide")).expect("status");
    let jobs = status.instances.iter().flat_map(|i| &i.stages).flat_map(|s| &s.jobs);
    let passed = jobs.filter(|j| j.attempts.last().is_some_and(|a| a.state == JobState::Passed)).count();
    assert_eq!(passed, JOBS, "every job passed");
    println!(
        "throughput: {JOBS} trivial jobs on {AGENTS} agents in {:.2} s = {:.0} jobs/s",
        wall.as_secs_f64(),
        JOBS as f64 / wall.as_secs_f64()
    );
}

/// CPU seconds of this process's threads whose name starts with one of `prefixes`.
fn thread_cpu(prefixes: &[&str]) -> f64 {
    let ticks = 100.0; // sysconf(_SC_CLK_TCK) on Linux
    let mut total = 0u64;
    for e in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = &stat[open + 1..close];
        if !prefixes.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
        let ut: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
        let st: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
        total += ut + st;
    }
    total as f64 / ticks
}

fn idle_agents() {
    const AGENTS: usize = 200;
    const SECONDS: u64 = 45;
    let b = Bench::new(Plan {
        plan_version: pw_compiler::plan::PLAN_VERSION,
        materials: Vec::new(),
        pipelines: vec![pipeline("one", vec![stage("s", vec![trivial_job("j")])])],
    });
    b.agents(AGENTS);
    let server = ["pw-server", "pw-store"];
    let before = thread_cpu(&server);
    let agents_before = thread_cpu(&["pw-agents"]);
    std::thread::sleep(Duration::from_secs(SECONDS));
    let used = thread_cpu(&server) - before;
    let agents_used = thread_cpu(&["pw-agents"]) - agents_before;
    println!(
        "idle: {AGENTS} agents long-polling for {SECONDS} s: server {:.2}% of a core (agents' side {:.2}%)",
        used / SECONDS as f64 * 100.0,
        agents_used / SECONDS as f64 * 100.0
    );
}

/// 1,000 pipelines of three stages in 20 files, five instances each, every job waiting (no
/// agent): the overview page, plain and gzipped, fetched 30 times each.
fn overview() {
    const PIPELINES: usize = 1000;
    const EACH: usize = 5;
    let pipelines = (0..PIPELINES)
        .map(|i| {
            let stages = ["build", "test", "deploy"].map(|s| stage(s, vec![trivial_job("j")])).to_vec();
            let mut p = pipeline(&format!("service-{i:04}"), stages);
            p.source.file = format!("team-{:02}.pw", i % 20);
            p
        })
        .collect();
    let b = Bench::new(Plan { plan_version: pw_compiler::plan::PLAN_VERSION, materials: Vec::new(), pipelines });
    let start = Instant::now();
    b.server_rt.block_on(async {
        for i in 0..PIPELINES {
            let name = format!("service-{i:04}");
            let triggers = (0..EACH).map(|_| b.engine.trigger(&name, Cause::Manual { by: "bench".into() }));
            for r in futures_util::future::join_all(triggers).await {
                r.expect("trigger");
            }
        }
    });
    println!("overview: {} instances created in {:.1} s", PIPELINES * EACH, start.elapsed().as_secs_f64());
    let client = reqwest::Client::new();
    // Each request follows a new event, so that the page is rendered (not a copy served); then
    // the same page again, served from the copy.
    for (gzip, fresh) in [(false, true), (true, true), (true, false)] {
        let mut times = Vec::new();
        let mut size = 0;
        for i in 0..30 {
            if fresh {
                let name = format!("service-{i:04}");
                b.server_rt.block_on(b.engine.trigger(&name, Cause::Manual { by: "bench".into() })).expect("trigger");
            }
            let mut req = client.get(format!("{}/", b.url));
            if gzip {
                req = req.header("Accept-Encoding", "gzip");
            }
            let t = Instant::now();
            let body = b.agents_rt.block_on(async { req.send().await.expect("page").bytes().await.expect("body") });
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            size = body.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "overview{}{}: {} bytes, p50 {:.1} ms, p95 {:.1} ms",
            if gzip { " gzipped" } else { "" },
            if fresh { "" } else { ", the copy" },
            size,
            percentile(&times, 0.5),
            percentile(&times, 0.95)
        );
    }
    b.server_rt
        .block_on(async { b.engine.trigger("service-0000", Cause::Manual { by: "bench".into() }).await })
        .expect("trigger");
    overview_burst(&b, &client);
}

/// 200 tabs fetching the overview at once (as after an event): the page is rendered once for all.
fn overview_burst(b: &Bench, client: &reqwest::Client) {
    const TABS: usize = 200;
    let t = Instant::now();
    let sizes: Vec<usize> = b.agents_rt.block_on(async {
        let gets = (0..TABS).map(|_| async {
            let r = client.get(format!("{}/", b.url)).header("Accept-Encoding", "gzip").send().await.expect("page");
            r.bytes().await.expect("body").len()
        });
        futures_util::future::join_all(gets).await
    });
    println!("overview: {} tabs at once, all answered in {:.0} ms", sizes.len(), t.elapsed().as_secs_f64() * 1000.0);
}

/// The server's CPU with 200 dashboards open (each holds an event stream) and nothing happening.
fn idle_dashboards() {
    const TABS: usize = 200;
    const SECONDS: u64 = 35;
    let b = Bench::new(Plan {
        plan_version: pw_compiler::plan::PLAN_VERSION,
        materials: Vec::new(),
        pipelines: vec![pipeline("one", vec![stage("s", vec![trivial_job("j")])])],
    });
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
    let streams: Vec<reqwest::Response> = b.agents_rt.block_on(async {
        let opened = (0..TABS).map(|_| client.get(format!("{}/dashboard/events", b.url)).send());
        futures_util::future::join_all(opened).await.into_iter().map(|r| r.expect("stream")).collect()
    });
    let server = ["pw-server", "pw-store"];
    let before = thread_cpu(&server);
    std::thread::sleep(Duration::from_secs(SECONDS));
    let used = thread_cpu(&server) - before;
    println!(
        "dashboards: {} open event streams for {SECONDS} s: server {:.2}% of a core",
        streams.len(),
        used / SECONDS as f64 * 100.0
    );
}

fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let want = |name: &str| which.is_empty() || which.iter().any(|w| name.contains(w.as_str()));
    println!("machine: {} cores, {}", std::thread::available_parallelism().map_or(1, |n| n.get()), cpu_model());
    if want("transition") {
        stage_transitions();
    }
    if want("overhead") {
        job_overhead();
    }
    if want("throughput") {
        throughput();
    }
    if want("idle") {
        idle_agents();
    }
    if want("overview") {
        overview();
    }
    if want("dashboards") {
        idle_dashboards();
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(|| "unknown CPU".to_string(), |s| s.trim().to_string())
}
