//! The client commands: `pw trigger`, `status`, `approve`, `rerun`, `cancel` and `logs`, calls
//! to a server through the runtime's HTTP client, printed for people or as JSON.

use crate::{error, ExitStatus};
use clap::{Args, ValueEnum};
use pw_runtime::client::{mutating, recorded_status, state_dir, Client, ClientError, ClientOptions, Target};
use pw_runtime::protocol::StatusResponse;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Args)]
pub struct ClientArgs {
    /// The server's URL [default: PW_SERVER, or the `server-url` file of the state folder].
    #[arg(long)]
    pub server: Option<String>,
    /// State folder to find the server and the API token in [default: .pw].
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// File holding the API token [default: PW_API_TOKEN, or `api-token` in the state folder].
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: OutputFormat,
}

impl ClientArgs {
    fn options(&self) -> ClientOptions {
        ClientOptions { server: self.server.clone(), state: self.state.clone(), token_file: self.token_file.clone() }
    }

    /// Whether to print JSON rather than lines for people.
    fn json(&self) -> bool {
        self.format == OutputFormat::Json
    }
}

#[derive(Args)]
pub struct TriggerArgs {
    /// The pipeline to start.
    pub pipeline: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct StatusArgs {
    /// `pipeline` or `pipeline/counter` [default: everything].
    pub target: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct ApproveArgs {
    /// `pipeline/counter/stage`.
    pub target: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct RerunArgs {
    /// `pipeline/counter/stage`, or `pipeline/counter/stage/job` for one job.
    pub target: String,
    /// Re-run only the jobs that did not pass.
    #[arg(long)]
    pub failed: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct CancelArgs {
    /// `pipeline/counter`.
    pub target: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct LogsArgs {
    /// `pipeline/counter/stage/job`.
    pub target: String,
    /// Which attempt [default: the latest].
    #[arg(long)]
    pub attempt: Option<u32>,
    /// Keep printing until the job ends.
    #[arg(long, short)]
    pub follow: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Runs a client command on a small runtime: its errors are printed (on standard output too, as
/// JSON, under `--format json`); a refusal by the server is a failure, anything else an error.
fn client<F: Future<Output = Result<ExitStatus, ClientError>>>(
    opts: ClientOptions,
    json: bool,
    f: impl FnOnce(ClientOptions) -> F,
) -> ExitStatus {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return error::fail(miette::miette!("cannot start the client: {e}")),
    };
    match rt.block_on(f(opts)) {
        Ok(status) => status,
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({ "error": e.message() }));
            }
            let status = error::fail(miette::miette!("{}", e.message()));
            match e {
                ClientError::Refused(_) => ExitStatus::Failure,
                ClientError::Failed(_) => status,
            }
        }
    }
}

/// Says what was done, as a line or as JSON.
fn done(json: bool, what: String) -> Result<ExitStatus, ClientError> {
    if json {
        println!("{}", serde_json::json!({ "ok": true, "message": what }));
    } else {
        println!("{what}");
    }
    Ok(ExitStatus::Success)
}

/// `pipeline/counter[/stage[/job]]` with between `min` and `max` parts.
fn target(text: &str, min: usize, max: usize, shape: &str) -> Result<Target, ClientError> {
    Target::parse(text, min, max, shape).map_err(ClientError::Failed)
}

/// `pw trigger`.
pub fn trigger(a: TriggerArgs) -> ExitStatus {
    client(a.client.options(), a.client.json(), |o| async move {
        let r = mutating(&o)?.trigger(&a.pipeline).await?;
        if a.client.json() {
            println!("{}", serde_json::to_string(&r).unwrap_or_default());
            Ok(ExitStatus::Success)
        } else {
            done(false, format!("triggered {}/{}", r.pipeline, r.counter))
        }
    })
}

/// `pw approve`.
pub fn approve(a: ApproveArgs) -> ExitStatus {
    client(a.client.options(), a.client.json(), |o| async move {
        let t = target(&a.target, 3, 3, "`pipeline/counter/stage`")?;
        let path =
            format!("/instances/{}/{}/stages/{}/approve", t.pipeline, t.counter, t.stage.as_deref().unwrap_or(""));
        post(&o, a.client.json(), &path, None, format!("approved {}", a.target)).await
    })
}

/// `pw agent approve ID`: lets an agent waiting for approval take jobs.
pub fn approve_agent(id: String, args: ClientArgs) -> ExitStatus {
    client(args.options(), args.json(), |o| async move {
        post(&o, args.json(), &format!("/agents/{id}/approve"), None, format!("approved agent {id}")).await
    })
}

/// `pw rerun`.
pub fn rerun(a: RerunArgs) -> ExitStatus {
    client(a.client.options(), a.client.json(), |o| async move {
        let t = target(&a.target, 3, 4, "`pipeline/counter/stage` or `pipeline/counter/stage/job`")?;
        let path = format!("/instances/{}/{}/stages/{}/rerun", t.pipeline, t.counter, t.stage.as_deref().unwrap_or(""));
        let body = serde_json::json!({ "job": t.job, "failed_only": a.failed });
        let what = format!("re-running {}{}", a.target, if a.failed { " (failed jobs)" } else { "" });
        post(&o, a.client.json(), &path, Some(body), what).await
    })
}

/// `pw cancel`.
pub fn cancel(a: CancelArgs) -> ExitStatus {
    client(a.client.options(), a.client.json(), |o| async move {
        let t = target(&a.target, 2, 2, "`pipeline/counter`")?;
        let path = format!("/instances/{}/{}/cancel", t.pipeline, t.counter);
        post(&o, a.client.json(), &path, None, format!("cancelled {}", a.target)).await
    })
}

/// A call that changes the server's state, then says what was done.
async fn post(
    opts: &ClientOptions,
    json: bool,
    path: &str,
    body: Option<serde_json::Value>,
    what: String,
) -> Result<ExitStatus, ClientError> {
    mutating(opts)?.post(path, body).await?;
    done(json, what)
}

/// `pw status`: asks the server, or shows what the state folder recorded when none runs on it.
pub fn status(a: StatusArgs) -> ExitStatus {
    client(a.client.options(), a.client.json(), |o| async move {
        let pipeline = a.target.as_deref();
        let (name, counter) = match pipeline.map(|p| p.split_once('/').map_or((p, None), |(a, b)| (a, Some(b)))) {
            Some((n, c)) => (Some(n), c.map(str::parse::<u32>)),
            None => (None, None),
        };
        let counter =
            counter.transpose().map_err(|_| ClientError::Failed("the counter after `/` must be a number".into()))?;
        let mut s = match Client::new(&o) {
            Ok(c) => c.status(name).await?,
            Err(e) => {
                let recorded = recorded_status(&o, name).ok_or(e)??;
                if !a.client.json() {
                    eprintln!("no server is running on `{}`: as recorded when it stopped", state_dir(&o).display());
                }
                recorded
            }
        };
        if let Some(c) = counter {
            s.instances.retain(|i| i.counter == c);
        }
        if a.client.json() {
            println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
        } else {
            print!("{}", render_status(&s));
        }
        Ok(ExitStatus::Success)
    })
}

/// The human form of `pw status`.
pub fn render_status(s: &StatusResponse) -> String {
    let mut out = String::new();
    if s.instances.is_empty() {
        out.push_str("no pipeline instances\n");
    }
    for i in &s.instances {
        let state = i.state.replace('_', " ");
        out.push_str(&format!("{}/{}  {}  ({})\n", shown(&i.pipeline), i.counter, shown(&state), shown(&i.cause)));
        for (m, r) in &i.revisions {
            let short: String = r.chars().take(12).collect();
            out.push_str(&format!("  material {} at {}\n", shown(m), shown(&short)));
        }
        for st in &i.stages {
            let state = st.state.word();
            // A reason that only repeats the state (`cancelled`) says nothing more.
            let reason =
                st.reason.as_deref().filter(|r| *r != state).map(|r| format!("  {}", shown(r))).unwrap_or_default();
            out.push_str(&format!("  {:<14} {state}{reason}\n", shown(&st.name)));
            for j in &st.jobs {
                let Some(a) = j.attempts.last() else { continue };
                let state = a.state.word();
                let mut line = format!("    {:<16} {state}", shown(&j.name));
                if let Some(agent) = &a.agent {
                    line.push_str(&format!("  on {}", shown(agent)));
                }
                if j.attempts.len() > 1 {
                    line.push_str(&format!("  (attempt {})", a.number));
                }
                if let Some(r) = a.reason.as_deref().filter(|r| *r != state) {
                    line.push_str(&format!("  {}", shown(r)));
                }
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    for p in &s.pending {
        let what = match p.materials.as_slice() {
            [] => "looking up material revisions".to_string(),
            [one] => format!("looking up the revision of material {one}"),
            many => format!("looking up the revisions of materials {}", many.join(", ")),
        };
        out.push_str(&format!("{}: waiting to start ({}): {}\n", shown(&p.pipeline), shown(&p.cause), shown(&what)));
    }
    if !s.agents.is_empty() {
        out.push_str("agents:\n");
        for a in &s.agents {
            let job = a.job.as_deref().map(|j| format!("  {}", shown(j))).unwrap_or_default();
            let resources = a.resources.join(", ");
            out.push_str(&format!("  {:<16} {:<8} [{}]{job}\n", shown(&a.name), shown(&a.state), shown(&resources)));
        }
    }
    out
}

/// Text from the server (names an agent chose, reasons, causes) as it may be shown on a
/// terminal: control characters, which could move the cursor, recolour or forge lines, are
/// written as escapes (`\u{1b}`).
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let escaped = text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() });
    std::borrow::Cow::Owned(escaped.collect())
}

/// `pw logs`: a job's log, followed to its end with `--follow`.
pub fn logs(a: LogsArgs) -> ExitStatus {
    client(a.client.options(), a.client.json(), |o| async move {
        let t = target(&a.target, 4, 4, "`pipeline/counter/stage/job`")?;
        let c = Client::new(&o)?;
        let mut after = None;
        let mut attempt = a.attempt;
        loop {
            let r = c.logs(&t, attempt, after).await?;
            attempt.get_or_insert(r.attempt);
            for ch in &r.chunks {
                if a.client.json() {
                    println!("{}", serde_json::json!({ "attempt": r.attempt, "seq": ch.seq, "data": ch.data }));
                } else {
                    print!("{}", ch.data);
                }
                after = Some(ch.seq);
            }
            let _ = std::io::stdout().flush();
            if !a.follow || (r.finished && r.chunks.is_empty()) {
                return Ok(ExitStatus::Success);
            }
            if r.chunks.is_empty() {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pw_runtime::protocol::{AgentView, AttemptView, InstanceView, JobView, PendingView, StageView};
    use pw_runtime::state::{JobState, StageState};

    #[test]
    fn text_from_the_server_cannot_move_the_cursor_or_forge_lines() {
        let forged = "evil\u{1b}[2J\rbuild/1  passed\nx";
        let s = StatusResponse {
            instances: vec![InstanceView {
                pipeline: "build".into(),
                counter: 1,
                state: "failed".into(),
                cause: "triggered by \u{1b}]0;title\u{7}".into(),
                revisions: [("app".to_string(), "é\u{1b}".repeat(8))].into(),
                stages: vec![StageView {
                    name: "test".into(),
                    state: StageState::Failed,
                    reason: None,
                    jobs: vec![JobView {
                        name: "unit".into(),
                        attempts: vec![attempt(1, JobState::Failed, Some(forged), Some(forged))],
                    }],
                }],
            }],
            pending: vec![],
            agents: vec![AgentView {
                id: "x".into(),
                name: forged.into(),
                resources: vec![forged.into()],
                state: "idle".into(),
                job: None,
            }],
        };
        let out = render_status(&s);
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert_eq!(
            out.lines().count(),
            6,
            "a line for the instance, material, stage, job, agents' title and agent: {out}"
        );
        assert!(out.contains("evil\\u{1b}[2J\\rbuild/1  passed\\nx"), "{out}");
    }

    fn attempt(number: u32, state: JobState, agent: Option<&str>, reason: Option<&str>) -> AttemptView {
        AttemptView {
            number,
            state,
            agent: agent.map(String::from),
            reason: reason.map(String::from),
            artifacts: Default::default(),
        }
    }

    #[test]
    fn status_for_people() {
        let job = |name: &str, attempts: Vec<AttemptView>| JobView { name: name.into(), attempts };
        let s = StatusResponse {
            instances: vec![
                InstanceView {
                    pipeline: "build".into(),
                    counter: 7,
                    state: "running".into(),
                    cause: "triggered by pw run".into(),
                    revisions: [("app".to_string(), "0123456789abcdef0123".to_string())].into(),
                    stages: vec![
                        StageView {
                            name: "test".into(),
                            state: StageState::Running,
                            reason: None,
                            jobs: vec![
                                job("unit", vec![attempt(1, JobState::Assigned, Some("local-1"), None)]),
                                job("lint", vec![attempt(1, JobState::Scheduled, None, None)]),
                                job(
                                    "e2e",
                                    vec![
                                        attempt(1, JobState::Failed, Some("local-2"), Some("agent `local-2` lost")),
                                        attempt(2, JobState::Passed, Some("local-1"), None),
                                    ],
                                ),
                            ],
                        },
                        StageView { name: "ship".into(), state: StageState::Pending, reason: None, jobs: vec![] },
                    ],
                },
                InstanceView {
                    pipeline: "build".into(),
                    counter: 6,
                    state: "cancelled".into(),
                    cause: "triggered by pw run".into(),
                    revisions: Default::default(),
                    stages: vec![StageView {
                        name: "test".into(),
                        state: StageState::Cancelled,
                        reason: Some("cancelled".into()),
                        jobs: vec![job(
                            "unit",
                            vec![attempt(1, JobState::Cancelled, Some("local-1"), Some("cancelled"))],
                        )],
                    }],
                },
            ],
            pending: vec![PendingView {
                pipeline: "deploy".into(),
                cause: "after build/5/test".into(),
                materials: vec!["infra".into()],
                since_ms: 0,
            }],
            agents: vec![AgentView {
                id: "x".into(),
                name: "local-1".into(),
                resources: vec!["linux".into()],
                state: "building".into(),
                job: Some("build/7/test/unit".into()),
            }],
        };
        insta::assert_snapshot!(render_status(&s));
    }
}
