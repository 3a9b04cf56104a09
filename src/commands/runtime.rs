//! What the runtime's commands share: the plan `pw run` and `pw server` hand the runtime
//! (compiled here, or saved by `pw plan -o`), their state folder, the tokio runtime they run on,
//! and the signal that stops a server or an agent.

use crate::commands::compile::{color, load_error};
use crate::{error, ExitStatus};
use miette::miette;
use pw_compiler::plan::Plan;
use pw_compiler::{driver, render};
use pw_runtime::load;
use std::path::PathBuf;

/// Why the `.pw` files gave no plan.
pub enum NoPlan {
    /// They have errors, drawn as `pw check` draws them.
    Errors(String),
    /// They could not be read.
    Unreadable(miette::Report),
}

/// Compiles the `.pw` files below `paths` into the plan the runtime runs, local materials made
/// absolute.
pub fn compile(paths: &[PathBuf], color: bool) -> Result<Plan, NoPlan> {
    let workspace = driver::load(paths).map_err(|e| NoPlan::Unreadable(load_error(&e)))?;
    let analysis = pw_compiler::check_workspace(&workspace);
    match analysis.plan(&workspace) {
        Some(mut plan) => {
            load::absolutize(&mut plan);
            Ok(plan)
        }
        None => Err(NoPlan::Errors(render::human::render_all(&analysis.diagnostics, &workspace, color))),
    }
}

/// The plan from `--plan` or from the `.pw` files; what stops it is printed.
pub fn plan_of(paths: &[PathBuf], plan: &Option<PathBuf>) -> Result<Plan, ExitStatus> {
    if let Some(file) = plan {
        return load::read_plan(file).map_err(|e| error::fail(miette!("{e}")));
    }
    compile(paths, color(&std::io::stderr())).map_err(|e| match e {
        NoPlan::Errors(text) => {
            eprint!("{text}");
            error::print(&miette!("the workspace has errors; nothing was run"));
            ExitStatus::Failure
        }
        NoPlan::Unreadable(report) => error::fail(report),
    })
}

/// The state folder when `--state` is not given: `.pw` beside the workspace or the plan file.
pub fn default_state(paths: &[PathBuf], plan: &Option<PathBuf>) -> PathBuf {
    match plan {
        Some(p) => load::default_state(std::slice::from_ref(p)),
        None => load::default_state(paths),
    }
}

/// A multi-threaded tokio runtime, or the error that it could not start.
pub fn tokio_runtime(builder: &mut tokio::runtime::Builder) -> Result<tokio::runtime::Runtime, ExitStatus> {
    builder.enable_all().build().map_err(|e| error::fail(miette!("cannot start the runtime: {e}")))
}

/// Waits for SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
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
