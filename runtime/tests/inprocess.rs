//! End-to-end runs with the server in the test process and agents as tasks, talking real HTTP on
//! loopback, with real git repositories and real processes.

mod common;

use common::*;
use pw_compiler::plan::{EnvValue, StageApproval, Task, TaskWhen, Upstream};
use pw_runtime::state::Cause;
use std::time::Duration;

fn by() -> Cause {
    Cause::Manual { by: "test".into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_stage_pipeline_with_parallel_jobs_and_artifacts_between_stages_and_pipelines() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = git_repo(tmp.path(), "app", &[("greeting.txt", "hello from git\n")]);
    let mut build = pipeline(
        "build",
        vec![
            stage(
                "compile",
                vec![
                    artifact(job("bin", vec![task("mkdir -p out && cp greeting.txt out/app && chmod +x out/app")]), "app", "out/app"),
                    artifact(job("docs", vec![task("mkdir -p site/css && echo doc > site/index.html && echo c > site/css/a.css")]), "site", "site"),
                ],
            ),
            stage(
                "test",
                vec![job(
                    "check",
                    vec![
                        fetch("build", "compile", "bin", "app", "got"),
                        fetch("build", "compile", "docs", "site", "."),
                        task("grep 'hello from git' got/app && test -x got/app && test -f site/css/a.css && echo checked"),
                    ],
                )],
            ),
        ],
    );
    build.materials = vec!["app".into()];
    let mut deploy = pipeline(
        "deploy",
        vec![stage("ship", vec![job("go", vec![fetch("build", "compile", "bin", "app", "."), task("cat app")])])],
    );
    deploy.after = vec![Upstream { pipeline: "build".into(), stage: "test".into() }];
    let h =
        Harness::start(plan(vec![material("app", &repo, 60)], vec![build, deploy]), &[("a1", &[]), ("a2", &[])]).await;
    let (_, counter) = h.engine.trigger("build", by()).await.unwrap();
    assert_eq!(counter, 1);
    let b = h.finished("build", 1).await;
    assert_eq!(b.state, "passed", "{b:#?}");
    let head = sh(&repo, "git rev-parse HEAD");
    assert_eq!(b.revisions["app"], head);
    let d = h.finished("deploy", 1).await;
    assert_eq!(d.state, "passed", "{d:#?}");
    assert_eq!(d.cause, "after build/1/test");
    let log = h.log_containing("deploy", 1, "ship", "go", "hello from git").await;
    assert!(log.contains("fetched build.compile.bin.app"), "{log}");
    let log = h.log_containing("build", 1, "test", "check", "checked").await;
    assert!(log.contains("task 3/3"), "{log}");
    let arts = &b.stages[0].jobs[0].attempts[0].artifacts;
    assert_eq!(arts["app"].sha256.len(), 64);
    assert!(h.engine.blobs.exists(&arts["app"].sha256));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_failed_tasks_run_only_after_a_failure_and_always_tasks_always() {
    let j = job(
        "j",
        vec![
            task("echo first; exit 3"),
            when(task("echo cleanup-ran"), TaskWhen::Failed),
            task("echo never-ran"),
            when(task("echo always-ran"), TaskWhen::Always),
        ],
    );
    let ok = job("ok", vec![task("true"), when(task("echo failed-only"), TaskWhen::Failed)]);
    let h = Harness::start(plan(vec![], vec![pipeline("p", vec![stage("s", vec![j, ok])])]), &[("a1", &[])]).await;
    h.engine.trigger("p", by()).await.unwrap();
    let i = h.finished("p", 1).await;
    assert_eq!(i.state, "failed");
    assert_eq!(job_state(&i, "s", "j"), "failed");
    assert_eq!(job_reason(&i, "s", "j").as_deref(), Some("task 1 (`echo first; exit 3`) exited with code 3"));
    assert_eq!(job_state(&i, "s", "ok"), "passed");
    let log = h.log_containing("p", 1, "s", "j", "always-ran").await;
    assert!(log.contains("cleanup-ran") && !log.contains("never-ran"), "{log}");
    let ok_log = h.log_containing("p", 1, "s", "ok", "task 1/2").await;
    assert!(!ok_log.contains("failed-only"), "{ok_log}");
    assert_eq!(i.stages[0].reason.as_deref(), Some("failed jobs: j"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_runs_in_its_folder_and_one_that_leads_out_through_a_symbolic_link_fails() {
    let outside = tempfile::tempdir().unwrap();
    let marker = outside.path().join("escaped");
    let in_dir = |mut t: Task, dir: &str| {
        t.dir = Some(dir.into());
        t
    };
    let j = job(
        "j",
        vec![
            task(&format!("mkdir -p services/api && ln -s {} away", outside.path().display())),
            in_dir(
                task("pwd; test \"$(pwd -P)\" = \"$(cd \"$PW_WORKSPACE\" && pwd -P)/services/api\""),
                "services/api",
            ),
            in_dir(task("touch escaped"), "away"),
            task("echo never-ran"),
        ],
    );
    let h = Harness::start(plan(vec![], vec![pipeline("p", vec![stage("s", vec![j])])]), &[("a1", &[])]).await;
    h.engine.trigger("p", by()).await.unwrap();
    let i = h.finished("p", 1).await;
    assert_eq!(job_state(&i, "s", "j"), "failed");
    assert_eq!(
        job_reason(&i, "s", "j").as_deref(),
        Some("task 3 (`touch escaped`): working folder `away` leads out of the workspace through a symbolic link")
    );
    assert!(!marker.exists(), "the task did not run outside the workspace");
    let log = h.log_containing("p", 1, "s", "j", "task 3/4").await;
    assert!(log.contains("task 2/4: pwd; test") && log.contains("(in services/api)"), "{log}");
    assert!(log.contains("/services/api\n") && !log.contains("never-ran"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_approval_waits_for_approve_over_http_with_the_api_token() {
    let mut ship = stage("ship", vec![job("go", vec![task("echo shipped")])]);
    ship.approval = StageApproval::Manual;
    let h = Harness::start(
        plan(vec![], vec![pipeline("p", vec![stage("build", vec![job("b", vec![task("true")])]), ship])]),
        &[("a1", &[])],
    )
    .await;
    h.engine.trigger("p", by()).await.unwrap();
    h.wait(|s| s.instances.iter().any(|i| i.state == "awaiting_approval")).await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/instances/p/1/stages/ship/approve", h.url);
    let r = http.post(&url).bearer_auth(&h.engine.tokens.agent).send().await.unwrap();
    assert_eq!(r.status(), 401, "the agent token cannot approve");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid token: this call needs the API token");
    let r = http.post(&url).bearer_auth(&h.engine.tokens.api).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let i = h.finished("p", 1).await;
    assert_eq!(i.state, "passed");
    let r = http.post(&url).bearer_auth(&h.engine.tokens.api).send().await.unwrap();
    assert_eq!(r.status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_of_failed_jobs_keeps_attempts_and_the_passed_jobs_results() {
    let tmp = tempfile::tempdir().unwrap();
    let flag = tmp.path().join("flag");
    let flaky = job("flaky", vec![task(&format!("test -f {}", flag.display()))]);
    let steady = artifact(job("steady", vec![task("echo x > x")]), "x", "x");
    let h =
        Harness::start(plan(vec![], vec![pipeline("p", vec![stage("s", vec![flaky, steady])])]), &[("a1", &[])]).await;
    h.engine.trigger("p", by()).await.unwrap();
    assert_eq!(h.finished("p", 1).await.state, "failed");
    std::fs::write(&flag, "").unwrap();
    h.engine.rerun("p", 1, "s", None, true).await.unwrap();
    let i = h.finished("p", 1).await;
    let i =
        if i.state == "passed" { i } else { h.wait(|s| s.instances[0].state == "passed").await.instances[0].clone() };
    let flaky = &i.stages[0].jobs[0];
    assert_eq!(flaky.attempts.len(), 2);
    assert_eq!(serde_json::to_value(flaky.attempts[0].state).unwrap(), "failed");
    assert_eq!(i.stages[0].jobs[1].attempts.len(), 1, "the passed job was not re-run");
    let first = h.log("p", 1, "s", "flaky", Some(1));
    assert!(first.contains("attempt 1"), "{first}");
    let second = h.log("p", 1, "s", "flaky", Some(2));
    assert!(second.contains("attempt 2"), "{second}");
    h.engine.rerun("p", 1, "s", Some("steady"), false).await.unwrap();
    let s = h.wait(|s| s.instances[0].state == "passed" && s.instances[0].stages[0].jobs[1].attempts.len() == 2).await;
    assert_eq!(s.instances[0].stages[0].jobs[0].attempts.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_running_process_group() {
    let tmp = tempfile::tempdir().unwrap();
    let pid = tmp.path().join("pid");
    let script = format!("sh -c 'echo $$ > {}; sleep 60' & wait", pid.display());
    let h = Harness::start(
        plan(vec![], vec![pipeline("p", vec![stage("s", vec![job("long", vec![task(&script)])])])]),
        &[("a1", &[])],
    )
    .await;
    h.engine.trigger("p", by()).await.unwrap();
    for _ in 0..500 {
        if std::fs::read_to_string(&pid).is_ok_and(|s| s.ends_with('\n')) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let child = std::fs::read_to_string(&pid).unwrap().trim().to_string();
    h.engine.cancel("p", 1).await.unwrap();
    let i = h.finished("p", 1).await;
    assert_eq!(i.state, "cancelled");
    assert_eq!(job_state(&i, "s", "long"), "cancelled");
    let mut gone = false;
    for _ in 0..300 {
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the task's process {child} survived the cancel");
    // The agent is free again.
    h.engine.set_plan(plan(vec![], vec![pipeline("p", vec![stage("s", vec![job("quick", vec![task("true")])])])]));
    h.engine.trigger("p", by()).await.unwrap();
    assert_eq!(h.finished("p", 2).await.state, "passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_counts_from_assignment_and_fails_the_job() {
    let mut j = job("slow", vec![task("sleep 30"), when(task("echo after-timeout"), TaskWhen::Always)]);
    j.timeout_seconds = Some(1);
    let h = Harness::start(plan(vec![], vec![pipeline("p", vec![stage("s", vec![j])])]), &[("a1", &[])]).await;
    h.engine.trigger("p", by()).await.unwrap();
    let i = h.finished("p", 1).await;
    assert_eq!(i.state, "failed");
    assert_eq!(job_reason(&i, "s", "slow").as_deref(), Some("timed out after 1s"));
    let log = h.log_containing("p", 1, "s", "slow", "timed out").await;
    assert!(!log.contains("after-timeout"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_no_agent_can_run_is_reported_at_once() {
    let mut gpu = job("train", vec![task("true")]);
    gpu.resources = vec!["linux".into(), "gpu".into()];
    let mut linux = job("build", vec![task("true")]);
    linux.resources = vec!["linux".into()];
    let h = Harness::start(
        plan(vec![], vec![pipeline("p", vec![stage("s", vec![gpu, linux])])]),
        &[("a1", &["linux"]), ("a2", &[])],
    )
    .await;
    h.engine.trigger("p", by()).await.unwrap();
    let i = h.finished("p", 1).await;
    assert_eq!(job_state(&i, "s", "train"), "failed");
    assert_eq!(
        job_reason(&i, "s", "train").as_deref(),
        Some("no agent has the resources [gpu] (agents: a1 [linux]; a2 [none])")
    );
    assert_eq!(job_state(&i, "s", "build"), "passed");
    assert_eq!(i.stages[0].jobs[1].attempts[0].agent.as_deref(), Some("a1"), "only a1 has `linux`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_reach_the_job_and_are_masked_in_its_log() {
    let mut j = job("j", vec![task("echo token=$TOKEN; test \"$TOKEN\" = 'hunter2-xyz'")]);
    j.env.insert("TOKEN".into(), EnvValue::Secret("deploy-token".into()));
    let mut missing = job("m", vec![task("true")]);
    missing.env.insert("X".into(), EnvValue::Secret("absent-secret".into()));
    let h = Harness::start(plan(vec![], vec![pipeline("p", vec![stage("s", vec![j, missing])])]), &[("a1", &[])]).await;
    std::fs::write(h.engine.state.root.join("secrets/deploy-token"), "hunter2-xyz\n").unwrap();
    h.engine.trigger("p", by()).await.unwrap();
    let i = h.finished("p", 1).await;
    assert_eq!(job_state(&i, "s", "j"), "passed");
    let log = h.log_containing("p", 1, "s", "j", "token=").await;
    assert!(log.contains("token=****") && !log.contains("hunter2"), "{log}");
    let reason = job_reason(&i, "s", "m").unwrap_or_default();
    assert!(reason.starts_with("secret `absent-secret` is not set"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_fans_out_on_the_server_when_the_stage_starts() {
    let mut d = job("ping", vec![task("echo pinging #{host}")]);
    d.discover = Some(pw_compiler::plan::Discover { var: "host".into(), command: "echo web-1; echo web-2".into() });
    let h =
        Harness::start(plan(vec![], vec![pipeline("p", vec![stage("s", vec![d])])]), &[("a1", &[]), ("a2", &[])]).await;
    h.engine.trigger("p", by()).await.unwrap();
    let i = h.finished("p", 1).await;
    assert_eq!(i.state, "passed");
    let names: Vec<&str> = i.stages[0].jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["ping-web-1", "ping-web-2"]);
    h.log_containing("p", 1, "s", "ping-web-2", "pinging web-2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_instances_run_at_once_and_max_instances_queues_the_rest() {
    let free = pipeline("free", vec![stage("s", vec![job("j", vec![task("sleep 0.3")])])]);
    let mut one = pipeline("one", vec![stage("s", vec![job("j", vec![task("sleep 0.3")])])]);
    one.max_instances = Some(1);
    let h = Harness::start(plan(vec![], vec![free, one]), &[("a1", &[]), ("a2", &[]), ("a3", &[]), ("a4", &[])]).await;
    for _ in 0..2 {
        h.engine.trigger("free", by()).await.unwrap();
        h.engine.trigger("one", by()).await.unwrap();
    }
    let s = h.engine.status(None).unwrap();
    let state = |p: &str, c: u32| s.instances.iter().find(|i| i.pipeline == p && i.counter == c).unwrap().state.clone();
    assert_eq!(state("free", 2), "running");
    assert_eq!(state("one", 1), "running");
    assert_eq!(state("one", 2), "queued");
    for (p, c) in [("free", 1), ("free", 2), ("one", 1), ("one", 2)] {
        assert_eq!(h.finished(p, c).await.state, "passed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_commit_on_a_material_triggers_its_pipelines() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = git_repo(tmp.path(), "app", &[("v.txt", "1\n")]);
    let mut p = pipeline("p", vec![stage("s", vec![job("j", vec![task("cat v.txt")])])]);
    p.materials = vec!["app".into()];
    let h = Harness::start(plan(vec![material("app", &repo, 1)], vec![p]), &[("a1", &[])]).await;
    tokio::spawn(h.engine.clone().poll_materials());
    let first = h.finished("p", 1).await;
    assert_eq!(first.state, "passed");
    let rev = commit(&repo, &[("v.txt", "2\n")], "second");
    let second = h.finished("p", 2).await;
    assert_eq!(second.revisions["app"], rev);
    assert!(second.cause.starts_with(&format!("new commit {} on app", &rev[..12])), "{}", second.cause);
    h.log_containing("p", 2, "s", "j", "2\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_unauthorised_requests_get_json_errors() {
    let h =
        Harness::start(plan(vec![], vec![pipeline("p", vec![stage("s", vec![job("j", vec![task("true")])])])]), &[])
            .await;
    // No connection reuse: a refused body (413) closes its connection while the next request may pick it.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let api = |p: &str| format!("{}/api/v1{p}", h.url);
    let agent = h.engine.tokens.agent.clone();
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (http.post(api("/agents/register")).body("{}"), 401, "missing `Authorization"),
        (http.post(api("/agents/register")).bearer_auth("wrong").body("{}"), 401, "invalid token"),
        (http.post(api("/agents/register")).bearer_auth(&agent).body("{not json"), 400, "malformed request body"),
        (
            http.post(api("/agents/register"))
                .bearer_auth(&agent)
                .json(&serde_json::json!({"name": "", "resources": []})),
            400,
            "1 to 255",
        ),
        (http.post(api("/agents/x/work?wait_ms=abc")).bearer_auth(&agent), 400, "malformed query"),
        (http.post(api("/agents/unknown/work?wait_ms=0")).bearer_auth(&agent), 404, "unknown agent"),
        (http.post(api("/attempts/abc/complete")).bearer_auth(&agent).body("{}"), 400, "not a valid attempt id"),
        (
            http.put(api(&format!("/attempts/1/artifacts/..%2Fetc?agent_id=x&sha256={}", "a".repeat(64))))
                .bearer_auth(&agent),
            400,
            "invalid artifact name",
        ),
        (
            http.put(api("/attempts/1/artifacts/ok?agent_id=x&sha256=../../x")).bearer_auth(&agent),
            400,
            "sha256 must be",
        ),
        (http.get(api("/artifacts/..%2F..%2Fpw.db")).bearer_auth(&h.engine.tokens.api), 400, "sha256 must be"),
        (http.get(api(&format!("/artifacts/{}", "a".repeat(64)))).bearer_auth(&agent), 401, "needs the API token"),
        (http.post(api("/attempts/1/complete")).bearer_auth(&agent).body("{}"), 401, "invalid job token"),
        (http.post(api("/pipelines/p/trigger")).bearer_auth(&agent), 401, "needs the API token"),
        (http.post(api("/pipelines/nope/trigger")).bearer_auth(&h.engine.tokens.api), 404, "no pipeline named `nope`"),
        (http.get(api("/instances/p/x")), 400, "not a valid counter"),
        (http.get(api("/nowhere")), 404, "no such endpoint"),
        (http.get(api("/pipelines/p/trigger")), 405, "method not allowed"),
        (http.post(api("/agents/register")).bearer_auth(&agent).body(vec![b' '; 5 << 20]), 413, "length limit"),
        (http.get(api("/instances/%FF/1")), 400, "UTF-8"),
        (
            http.post(api("/agents/register"))
                .header("Authorization", format!("bearer {agent}"))
                .json(&serde_json::json!({"name": "lower-case-scheme", "resources": []})),
            200,
            "",
        ),
        // `/` is the dashboard's; other paths outside the API are not found.
        (http.get(format!("{}/nothing-here", h.url)), 404, "no such endpoint"),
    ];
    for (req, status, needle) in cases {
        let r = req.send().await.unwrap();
        let code = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        let msg = body["error"].as_str().unwrap_or_default().to_string();
        assert_eq!(code, status, "{msg}");
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }
    // The server still works.
    let r = http.post(api("/pipelines/p/trigger")).bearer_auth(&h.engine.tokens.api).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_with_a_wrong_hash_or_over_the_limit_are_refused() {
    let cfg = pw_runtime::engine::EngineConfig { upload_limit: 1000, ..Default::default() };
    let j = job("j", vec![task("sleep 30")]);
    let h = Harness::start_with(plan(vec![], vec![pipeline("p", vec![stage("s", vec![j])])]), &[], cfg).await;
    let http = reqwest::Client::new();
    let agent = h.engine.tokens.agent.clone();
    let (id, credential) = register(&http, &h.url, &agent, None).await;
    h.engine.trigger("p", by()).await.unwrap();
    let a = work(&http, &h.url, &id, &credential, 5000).await.expect("an assignment");
    let aid = a["attempt_id"].as_u64().unwrap();
    let job_token = a["job_token"].as_str().unwrap().to_string();
    let put = |body: Vec<u8>, sha: String| {
        http.put(format!("{}/api/v1/attempts/{aid}/artifacts/x?sha256={sha}", h.url))
            .bearer_auth(&job_token)
            .body(body)
            .send()
    };
    let r = put(b"hello".to_vec(), "0".repeat(64)).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("upload corrupted"));
    let r = put(vec![0u8; 5000], "0".repeat(64)).await.unwrap();
    assert_eq!(r.status(), 413);
    // A declared length over the limit is refused before any byte is read.
    let never_sent = reqwest::Body::wrap_stream(futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>());
    let r = http
        .put(format!("{}/api/v1/attempts/{aid}/artifacts/x?sha256={}", h.url, "0".repeat(64)))
        .bearer_auth(&job_token)
        .header(reqwest::header::CONTENT_LENGTH, 1_000_000)
        .body(never_sent)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let good = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".to_string();
    let r = put(b"hello".to_vec(), good.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    // The limit is a quota on all of the attempt's artifacts: 5 bytes are used.
    let r = http
        .put(format!("{}/api/v1/attempts/{aid}/artifacts/y?sha256={}", h.url, "1".repeat(64)))
        .bearer_auth(&job_token)
        .body(vec![0u8; 996])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("for all the artifacts of an attempt together"));
    let r = http
        .get(format!("{}/api/v1/artifacts/{good}?attempt={aid}", h.url))
        .bearer_auth(&job_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello");
    let tmp = std::fs::read_dir(h.engine.state.root.join("artifacts/tmp")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(tmp, 0, "refused uploads leave no temporary file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_pw_files_compile_and_run_when_the_checker_accepts_them() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("ci.pw");
    std::fs::write(
        &file,
        r#"
pipeline hello {
  stage build {
    job compile {
      run "mkdir -p out && printf 'int main(void){return 0;}' > out/m.c && echo built > out/result.txt"
      artifact result = "out/result.txt"
    }
  }
  stage test {
    job check {
      fetch build.compile.result into "in"
      run "grep built in/result.txt"
    }
  }
}
"#,
    )
    .unwrap();
    let plan = match common::compile(&[file]) {
        Ok(p) if !p.pipelines.is_empty() => p,
        // The checker does not produce pipelines yet: nothing to run.
        other => panic!("the workspace did not compile: {:?}", other.err()),
    };
    let h = Harness::start(plan, &[("a1", &[])]).await;
    h.engine.trigger("hello", by()).await.unwrap();
    assert_eq!(h.finished("hello", 1).await.state, "passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passed_jobs_durations_are_exported_for_the_linter() {
    use pw_compiler::lint::history::{History, Recorded};
    let p = pipeline(
        "build",
        vec![
            stage("compile", vec![job("Linux", vec![task("true"), task("true")]), job("broken", vec![task("exit 1")])]),
            stage("never", vec![job("skipped", vec![task("true")])]),
        ],
    );
    let h = Harness::start(plan(vec![], vec![p]), &[("a1", &[])]).await;
    for counter in 1..=2 {
        h.engine.trigger("build", by()).await.unwrap();
        assert_eq!(h.finished("build", counter).await.state, "failed");
    }
    let path = h.dir.path().join("state").join("durations.json");
    let mut text = String::new();
    for _ in 0..500 {
        text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains("\"runs\": 2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
    assert_eq!(v["version"], 1, "{text}");
    let task = |i: usize| {
        serde_json::json!({"pipeline": "build", "stage": "compile", "job": "Linux", "task": i,
            "median_seconds": 0, "runs": 2})
    };
    assert_eq!(v["tasks"], serde_json::json!([task(0), task(1)]), "only the passed tasks have runs: {text}");
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "only the passed job has runs: {text}");
    let entry = jobs[0].as_object().unwrap();
    let mut keys: Vec<&str> = entry.keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["job", "median_seconds", "pipeline", "runs", "stage"]);
    assert_eq!(
        (&entry["pipeline"], &entry["stage"], &entry["job"]),
        (&"build".into(), &"compile".into(), &"Linux".into())
    );
    let history = History::parse(&text).unwrap();
    assert_eq!(history.job("build", "compile", "linux"), Some(Recorded { median_secs: 0, runs: 2 }));
    assert!(!dir_has_temp_files(&h.dir.path().join("state")), "the export is renamed into place");
}

fn dir_has_temp_files(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_durations_written_by_the_runtime_reach_the_linters_rules() {
    use pw_compiler::lint::check_and_lint;
    use pw_compiler::lint::history::{DurationsFile, History};
    use pw_compiler::lint::LintConfig;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("ci.pw");
    let text = r#"
pipeline build {
  stage test {
    job units {
      timeout = 10m
      run "printf 'sleep 0.6' > work.sh"
      run "sh work.sh -p api"
      run "sh work.sh -p core"
      run "sh work.sh -p cli"
    }
  }
}
"#;
    std::fs::write(&file, text).unwrap();
    let plan = common::compile(&[file]).unwrap_or_else(|e| panic!("{e:?}"));
    let h = Harness::start(plan, &[("a1", &[])]).await;
    h.engine.trigger("build", by()).await.unwrap();
    assert_eq!(h.finished("build", 1).await.state, "passed");
    h.engine.flush_durations().await;
    let state = h.dir.path().join("state");
    let written = std::fs::read_to_string(state.join("durations.json")).unwrap();
    let file: DurationsFile = serde_json::from_str(&written).unwrap_or_else(|e| panic!("{e}: {written}"));
    let tasks: Vec<(usize, u32)> = file.tasks.iter().map(|t| (t.task, t.runs)).collect();
    assert_eq!(tasks, [(0, 1), (1, 1), (2, 1), (3, 1)], "{written}");
    for t in &file.tasks[1..] {
        assert!(t.median_seconds >= 1, "a task sleeping 0.6s takes about 1s: {written}");
    }

    let mut ws = pw_compiler::Workspace::new();
    ws.add("ci.pw", text);
    let config = LintConfig::parse(
        std::path::Path::new("pipewright.toml"),
        "[lint]\nselect = [\"serial-independent-work\"]\n[lint.serial-independent-work]\nmin-duration = \"2s\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let config = pw_compiler::lint::Configs::single(config);
    let fired = |history: &History| check_and_lint(&ws, &config, history).1.iter().any(|d| d.code == "L0006");
    assert!(!fired(&History::default()), "without durations the rule has nothing to go on");
    assert!(fired(&History::load(&state).unwrap()), "{written}");
    // The task medians alone are enough: the rule reads them, not only the job's.
    let tasks_only = DurationsFile { jobs: Vec::new(), ..file };
    let only = serde_json::to_string(&tasks_only).unwrap();
    assert!(fired(&History::parse(&only).unwrap()), "{only}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downstream_trigger_pending_at_a_crash_is_carried_out_once_after_the_restart() {
    use pw_runtime::engine::{Engine, EngineConfig};
    use pw_runtime::protocol::JobResult;
    use pw_runtime::scheduler::{Config, Effect, NewAgent, Scheduler};
    use pw_runtime::statedir::StateDir;
    use pw_runtime::store::Store;
    let tmp = tempfile::tempdir().unwrap();
    let repo = git_repo(tmp.path(), "lib", &[("v.txt", "1\n")]);
    let up = pipeline("up", vec![stage("s", vec![job("j", vec![task("true")])])]);
    let mut down = pipeline("down", vec![stage("s", vec![job("j", vec![task("cat v.txt")])])]);
    down.materials = vec!["lib".into()];
    down.after = vec![Upstream { pipeline: "up".into(), stage: "s".into() }];
    let p = plan(vec![material("lib", &repo, 60)], vec![up, down]);
    let state = StateDir::new(tmp.path().join("state"));
    state.init().unwrap();
    {
        // The server's first life, up to the crash: the upstream stage passes and its result is
        // committed, but the revision of `lib` is never looked up and `down` never created.
        let (store, _) = Store::open(&state.database()).unwrap();
        let mut s = Scheduler::new(p.clone(), Config::default());
        s.register_agent(NewAgent::new("a1", "agent", Vec::new()), 0);
        s.trigger("up", by(), Vec::new(), Vec::new(), 0).unwrap();
        let a = s.assign("a1", 1).unwrap().unwrap();
        s.complete(a, "a1", JobResult::Passed, None, 0, 2).unwrap();
        assert!(s.take_effects().iter().any(|e| matches!(e, Effect::TriggerLater(_))));
        store.queue(pw_runtime::engine::dirty_writes(&mut s)).await.unwrap().unwrap();
    }
    let pending = || {
        let db = rusqlite::Connection::open(state.database()).unwrap();
        db.query_row("SELECT count(*) FROM pending_triggers", [], |r| r.get::<_, i64>(0)).unwrap()
    };
    assert_eq!(pending(), 1, "the trigger was saved with the stage's result");
    let head = sh(&repo, "git rev-parse HEAD");
    for life in 2..=3 {
        let engine = Engine::start(state.clone(), p.clone(), EngineConfig::default()).unwrap();
        let mut downs = Vec::new();
        for _ in 0..500 {
            downs = engine.status(Some("down")).unwrap().instances;
            if !downs.is_empty() && pending() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if life == 3 {
            // Time for a second trigger to show, were the first one carried out again.
            tokio::time::sleep(Duration::from_millis(300)).await;
            downs = engine.status(Some("down")).unwrap().instances;
        }
        assert_eq!(downs.len(), 1, "life {life}: exactly one instance of down: {downs:#?}");
        assert_eq!((downs[0].counter, downs[0].cause.as_str()), (1, "after up/1/s"));
        assert_eq!(downs[0].revisions["lib"], head);
        assert_eq!(pending(), 0, "life {life}: the trigger is forgotten once carried out");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_history_survives_a_restart_and_keeps_the_newest_events() {
    use pw_runtime::engine::{Engine, EngineConfig};
    use pw_runtime::protocol::EventKind;
    use pw_runtime::statedir::StateDir;
    let tmp = tempfile::tempdir().unwrap();
    let p = plan(vec![], vec![pipeline("p", vec![stage("s", vec![job("j", vec![task("true")])])])]);
    let state = StateDir::new(tmp.path().join("state"));
    let cfg = EngineConfig { events_kept: 10, ..Default::default() };
    let before = {
        let engine = Engine::start(state.clone(), p.clone(), cfg.clone()).unwrap();
        engine.trigger("p", by()).await.unwrap();
        let (events, next) = engine.events_after(0, Duration::ZERO).await.unwrap();
        let kinds: Vec<&EventKind> = events.iter().map(|e| &e.kind).collect();
        assert!(
            matches!(
                &kinds[..],
                [EventKind::InstanceStarted { .. }, EventKind::StageStarted { .. }, EventKind::JobScheduled { .. }]
            ),
            "{kinds:?}"
        );
        assert_eq!((events[0].seq, next), (1, 3));
        events
    };
    let engine = Engine::start(state.clone(), p.clone(), cfg).unwrap();
    let (events, _) = engine.events_after(0, Duration::ZERO).await.unwrap();
    assert_eq!(events, before, "the history is read back after a restart");
    for _ in 0..5 {
        engine.trigger("p", by()).await.unwrap();
    }
    let (events, next) = engine.events_after(0, Duration::ZERO).await.unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (9..=18).collect::<Vec<u64>>(), "numbers continue; only the newest 10 are kept");
    assert_eq!(next, 18);
    assert!(matches!(&events[9].kind, EventKind::JobScheduled { job } if job.counter == 6));
    let (none, next) = engine.events_after(18, Duration::from_millis(50)).await.unwrap();
    assert_eq!((none.len(), next), (0, 18));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_in_runs_the_downstream_once_both_upstreams_ran_the_same_new_commit() {
    use pw_runtime::protocol::EventKind;
    let tmp = tempfile::tempdir().unwrap();
    let repo = git_repo(tmp.path(), "shared", &[("v.txt", "1\n")]);
    let first = sh(&repo, "git rev-parse HEAD");
    let mut a = pipeline("a", vec![stage("s", vec![job("j", vec![task("cat v.txt")])])]);
    a.materials = vec!["shared".into()];
    let mut b = pipeline("b", vec![stage("s", vec![job("j", vec![task("sleep 0.5; cat v.txt")])])]);
    b.materials = vec!["shared".into()];
    let mut c = pipeline(
        "c",
        vec![stage("s", vec![job("j", vec![task("echo \"c at $(git rev-parse HEAD): $(cat v.txt)\"")])])],
    );
    c.materials = vec!["shared".into()];
    c.after = vec![
        Upstream { pipeline: "a".into(), stage: "s".into() },
        Upstream { pipeline: "b".into(), stage: "s".into() },
    ];
    let h = Harness::start(plan(vec![material("shared", &repo, 1)], vec![a, b, c]), &[("a1", &[]), ("a2", &[])]).await;
    tokio::spawn(h.engine.clone().poll_materials());
    let c1 = h.finished("c", 1).await;
    assert_eq!((c1.state.as_str(), c1.revisions["shared"].as_str()), ("passed", first.as_str()));
    let second = commit(&repo, &[("v.txt", "2\n")], "second");
    for p in ["a", "b"] {
        let i = h.finished(p, 2).await;
        assert_eq!((i.state.as_str(), i.revisions["shared"].as_str()), ("passed", second.as_str()), "{p}/2");
    }
    let c2 = h.finished("c", 2).await;
    assert_eq!(c2.state, "passed", "{c2:#?}");
    assert_eq!(c2.revisions["shared"], second, "c runs with the revision both upstreams ran");
    assert!(c2.cause == "after a/2/s" || c2.cause == "after b/2/s", "{}", c2.cause);
    h.log_containing("c", 2, "s", "j", &format!("c at {second}: 2")).await;
    // c/2 started only after both upstreams passed the new commit, and no other c ran.
    let (events, _) = h.engine.events_after(0, Duration::ZERO).await.unwrap();
    let seq_of = |f: &dyn Fn(&EventKind) -> bool| events.iter().find(|e| f(&e.kind)).map(|e| e.seq);
    let passed = |p: &'static str| move |k: &EventKind| matches!(k, EventKind::StageFinished { pipeline, counter: 2, .. } if pipeline == p);
    let started = seq_of(&|k| matches!(k, EventKind::InstanceStarted { pipeline, counter: 2, .. } if pipeline == "c"));
    let (a2, b2) = (seq_of(&passed("a")).unwrap(), seq_of(&passed("b")).unwrap());
    assert!(started.unwrap() > a2.max(b2), "c/2 started at event {started:?}, a/2 passed at {a2}, b/2 at {b2}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cs = h.engine.status(Some("c")).unwrap().instances;
    assert_eq!(cs.len(), 2, "{cs:#?}");
}

/// Registers an agent over HTTP (as the agent `previous` names, if given): its id and credential.
async fn register(http: &reqwest::Client, url: &str, token: &str, previous: Option<(&str, &str)>) -> (String, String) {
    let body = serde_json::json!({
        "name": "manual", "resources": [], "id": previous.map(|p| p.0), "credential": previous.map(|p| p.1)
    });
    let r = http.post(format!("{url}/api/v1/agents/register")).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    (v["agent_id"].as_str().unwrap().to_string(), v["credential"].as_str().unwrap().to_string())
}

/// Asks for work as agent `id` with `bearer`: the assignment, or the status when there is none.
async fn work(
    http: &reqwest::Client,
    url: &str,
    id: &str,
    bearer: &str,
    wait_ms: u64,
) -> Result<serde_json::Value, u16> {
    let r =
        http.post(format!("{url}/api/v1/agents/{id}/work?wait_ms={wait_ms}")).bearer_auth(bearer).send().await.unwrap();
    match r.status().as_u16() {
        200 => Ok(r.json().await.unwrap()),
        code => Err(code),
    }
}

/// Posts an attempt call with `bearer`: the status.
async fn attempt_call(
    http: &reqwest::Client,
    url: &str,
    aid: u64,
    what: &str,
    bearer: &str,
    body: serde_json::Value,
) -> u16 {
    let r =
        http.post(format!("{url}/api/v1/attempts/{aid}/{what}")).bearer_auth(bearer).json(&body).send().await.unwrap();
    r.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_token_only_registers_credentials_prove_agents_and_job_tokens_one_live_attempt() {
    let p =
        pipeline("p", vec![stage("s", vec![job("one", vec![task("sleep 30")]), job("two", vec![task("sleep 30")])])]);
    let h = Harness::start(plan(vec![], vec![p]), &[]).await;
    let http = reqwest::Client::new();
    let (url, reg) = (h.url.clone(), h.engine.tokens.agent.clone());
    let (a, cred_a) = register(&http, &url, &reg, None).await;
    let (b, cred_b) = register(&http, &url, &reg, None).await;
    h.engine.trigger("p", by()).await.unwrap();
    // An agent id proves nothing: neither the agent token nor another agent's credential works.
    assert_eq!(work(&http, &url, &a, &reg, 0).await.unwrap_err(), 401, "the agent token only registers");
    assert_eq!(work(&http, &url, &a, &cred_b, 0).await.unwrap_err(), 401, "B's credential is not A's");
    let job_a = work(&http, &url, &a, &cred_a, 5000).await.expect("A gets a job");
    let job_b = work(&http, &url, &b, &cred_b, 5000).await.expect("B gets a job");
    let (aid_a, token_a) = (job_a["attempt_id"].as_u64().unwrap(), job_a["job_token"].as_str().unwrap().to_string());
    let (aid_b, token_b) = (job_b["attempt_id"].as_u64().unwrap(), job_b["job_token"].as_str().unwrap().to_string());
    assert_ne!(token_a, token_b);
    // A job token works for its own attempt only; nothing else reports on an attempt.
    let passed = serde_json::json!({"result": "passed", "at_us": 1});
    let log = serde_json::json!({"seq": 0, "data": "forged\n"});
    for bearer in [&token_a, &reg, &cred_b, &h.engine.tokens.api] {
        assert_eq!(attempt_call(&http, &url, aid_b, "complete", bearer, passed.clone()).await, 401);
        assert_eq!(attempt_call(&http, &url, aid_b, "logs", bearer, log.clone()).await, 401);
    }
    let fetch = http
        .get(format!("{url}/api/v1/attempts/{aid_b}/fetch?pipeline=p&stage=s&job=one&artifact=x"))
        .bearer_auth(&token_a)
        .send()
        .await
        .unwrap();
    assert_eq!(fetch.status(), 401);
    assert_eq!(attempt_call(&http, &url, aid_a, "logs", &token_a, log.clone()).await, 204);
    let huge = serde_json::json!({"seq": u64::MAX, "data": "x"});
    assert_eq!(attempt_call(&http, &url, aid_a, "logs", &token_a, huge).await, 400, "seq fits the database");
    assert_eq!(attempt_call(&http, &url, aid_a, "complete", &token_a, passed.clone()).await, 204);
    // Dead once its attempt is over.
    assert_eq!(
        attempt_call(&http, &url, aid_a, "logs", &token_a, serde_json::json!({"seq": 1, "data": "x"})).await,
        410
    );
    assert_eq!(attempt_call(&http, &url, aid_a, "heartbeat", &token_a, serde_json::json!({"wait_ms": 0})).await, 410);
    // A known id is given back only with its credential.
    let (other, _) = register(&http, &url, &reg, Some((&a, &cred_b))).await;
    assert_ne!(other, a, "a wrong credential registers a new agent");
    let (same, again) = register(&http, &url, &reg, Some((&a, &cred_a))).await;
    assert_eq!((same.as_str(), again.as_str()), (a.as_str(), cred_a.as_str()));
    // A returning agent holds nothing: its job is lost at once, not after the lease.
    let _ = register(&http, &url, &reg, Some((&b, &cred_b))).await;
    let s = h.engine.status(None).unwrap();
    let two = &s.instances[0].stages[0].jobs.iter().find(|j| j.name == "two").unwrap().attempts[0];
    assert_eq!(serde_json::to_value(two.state).unwrap(), "failed");
    assert!(two.reason.as_deref().unwrap_or_default().contains("restarted while running the job"), "{two:?}");
    assert_eq!(attempt_call(&http, &url, aid_b, "complete", &token_b, passed).await, 410);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_wait_for_approval_when_the_server_requires_it() {
    let cfg = pw_runtime::engine::EngineConfig { require_approval: true, ..Default::default() };
    let p = pipeline("p", vec![stage("s", vec![job("j", vec![task("true")])])]);
    let h = Harness::start_with(plan(vec![], vec![p]), &[], cfg).await;
    let http = reqwest::Client::new();
    let (id, cred) = register(&http, &h.url, &h.engine.tokens.agent, None).await;
    h.engine.trigger("p", by()).await.unwrap();
    assert_eq!(work(&http, &h.url, &id, &cred, 300).await.unwrap_err(), 204, "no job before approval");
    let s = h.engine.status(None).unwrap();
    assert_eq!(s.agents[0].state, "awaiting_approval");
    let approve = format!("{}/api/v1/agents/{id}/approve", h.url);
    let r = http.post(&approve).bearer_auth(&h.engine.tokens.agent).send().await.unwrap();
    assert_eq!(r.status(), 401, "the agent token cannot approve agents");
    let r = http.post(&approve).bearer_auth(&h.engine.tokens.api).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(work(&http, &h.url, &id, &cred, 5000).await.is_ok(), "an approved agent gets the job");
    let r = http.post(&approve).bearer_auth(&h.engine.tokens.api).send().await.unwrap();
    assert_eq!(r.status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_commit_fails_is_undone_and_its_counter_not_reused() {
    let p = pipeline("p", vec![stage("s", vec![job("j", vec![task("true")])])]);
    let h = Harness::start(plan(vec![], vec![p]), &[]).await;
    // Another connection holds the database's write lock: every commit fails (after the wait).
    let blocker = rusqlite::Connection::open(h.engine.state.database()).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE; INSERT INTO materials (name, revision) VALUES ('x', 'y');").unwrap();
    let err = h.engine.trigger("p", by()).await.unwrap_err().to_string();
    assert!(err.starts_with("cannot save state:") && err.ends_with("nothing was changed"), "{err}");
    let s = h.engine.status(None).unwrap();
    assert!(s.instances.is_empty(), "the failed trigger left no instance in memory: {s:#?}");
    blocker.execute_batch("ROLLBACK").unwrap();
    let (_, counter) = h.engine.trigger("p", by()).await.unwrap();
    assert_eq!(counter, 1, "the retried trigger runs once, as the first instance");
    assert_eq!(h.engine.status(None).unwrap().instances.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_dropped_and_connections_are_bounded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cfg = pw_runtime::engine::EngineConfig {
        header_timeout: Duration::from_millis(500),
        max_connections: 40,
        ..Default::default()
    };
    let h = Harness::start_with(plan(vec![], vec![]), &[], cfg).await;
    let addr = h.url.trim_start_matches("http://").to_string();
    let mut stalled = Vec::new();
    for _ in 0..30 {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        stalled.push(c);
    }
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let r = http.get(format!("{}/api/v1/health", h.url)).send().await.expect("health answers meanwhile");
    assert_eq!(r.status(), 200);
    // Past the header timeout, the server has closed every stalled connection.
    for mut c in stalled {
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await.expect("closed in time");
        assert!(n.as_ref().map_or(true, |&n| n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408")), "{n:?}");
    }
    // A request whose body stalls is answered with an error and closed, not held open: here a
    // registration that promises 100 bytes and sends 10.
    let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
    c.write_all(b"POST /api/v1/agents/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\": \"").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the stalled body is cut off within the timeout");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 4"), "{answer}");
    // Over the bound, a connection is closed at once.
    let mut held = Vec::new();
    for _ in 0..40 {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        held.push(c);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_millis(400), extra.read(&mut buf)).await.expect("closed at once");
    assert!(n.as_ref().map_or(true, |&n| n == 0), "{n:?}");
}
