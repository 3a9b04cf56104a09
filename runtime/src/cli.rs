//! Entry points of the runtime's commands: `pw run`, `pw server`, `pw agent`, and the client
//! verbs. Each returns the process exit code.

use crate::agent::{self, AgentOptions};
use crate::client::{self, ClientOptions};
use crate::engine::{Engine, EngineConfig, Settled};
use crate::load::{self, LoadError};
use crate::progress::Progress;
use crate::protocol::EventKind;
use crate::state::{Cause, JobState};
use crate::statedir::StateDir;
use pw_compiler::plan::Plan;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub paths: Vec<PathBuf>,
    /// A plan saved by `pw plan -o`, instead of `.pw` files.
    pub plan: Option<PathBuf>,
    pub pipeline: Option<String>,
    pub agents: Option<usize>,
    pub state: Option<PathBuf>,
    /// Resources of the local agents; by default every resource the plan's jobs name.
    pub resources: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    pub paths: Vec<PathBuf>,
    pub plan: Option<PathBuf>,
    pub listen: Option<String>,
    pub state: Option<PathBuf>,
    pub lease_ms: Option<u64>,
    pub heartbeat_ms: Option<u64>,
    /// Do not poll materials for new commits.
    pub no_poll: bool,
    /// New agents take no job until `pw agent approve ID`.
    pub require_approval: bool,
}

#[derive(Clone, Debug, Default)]
pub struct AgentCliOptions {
    pub server: String,
    pub resources: Vec<String>,
    pub workdir: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    pub name: Option<String>,
    pub kill_grace_ms: Option<u64>,
    /// Run tasks as this unprivileged user (the agent runs as root).
    pub run_as: Option<String>,
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8150";

fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("pw-server").build().map_err(|e| {
        eprintln!("error: cannot start the runtime: {e}");
        client::CANNOT_RUN
    })
}

fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The plan from `--plan` or from the `.pw` files; errors are printed.
fn plan_of(paths: &[PathBuf], plan: &Option<PathBuf>) -> Result<Plan, u8> {
    let result = match plan {
        Some(p) => load::read_plan(p),
        None => load::compile(paths, color()),
    };
    result.map_err(|e| match e {
        LoadError::Diagnostics(text) => {
            eprint!("{text}");
            eprintln!("error: the workspace has errors; nothing was run");
            1
        }
        LoadError::Usage(text) => {
            eprintln!("error: {text}");
            client::CANNOT_RUN
        }
    })
}

fn default_state(paths: &[PathBuf], plan: &Option<PathBuf>) -> PathBuf {
    match plan {
        Some(p) => load::default_state(std::slice::from_ref(p)),
        None => load::default_state(paths),
    }
}

/// `pw run`: an in-process server on loopback, local agents, the chosen pipelines triggered and
/// followed to the end.
pub fn run(opts: RunOptions) -> u8 {
    let plan = match plan_of(&opts.paths, &opts.plan) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let code = rt.block_on(run_async(opts, plan));
    rt.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn run_async(opts: RunOptions, plan: Plan) -> u8 {
    let roots: Vec<String> = match &opts.pipeline {
        Some(name) => match plan.pipeline(name) {
            Some(p) => vec![p.name.clone()],
            None => {
                let names: Vec<&str> = plan.pipelines.iter().map(|p| p.name.as_str()).collect();
                eprintln!("error: no pipeline named `{name}` (pipelines: {})", names.join(", "));
                return client::CANNOT_RUN;
            }
        },
        None => plan.pipelines.iter().filter(|p| p.after.is_empty()).map(|p| p.name.clone()).collect(),
    };
    if roots.is_empty() {
        eprintln!("error: the workspace has no pipeline to run");
        return client::CANNOT_RUN;
    }
    let resources = opts.resources.clone().unwrap_or_else(|| {
        let mut all: Vec<String> = plan
            .pipelines
            .iter()
            .flat_map(|p| &p.stages)
            .flat_map(|s| &s.jobs)
            .flat_map(|j| j.resources.clone())
            .collect();
        all.sort();
        all.dedup();
        all
    });
    let state = StateDir::new(opts.state.clone().unwrap_or_else(|| default_state(&opts.paths, &opts.plan)));
    let engine = match Engine::start(state, plan, EngineConfig::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return client::CANNOT_RUN;
        }
    };
    let state = engine.state.clone();
    // The local agents of earlier runs on this state folder are replaced by this run's: their
    // records (and resources) would otherwise stand until their lease ran out.
    if let Err(e) = engine.forget_agents(|a| is_local_agent(&a.name)).await {
        eprintln!("error: {e}");
        return client::CANNOT_RUN;
    }
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on loopback: {e}");
            return client::CANNOT_RUN;
        }
    };
    let url = format!("http://{}", listener.local_addr().map(|a| a.to_string()).unwrap_or_default());
    let _ = std::fs::write(state.url_file(), &url);
    tokio::spawn(crate::server::serve(engine.clone(), listener));
    let count = opts.agents.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1);
    let (stop_agents, stop_rx) = tokio::sync::watch::channel(false);
    for i in 1..=count {
        let o = AgentOptions {
            server: url.clone(),
            token: engine.tokens.agent.clone(),
            name: format!("local-{i}"),
            resources: resources.clone(),
            workdir: state.agents_dir().join(format!("local-{i}")),
            kill_grace: Duration::from_secs(5),
            announce: false,
            run_as: None,
        };
        let rx = stop_rx.clone();
        tokio::spawn(async move {
            if let Err(e) = agent::run(o, rx).await {
                eprintln!("error: {e}");
            }
        });
    }
    let names: Vec<String> = (1..=count).map(|i| format!("local-{i}")).collect();
    for _ in 0..200 {
        let registered =
            engine.status(None).map(|s| s.agents.iter().filter(|a| names.contains(&a.name)).count()).unwrap_or(0);
        if registered >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut events = engine.subscribe();
    let mut progress = Progress::new(std::io::stderr().is_terminal()).with_client_args(client_args(&state, &url));
    let mut started = Vec::new();
    let mut failed_to_start = false;
    for p in &roots {
        match engine.trigger(p, Cause::Manual { by: "pw run".into() }).await {
            Ok(r) => started.push(r),
            Err(e) => {
                progress.println(&format!("error: cannot start `{p}`: {e}"));
                failed_to_start = true;
            }
        }
    }
    let mut failed_jobs = Vec::new();
    let settled = loop {
        if let Some(settled) = engine.settled(&started).filter(|s| s.done) {
            break settled;
        }
        match tokio::time::timeout(Duration::from_millis(500), events.recv()).await {
            Ok(Ok(e)) => {
                if let EventKind::JobFinished { job, state, .. } = &e.kind {
                    if *state == JobState::Failed {
                        failed_jobs.push(job.clone());
                    }
                }
                progress.event(&e);
            }
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(_)) => break engine.settled(&started).unwrap_or(Settled::default()),
            Err(_) => {}
        }
    };
    // Events already sent but not yet shown.
    while let Ok(e) = events.try_recv() {
        if let EventKind::JobFinished { job, state: JobState::Failed, .. } = &e.kind {
            failed_jobs.push(job.clone());
        }
        progress.event(&e);
    }
    progress.finish();
    let _ = stop_agents.send(true);
    engine.flush_durations().await;
    for job in &failed_jobs {
        print_tail(&engine, job);
    }
    let _ = std::fs::remove_file(state.url_file());
    if settled.failed.is_empty() && settled.not_started.is_empty() && !failed_to_start {
        let list: Vec<String> = started.iter().map(|(p, c)| format!("{p}/{c}")).collect();
        println!("passed: {}", list.join(", "));
        0
    } else {
        let mut list: Vec<String> = settled
            .failed
            .iter()
            .map(|i| match i.state.as_str() {
                "failed" => format!("{}/{}", i.pipeline, i.counter),
                other => format!("{}/{} ({other})", i.pipeline, i.counter),
            })
            .collect();
        list.extend(settled.not_started.iter().map(|t| format!("{t} could not start")));
        if !list.is_empty() {
            println!("failed: {}", list.join(", "));
        }
        1
    }
}

/// Whether an agent is one of the local agents `pw run` starts.
fn is_local_agent(name: &str) -> bool {
    name.strip_prefix("local-").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// What a client command run from the current folder needs to reach this run's server: nothing
/// when `--state` would default to `state` here (`.pw`), else ` --state DIR`; and ` --server
/// URL`, ` --token-file FILE` when `PW_SERVER`, `PW_API_TOKEN` would send it elsewhere.
pub fn client_args(state: &StateDir, url: &str) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    client_args_from(state, url, &cwd, |v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()).is_some())
}

fn client_args_from(state: &StateDir, url: &str, cwd: &std::path::Path, env_set: impl Fn(&str) -> bool) -> String {
    let mut args = String::new();
    if env_set("PW_SERVER") {
        args.push_str(&format!(" --server {}", shell_word(url)));
    }
    let default = std::fs::canonicalize(cwd.join(".pw")).unwrap_or_else(|_| cwd.join(".pw"));
    if default != state.root {
        let shown = state.root.strip_prefix(cwd).ok().filter(|p| !p.as_os_str().is_empty()).unwrap_or(&state.root);
        args.push_str(&format!(" --state {}", shell_word(&shown.to_string_lossy())));
    }
    if env_set("PW_API_TOKEN") {
        let token = state.api_token_file();
        let shown = token.strip_prefix(cwd).unwrap_or(&token);
        args.push_str(&format!(" --token-file {}", shell_word(&shown.to_string_lossy())));
    }
    args
}

/// A word as a POSIX shell reads it: as it is when it is plain, in single quotes otherwise.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b':' | b'@' | b'+' | b','));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The last lines of a failed job's log.
fn print_tail(engine: &Arc<Engine>, job: &crate::protocol::JobKey) {
    let Ok(logs) = engine.logs(&job.pipeline, job.counter, &job.stage, &job.job, Some(job.attempt), None) else {
        return;
    };
    let text: String = logs.chunks.iter().map(|c| c.data.as_str()).collect();
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        eprintln!("--- {job}: no log output ---");
        return;
    }
    let tail = &lines[lines.len().saturating_sub(20)..];
    let what = if tail.len() == 1 { "line".to_string() } else { format!("{} lines", tail.len()) };
    eprintln!("--- last {what} of {job} ---");
    for l in tail {
        eprintln!("{l}");
    }
    eprintln!("---");
}

/// `pw server`: serves until killed, reloading the workspace when its files change and polling
/// materials.
pub fn server(opts: ServerOptions) -> u8 {
    let plan = match plan_of(&opts.paths, &opts.plan) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(server_async(opts, plan))
}

async fn server_async(opts: ServerOptions, plan: Plan) -> u8 {
    let state = StateDir::new(opts.state.clone().unwrap_or_else(|| default_state(&opts.paths, &opts.plan)));
    let mut cfg = EngineConfig::default();
    if let Some(l) = opts.lease_ms {
        cfg.sched.lease_ms = l;
    }
    if let Some(h) = opts.heartbeat_ms {
        cfg.sched.heartbeat_ms = h;
    }
    cfg.require_approval = opts.require_approval;
    let engine = match Engine::start(state, plan, cfg) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return client::CANNOT_RUN;
        }
    };
    let state = engine.state.clone();
    let listen = opts.listen.clone().unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return client::CANNOT_RUN;
        }
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or(listen);
    let url = format!("http://{addr}");
    let _ = std::fs::write(state.url_file(), &url);
    eprintln!("pw server listening on {url}");
    eprintln!("  agent token: {}", state.agent_token_file().display());
    eprintln!("  API token:   {}", state.api_token_file().display());
    if !opts.no_poll {
        tokio::spawn(engine.clone().poll_materials());
    }
    tokio::spawn(report_failed_triggers(engine.clone()));
    if opts.plan.is_none() {
        tokio::spawn(watch(engine.clone(), opts.paths.clone()));
    }
    let serve = crate::server::serve(engine, listener);
    tokio::select! {
        r = serve => match r {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                client::CANNOT_RUN
            }
        },
        _ = shutdown_signal() => {
            eprintln!("pw server stopping");
            0
        }
    }
}

/// Prints the downstream instances that could not be created (nothing else shows them).
async fn report_failed_triggers(engine: Arc<Engine>) {
    let mut events = engine.subscribe();
    drop(engine);
    loop {
        match events.recv().await {
            Ok(e) => {
                if let EventKind::TriggerFailed { .. } = &e.kind {
                    eprintln!("pw server: {}", crate::progress::line(&e.kind));
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(_) => return,
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Reloads the workspace when a `.pw` file changes; a workspace with errors is reported and the
/// last good plan stays in force.
async fn watch(engine: Arc<Engine>, paths: Vec<PathBuf>) {
    let stamp = |paths: &[PathBuf]| -> Vec<(PathBuf, Option<std::time::SystemTime>, u64)> {
        pw_compiler::driver::discover(paths)
            .unwrap_or_default()
            .into_iter()
            .map(|f| {
                let meta = std::fs::metadata(&f).ok();
                let (m, len) = (meta.as_ref().and_then(|m| m.modified().ok()), meta.map_or(0, |m| m.len()));
                (f, m, len)
            })
            .collect()
    };
    let mut last = stamp(&paths);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = stamp(&paths);
        if now == last {
            continue;
        }
        last = now;
        match load::compile(&paths, false) {
            Ok(plan) => {
                eprintln!("pw server: workspace reloaded ({} pipelines)", plan.pipelines.len());
                engine.set_plan(plan);
            }
            Err(e) => eprintln!("pw server: the workspace has errors; the last good configuration stays in force\n{e}"),
        }
    }
}

/// `pw agent`.
pub fn agent(opts: AgentCliOptions) -> u8 {
    let server = match client::server_url(&opts.server, "") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return client::CANNOT_RUN;
        }
    };
    let token = match &opts.token_file {
        Some(f) => match std::fs::read_to_string(f) {
            Ok(t) => t.trim().to_string(),
            Err(e) => {
                eprintln!("error: cannot read the token file `{}`: {e}", f.display());
                return client::CANNOT_RUN;
            }
        },
        None => match std::env::var("PW_AGENT_TOKEN") {
            Ok(t) => t,
            Err(_) => {
                eprintln!("error: no agent token: pass --token-file (the server's state folder has `agent-token`) or set PW_AGENT_TOKEN");
                return client::CANNOT_RUN;
            }
        },
    };
    let name = opts.name.clone().unwrap_or_else(|| {
        let host =
            std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_string()).unwrap_or_else(|_| "agent".into());
        format!("{host}-{}", std::process::id())
    });
    let run_as = match opts.run_as.as_deref().map(crate::task_env::User::for_run_as).transpose() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {e}");
            return client::CANNOT_RUN;
        }
    };
    let o = AgentOptions {
        server,
        run_as,
        token,
        name,
        resources: opts.resources.clone(),
        workdir: opts.workdir.clone().unwrap_or_else(|| PathBuf::from(".pw-agent")),
        kill_grace: Duration::from_millis(opts.kill_grace_ms.unwrap_or(5000)),
        announce: true,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return client::CANNOT_RUN;
        }
    };
    rt.block_on(async move {
        match agent::run_until_signalled(o).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                client::CANNOT_RUN
            }
        }
    })
}

/// Runs a client verb on a small runtime.
pub fn client<F: std::future::Future<Output = u8>>(f: impl FnOnce(ClientOptions) -> F, opts: ClientOptions) -> u8 {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(f(opts)),
        Err(e) => {
            eprintln!("error: {e}");
            client::CANNOT_RUN
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_commands_are_suggested_as_they_work_from_the_current_folder() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = std::fs::canonicalize(dir.path()).unwrap();
        let none = |_: &str| false;
        let here = StateDir::new(cwd.join(".pw"));
        std::fs::create_dir_all(&here.root).unwrap();
        assert_eq!(client_args_from(&here, "http://127.0.0.1:1", &cwd, none), "");
        let below = StateDir::new(cwd.join("appr/.pw"));
        assert_eq!(client_args_from(&below, "http://127.0.0.1:1", &cwd, none), " --state appr/.pw");
        let elsewhere = StateDir::new("/srv/ci state/.pw");
        assert_eq!(client_args_from(&elsewhere, "http://127.0.0.1:1", &cwd, none), " --state '/srv/ci state/.pw'");
        let all = |_: &str| true;
        assert_eq!(
            client_args_from(&below, "http://127.0.0.1:1", &cwd, all),
            " --server http://127.0.0.1:1 --state appr/.pw --token-file appr/.pw/api-token"
        );
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("a/b-c_d.pw"), "a/b-c_d.pw");
        assert_eq!(shell_word("it's here"), "'it'\\''s here'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn local_agents_are_named_local_and_a_number() {
        assert!(is_local_agent("local-1") && is_local_agent("local-12"));
        assert!(!is_local_agent("local-") && !is_local_agent("local-a") && !is_local_agent("ci-local-1"));
    }
}
