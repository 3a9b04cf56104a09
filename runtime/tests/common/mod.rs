//! Shared helpers of the runtime's integration tests: plans built in code, git repositories in
//! temporary folders, and an in-process server with agents speaking real HTTP on loopback.
#![allow(dead_code)]

use pw_compiler::plan::*;
use pw_runtime::agent::{self, AgentOptions};
use pw_runtime::engine::{Engine, EngineConfig};
use pw_runtime::protocol::{InstanceView, StatusResponse};
use pw_runtime::statedir::StateDir;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn src() -> Source {
    Source { file: "t.pw".into(), line: 1, column: 1 }
}

pub(crate) fn task(script: &str) -> Task {
    Task::new(TaskAction::Shell { script: script.into() }, src())
}

pub(crate) fn when(mut t: Task, w: TaskWhen) -> Task {
    t.when = w;
    t
}

pub(crate) fn fetch(pipeline: &str, stage: &str, job: &str, artifact: &str, into: &str) -> Task {
    Task {
        action: TaskAction::Fetch {
            pipeline: pipeline.into(),
            stage: stage.into(),
            job: job.into(),
            artifact: artifact.into(),
            into: into.into(),
        },
        dir: None,
        when: TaskWhen::Passed,
        source: src(),
    }
}

pub(crate) fn job(name: &str, tasks: Vec<Task>) -> Job {
    Job::new(name, tasks, src())
}

pub(crate) fn artifact(mut j: Job, name: &str, path: &str) -> Job {
    j.artifacts.push(Artifact { name: name.into(), path: path.into() });
    j
}

pub(crate) fn stage(name: &str, jobs: Vec<Job>) -> Stage {
    Stage::new(name, jobs, src())
}

pub(crate) fn pipeline(name: &str, stages: Vec<Stage>) -> Pipeline {
    Pipeline::new(name, stages, src())
}

pub(crate) fn plan(materials: Vec<Material>, pipelines: Vec<Pipeline>) -> Plan {
    Plan { plan_version: pw_compiler::runtime_api::plan::PLAN_VERSION, materials, pipelines }
}

pub(crate) fn material(name: &str, repo: &Path, poll_seconds: u64) -> Material {
    Material {
        name: name.into(),
        git: repo.to_string_lossy().into_owned(),
        branch: "main".into(),
        poll_seconds,
        path: ".".into(),
        source: src(),
    }
}

pub(crate) fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(script).current_dir(dir).output().expect("sh");
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A git repository with one commit holding `files`; returns its path.
pub(crate) fn git_repo(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let repo = root.join(name);
    std::fs::create_dir_all(&repo).unwrap();
    sh(&repo, "git init -q -b main");
    commit(&repo, files, "first");
    repo
}

/// Commits `files` and returns the new revision.
pub(crate) fn commit(repo: &Path, files: &[(&str, &str)], message: &str) -> String {
    for (name, text) in files {
        let p = repo.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, text).unwrap();
    }
    sh(repo, &format!("git add -A && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m '{message}' && git rev-parse HEAD"))
}

/// An in-process server on a loopback port with agents running as tasks.
pub(crate) struct Harness {
    pub engine: Arc<Engine>,
    pub url: String,
    pub dir: tempfile::TempDir,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Harness {
    pub(crate) async fn start(p: Plan, agents: &[(&str, &[&str])]) -> Harness {
        Self::start_with(p, agents, EngineConfig::default()).await
    }

    pub(crate) async fn start_with(p: Plan, agents: &[(&str, &[&str])], cfg: EngineConfig) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        let engine = Engine::start(state, p, cfg).expect("engine");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(pw_runtime::server::serve(engine.clone(), listener));
        let (stop, rx) = tokio::sync::watch::channel(false);
        let h = Harness { engine, url, dir, stop };
        for (name, resources) in agents {
            h.add_agent(name, resources, rx.clone());
        }
        h.wait(|s| s.agents.len() >= agents.len()).await;
        h
    }

    fn add_agent(&self, name: &str, resources: &[&str], rx: tokio::sync::watch::Receiver<bool>) {
        let o = AgentOptions {
            server: self.url.clone(),
            token: self.engine.tokens.agent.clone(),
            name: name.into(),
            resources: resources.iter().map(|r| r.to_string()).collect(),
            workdir: self.dir.path().join("agents").join(name),
            kill_grace: Duration::from_millis(500),
            announce: false,
            run_as: None,
        };
        tokio::spawn(async move { agent::run(o, rx).await });
    }

    /// Waits (up to a minute) for the status to satisfy `cond`.
    pub(crate) async fn wait(&self, cond: impl Fn(&StatusResponse) -> bool) -> StatusResponse {
        for _ in 0..3000 {
            let s = self.engine.status(None).expect("status");
            if cond(&s) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("condition not reached; status: {:#?}", self.engine.status(None).ok());
    }

    pub(crate) async fn finished(&self, pipeline: &str, counter: u32) -> InstanceView {
        let s = self
            .wait(|s| {
                s.instances.iter().any(|i| {
                    i.pipeline == pipeline
                        && i.counter == counter
                        && matches!(i.state.as_str(), "passed" | "failed" | "cancelled")
                })
            })
            .await;
        s.instances.into_iter().find(|i| i.pipeline == pipeline && i.counter == counter).unwrap()
    }

    pub(crate) fn log(&self, pipeline: &str, counter: u32, stage: &str, job: &str, attempt: Option<u32>) -> String {
        let r = self.engine.logs(pipeline, counter, stage, job, attempt, None).expect("logs");
        r.chunks.iter().map(|c| c.data.as_str()).collect()
    }

    /// Waits for the attempt's log to be complete (the agent sends it before reporting the end).
    pub(crate) async fn log_containing(&self, p: &str, c: u32, s: &str, j: &str, needle: &str) -> String {
        for _ in 0..500 {
            let l = self.log(p, c, s, j, None);
            if l.contains(needle) {
                return l;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("log of {p}/{c}/{s}/{j} never contained {needle:?}: {}", self.log(p, c, s, j, None));
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

pub(crate) fn job_state(i: &InstanceView, stage: &str, job: &str) -> String {
    let st = i.stages.iter().find(|s| s.name == stage).expect("stage");
    let j = st.jobs.iter().find(|j| j.name == job).expect("job");
    serde_json::to_value(j.attempts.last().unwrap().state).unwrap().as_str().unwrap().to_string()
}

pub(crate) fn job_reason(i: &InstanceView, stage: &str, job: &str) -> Option<String> {
    let st = i.stages.iter().find(|s| s.name == stage).expect("stage");
    st.jobs.iter().find(|j| j.name == job).and_then(|j| j.attempts.last()).and_then(|a| a.reason.clone())
}

/// The plan of the `.pw` files at `paths`, compiled as `pw run` compiles them; the diagnostics
/// when they have errors.
pub(crate) fn compile(paths: &[PathBuf]) -> Result<Plan, String> {
    let workspace = pw_compiler::driver::load(paths).map_err(|e| e.to_string())?;
    let analysis = pw_compiler::analyze(&workspace);
    let mut plan = analysis
        .plan(&workspace)
        .ok_or_else(|| pw_compiler::render::human::render_all(&analysis.diagnostics, &workspace, false))?;
    pw_runtime::load::absolutize(&mut plan);
    Ok(plan)
}
