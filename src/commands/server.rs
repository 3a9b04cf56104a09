//! `pw server`: serves pipelines to remote agents until stopped, reloading the workspace when
//! its files change and polling materials.

use crate::commands::runtime::{compile, default_state, plan_of, shutdown_signal, tokio_runtime, NoPlan};
use crate::{error, ExitStatus};
use clap::Args;
use miette::miette;
use pw_compiler::plan::Plan;
use pw_runtime::engine::{Engine, EngineConfig};
use pw_runtime::protocol::EventKind;
use pw_runtime::statedir::StateDir;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct ServerArgs {
    /// Files, or folders to search for `*.pw` files.
    #[arg(required_unless_present = "plan")]
    pub paths: Vec<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8150]; only loopback unless told otherwise.
    #[arg(long)]
    pub listen: Option<String>,
    /// State folder [default: `.pw` beside the workspace].
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Serve a plan saved by `pw plan -o FILE` instead of `.pw` files.
    #[arg(long, conflicts_with = "paths")]
    pub plan: Option<PathBuf>,
    /// Do not poll materials for new commits.
    #[arg(long)]
    pub no_poll: bool,
    /// How long an agent running a job may stay silent, in milliseconds [default: 30000].
    #[arg(long, hide = true)]
    pub lease_ms: Option<u64>,
    /// How often agents running a job renew their lease, in milliseconds [default: 10000].
    #[arg(long, hide = true)]
    pub heartbeat_ms: Option<u64>,
    /// New agents take no job until `pw agent approve ID`.
    #[arg(long)]
    pub require_approval: bool,
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8150";

/// `pw server`.
pub fn server(args: ServerArgs) -> ExitStatus {
    let plan = match plan_of(&args.paths, &args.plan) {
        Ok(p) => p,
        Err(status) => return status,
    };
    match tokio_runtime(tokio::runtime::Builder::new_multi_thread().thread_name("pw-server")) {
        Ok(rt) => rt.block_on(server_async(args, plan)),
        Err(status) => status,
    }
}

async fn server_async(opts: ServerArgs, plan: Plan) -> ExitStatus {
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
        Err(e) => return error::fail(miette!("{e}")),
    };
    let state = engine.state.clone();
    let listen = opts.listen.clone().unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => return error::fail(miette!("cannot listen on {listen}: {e}")),
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or(listen);
    let url = format!("http://{addr}");
    let _ = std::fs::write(state.url_file(), &url);
    eprintln!("pw server listening on {url}");
    eprintln!("  agent token: {}", state.agent_token_file().display());
    eprintln!("  API token:   {}", state.api_token_file().display());
    eprintln!("  dashboard:   {}", pw_runtime::dashboard::url(&url));
    if !opts.no_poll {
        tokio::spawn(engine.clone().poll_materials());
    }
    tokio::spawn(report_failed_triggers(engine.clone()));
    if opts.plan.is_none() {
        tokio::spawn(watch(engine.clone(), opts.paths.clone()));
    }
    let serve = pw_runtime::server::serve(engine, listener);
    tokio::select! {
        r = serve => match r {
            Ok(()) => ExitStatus::Success,
            Err(e) => error::fail(miette!("{e}")),
        },
        _ = shutdown_signal() => {
            eprintln!("pw server stopping");
            ExitStatus::Success
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
                    eprintln!("pw server: {}", pw_runtime::progress::line(&e.kind));
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(_) => return,
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
        match compile(&paths, false) {
            Ok(plan) => {
                eprintln!("pw server: workspace reloaded ({} pipelines)", plan.pipelines.len());
                engine.set_plan(plan);
            }
            Err(NoPlan::Errors(text)) => {
                eprintln!("pw server: the workspace has errors; the last good configuration stays in force\n{text}")
            }
            Err(NoPlan::Unreadable(report)) => eprintln!(
                "pw server: the workspace cannot be read; the last good configuration stays in force\n{}",
                error::render(&report)
            ),
        }
    }
}
