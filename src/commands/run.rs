//! `pw run`: an in-process server on loopback, local agents, the chosen pipelines triggered and
//! followed to the end.

use crate::commands::runtime::{default_state, plan_of, tokio_runtime};
use crate::{error, ExitStatus};
use clap::Args;
use miette::miette;
use pw_compiler::plan::Plan;
use pw_runtime::agent::{self, AgentOptions};
use pw_runtime::engine::{Engine, EngineConfig, Settled};
use pw_runtime::progress::Progress;
use pw_runtime::protocol::{EventKind, InstanceView, JobKey};
use pw_runtime::state::{Cause, JobState};
use pw_runtime::statedir::StateDir;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct RunArgs {
    /// Files, or folders to search for `*.pw` files.
    #[arg(required_unless_present = "plan")]
    pub paths: Vec<PathBuf>,
    /// Run this pipeline (and what it triggers) instead of every pipeline without `after`.
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Number of local agents [default: the number of cores].
    #[arg(long)]
    pub agents: Option<usize>,
    /// State folder [default: `.pw` beside the workspace].
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Resources of the local agents, comma-separated [default: every resource the jobs name].
    #[arg(long, value_delimiter = ',')]
    pub resources: Option<Vec<String>>,
    /// Run a plan saved by `pw plan -o FILE` instead of `.pw` files.
    #[arg(long, conflicts_with = "paths")]
    pub plan: Option<PathBuf>,
    /// Run tasks as this unprivileged user (when `pw run` runs as root), who cannot read the
    /// state folder's tokens and secrets.
    #[arg(long, value_name = "USER")]
    pub run_as: Option<String>,
}

/// `pw run`.
pub fn run(args: RunArgs) -> ExitStatus {
    let run_as = match args.run_as.as_deref().map(pw_runtime::agent::User::for_run_as).transpose() {
        Ok(u) => u,
        Err(e) => return error::fail(miette!("{e}")),
    };
    let plan = match plan_of(&args.paths, &args.plan) {
        Ok(p) => p,
        Err(status) => return status,
    };
    let rt = match tokio_runtime(tokio::runtime::Builder::new_multi_thread().thread_name("pw-server")) {
        Ok(rt) => rt,
        Err(status) => return status,
    };
    let status = rt.block_on(run_async(args, plan, run_as));
    rt.shutdown_timeout(Duration::from_secs(1));
    status
}

async fn run_async(opts: RunArgs, plan: Plan, run_as: Option<pw_runtime::agent::User>) -> ExitStatus {
    let roots: Vec<String> = match &opts.pipeline {
        Some(name) => match plan.pipeline(name) {
            Some(p) => vec![p.name.clone()],
            None => {
                let names: Vec<&str> = plan.pipelines.iter().map(|p| p.name.as_str()).collect();
                return error::fail(miette!("no pipeline named `{name}` (pipelines: {})", names.join(", ")));
            }
        },
        None => plan.pipelines.iter().filter(|p| p.after.is_empty()).map(|p| p.name.clone()).collect(),
    };
    if roots.is_empty() {
        return error::fail(miette!("the workspace has no pipeline to run"));
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
        Err(e) => return error::fail(miette!("{e}")),
    };
    let state = engine.state.clone();
    // The local agents of earlier runs on this state folder are replaced by this run's: their
    // records (and resources) would otherwise stand until their lease ran out.
    if let Err(e) = engine.forget_agents(|a| is_local_agent(&a.name)).await {
        return error::fail(miette!("{e}"));
    }
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return error::fail(miette!("cannot listen on loopback: {e}")),
    };
    let url = format!("http://{}", listener.local_addr().map(|a| a.to_string()).unwrap_or_default());
    let _ = std::fs::write(state.url_file(), &url);
    tokio::spawn(pw_runtime::server::serve(engine.clone(), listener));
    eprintln!("pw run: dashboard at {} while the run lasts", pw_runtime::dashboard::url(&url));
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
            run_as: run_as.clone(),
        };
        let rx = stop_rx.clone();
        tokio::spawn(async move {
            if let Err(e) = agent::run(o, rx).await {
                error::print(&miette!("{e}"));
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
    // An instance can settle before its last events reach this loop: its failed attempts are
    // read from the instance too.
    for job in failed_attempts(&settled.failed) {
        if !failed_jobs.contains(&job) {
            failed_jobs.push(job);
        }
    }
    let _ = stop_agents.send(true);
    engine.flush_durations().await;
    for job in &failed_jobs {
        print_tail(&engine, job);
    }
    let _ = std::fs::remove_file(state.url_file());
    if settled.failed.is_empty() && settled.not_started.is_empty() && !failed_to_start {
        let list: Vec<String> = started.iter().map(|(p, c)| format!("{p}/{c}")).collect();
        println!("passed: {}", list.join(", "));
        ExitStatus::Success
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
        ExitStatus::Failure
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
/// Every failed attempt of the instances.
fn failed_attempts(instances: &[InstanceView]) -> impl Iterator<Item = JobKey> + '_ {
    instances.iter().flat_map(|i| {
        i.stages.iter().flat_map(move |s| {
            s.jobs.iter().flat_map(move |j| {
                j.attempts.iter().filter(|a| a.state == JobState::Failed).map(move |a| JobKey {
                    pipeline: i.pipeline.clone(),
                    counter: i.counter,
                    stage: s.name.clone(),
                    job: j.name.clone(),
                    attempt: a.number,
                })
            })
        })
    })
}

fn print_tail(engine: &Arc<Engine>, job: &JobKey) {
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
