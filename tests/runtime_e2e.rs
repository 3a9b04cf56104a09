//! End-to-end tests of the runtime through the `pw` binary: `pw run` on an example that builds C,
//! and a `pw server` process with `pw agent` processes on loopback, killed with SIGKILL and
//! restarted, driven by the client commands.

mod common;

use common::cluster::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[test]
fn pw_run_builds_and_tests_the_hello_example_with_a_real_c_compiler() {
    let marker = Marker::new("run");
    let dir = tempfile::tempdir().unwrap();
    // A copy, so that the test depends neither on nor changes the working tree's example (a
    // `pw run examples/hello` leaves `.pw` there).
    let example = dir.path().join("hello");
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello"), &example);
    let out = pw(&marker, dir.path(), &["run", example.to_str().unwrap(), "--agents", "2", "--state", "state"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("hello/1/build/compile task 2/2: gcc"), "{stdout}");
    assert!(stdout.contains("hello/1/test started"), "{stdout}");
    assert!(stdout.trim_end().ends_with("passed: hello/1"), "{stdout}");
    assert!(!example.join(".pw").exists(), "--state keeps the example folder clean");
    let durations = std::fs::read_to_string(dir.path().join("state/durations.json")).expect("durations.json");
    let v: Value = serde_json::from_str(&durations).expect("durations.json is JSON");
    let jobs: Vec<&str> = v["jobs"].as_array().expect("jobs").iter().filter_map(|j| j["job"].as_str()).collect();
    assert!(jobs.contains(&"compile"), "{durations}");
    let tasks: Vec<(&str, u64)> = v["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| Some((t["job"].as_str()?, t["task"].as_u64()?)))
        .collect();
    assert!(tasks.contains(&("compile", 0)) && tasks.contains(&("compile", 1)), "{durations}");
    let example = example.to_str().unwrap();
    let lint = pw(&marker, dir.path(), &["lint", "--history", "state", example]);
    assert_eq!(lint.status.code(), Some(0), "{}", String::from_utf8_lossy(&lint.stderr));
    // The run's server stopped with it: `pw status` shows what the state folder records, and
    // a command that needs a server says how to start one.
    let status = pw(&marker, dir.path(), &["status", "--state", "state"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&status.stdout), String::from_utf8_lossy(&status.stderr));
    assert_eq!(status.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("no server is running on `state`: as recorded when it stopped"), "{stderr}");
    assert!(stdout.starts_with("hello/1  passed"), "{stdout}");
    assert!(stdout.contains("smoke            passed"), "{stdout}");
    let trigger = pw(&marker, dir.path(), &["trigger", "hello", "--state", "state"]);
    let stderr = String::from_utf8_lossy(&trigger.stderr);
    assert_eq!(trigger.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no server is running on `state`: `pw run` stops its server"), "{stderr}");
}

#[test]
fn pw_run_as_another_user_gives_a_task_its_declared_secret_and_no_file_of_the_state_folder() {
    let marker = Marker::new("runas");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The tasks' user must reach its workspace below this folder.
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let state = d.join(".pw");
    std::fs::create_dir_all(state.join("secrets")).unwrap();
    std::fs::write(state.join("secrets/deploy-token"), "declared-secret-value\n").unwrap();
    std::fs::write(state.join("secrets/other-token"), "undeclared-secret-value\n").unwrap();
    let s = state.display();
    let script = format!(
        "echo uid=$(id -u) token=$TOKEN; cat {s}/api-token {s}/agent-token {s}/secrets/other-token 2>&1; ls {s}/secrets 2>&1; exit 3"
    );
    let job = format!("job look {{\n      env {{ TOKEN = secret(\"deploy-token\") }}\n      run {script:?}\n    }}");
    std::fs::write(d.join("ci.pw"), format!("pipeline spy {{\n  stage s {{\n    {job}\n  }}\n}}\n")).unwrap();
    // The job fails on purpose: `pw run` then prints the end of its log.
    let out = pw(&marker, d, &["run", "ci.pw", "--agents", "1", "--run-as", "nobody"]);
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{}{text}", String::from_utf8_lossy(&out.stdout));
    assert!(text.contains("uid=65534 token=****"), "the task runs as nobody with its secret, masked: {text}");
    let api = std::fs::read_to_string(state.join("api-token")).unwrap();
    let agent = std::fs::read_to_string(state.join("agent-token")).unwrap();
    for (what, value) in [
        ("the API token", api.trim()),
        ("the agent token", agent.trim()),
        ("a secret it does not declare", "undeclared-secret-value"),
        ("the names of the secrets", "other-token\n"),
    ] {
        assert!(!text.contains(value), "the task saw {what}: {text}");
    }
    assert_eq!(text.matches("Permission denied").count(), 4, "{text}");
}

#[test]
fn pw_run_exits_1_and_prints_the_log_tail_of_a_failed_job() {
    let marker = Marker::new("runfail");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ci.pw"),
        r#"
pipeline broken {
  stage build {
    job compile {
      run "echo compiling; echo 'error: missing semicolon' >&2; exit 2"
      run "echo collecting logs" { when = failed }
    }
  }
  stage never { job j { run "echo unreachable" } }
}
"#,
    )
    .unwrap();
    let out = pw(&marker, dir.path(), &["run", "ci.pw", "--agents", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("broken/1/build/compile FAILED: task 1 (`echo compiling; echo 'error: missing semicolon' >&2; exit 2`) exited with code 2"), "{stdout}");
    assert!(
        stderr.contains("--- last")
            && stderr.contains("error: missing semicolon")
            && stderr.contains("collecting logs"),
        "{stderr}"
    );
    assert!(!stdout.contains("never started"), "{stdout}");
    assert!(stdout.trim_end().ends_with("failed: broken/1"), "{stdout}");
    assert!(dir.path().join(".pw/pw.db").exists(), "the state goes beside the workspace");
}

#[test]
fn pw_run_gives_each_task_the_env_of_its_pipeline_stage_and_job_and_runs_it_in_its_folder() {
    let marker = Marker::new("runenv");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ci.pw"),
        r#"
pipeline levels {
  env {
    LEVEL  = "pipeline"
    REGION = "us"
    ONLY_P = "p"
  }
  stage deploy {
    env {
      LEVEL  = "stage"
      REGION = "eu"
    }
    job canary {
      env { LEVEL = "job" }
      run "echo \"seen $LEVEL $REGION $ONLY_P\"; test \"$LEVEL/$REGION/$ONLY_P\" = job/eu/p"
      run "mkdir -p services/api"
      run "pwd; test \"$(pwd -P)\" = \"$(cd \"$PW_WORKSPACE\" && pwd -P)/services/api\" && test $REGION = eu" in "services/api"
      run ["sh", "-c", "test -d ../api"] in "./services/api/"
    }
    job fleet {
      run "echo \"seen $LEVEL $REGION\"; test \"$LEVEL/$REGION\" = stage/eu"
    }
  }
  stage verify {
    job check {
      run "echo \"seen $LEVEL $REGION\"; test \"$LEVEL/$REGION\" = pipeline/us"
    }
  }
}
"#,
    )
    .unwrap();
    let out = pw(&marker, dir.path(), &["run", "ci.pw", "--agents", "2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // Each task's `test` fails its job, and so the run, unless it saw the values its level gives
    // and ran in its folder.
    assert!(stdout.contains("levels/1/deploy/canary task 4/4: sh -c test -d ../api"), "{stdout}");
    for job in ["deploy/canary", "deploy/fleet", "verify/check"] {
        assert!(stdout.contains(&format!("levels/1/{job} passed")), "{job}: {stdout}");
    }
    assert!(stdout.trim_end().ends_with("passed: levels/1"), "{stdout}");
}

#[test]
fn pw_run_from_another_folder_suggests_an_approve_command_that_works_and_gives_tasks_absolute_paths() {
    let marker = Marker::new("runappr");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("appr")).unwrap();
    std::fs::write(
        d.join("appr/g.pw"),
        r#"
pipeline g {
  stage one {
    job a {
      run "case \"$PW_WORKSPACE\" in /*) cd \"$PW_WORKSPACE\" && pwd ;; *) echo \"relative: $PW_WORKSPACE\"; exit 1 ;; esac"
    }
  }
  stage two {
    approval = manual
    job b { run "echo approved" }
  }
}
"#,
    )
    .unwrap();
    let log = d.join("run.log");
    let mut run = spawn(&marker, d, &["run", "appr/g.pw", "--agents", "1"], &log);
    let text = wait_log(&log, "awaits approval: run `");
    let hint = text.split("awaits approval: run `").nth(1).and_then(|t| t.split('`').next()).unwrap_or_default();
    assert_eq!(hint, "pw approve g/1/two --state appr/.pw", "{text}");
    // Stage `one` is over: its job's log shows its workspace, an absolute path.
    let logs = pw(&marker, d, &["logs", "g/1/one/a", "--state", "appr/.pw"]);
    let job_log = String::from_utf8_lossy(&logs.stdout);
    let state = std::fs::canonicalize(d.join("appr/.pw")).unwrap();
    assert!(job_log.contains(&format!("{}/agents/local-1/pipelines/g/one/a\n", state.display())), "{job_log}");
    let words: Vec<&str> = hint.split_whitespace().skip(1).collect();
    let approve = pw(&marker, d, &words);
    assert_eq!(approve.status.code(), Some(0), "`{hint}` as shown: {}", String::from_utf8_lossy(&approve.stderr));
    let code = wait_exit(&mut run);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.trim_end().ends_with("passed: g/1"), "{text}");
}

#[test]
fn pw_run_on_a_reused_state_folder_counts_only_this_runs_agents() {
    let marker = Marker::new("runres");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("res.pw"), "pipeline r {\n  stage s { job g { resources = [\"gpu\"] run \"true\" } }\n}\n")
        .unwrap();
    let first = pw(&marker, d, &["run", "res.pw", "--agents", "3"]);
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stdout));
    let second = pw(&marker, d, &["run", "res.pw", "--agents", "2", "--resources", "linux"]);
    let stdout = String::from_utf8_lossy(&second.stdout);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("r/2/s/g FAILED: no agent has the resources [gpu] (agents: local-1 [linux]; local-2 [linux])"),
        "the agents of the first run are replaced: {stdout}"
    );
    assert!(stderr.contains("--- r/2/s/g: no log output ---"), "{stderr}");
    assert!(!stderr.contains("last 0 lines"), "{stderr}");
    assert!(stdout.trim_end().ends_with("failed: r/2"), "{stdout}");
}

#[test]
fn pw_run_waits_for_downstream_triggers_and_fails_when_one_cannot_start() {
    let marker = Marker::new("rundown");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ci.pw"),
        r#"
material gone { git = "no-such-repo" }
pipeline up { stage s { job j { run "echo up" } } }
pipeline down {
  materials = [gone]
  after = [up.s]
  stage s { job j { run "echo down" } }
}
"#,
    )
    .unwrap();
    let out = pw(&marker, dir.path(), &["run", "ci.pw", "--agents", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("down could not start (after up/1/s): material `gone`: git ls-remote"), "{stdout}");
    assert!(stdout.trim_end().ends_with("failed: down (after up/1/s) could not start"), "{stdout}");
}

#[test]
fn pw_run_reports_compile_errors_without_running() {
    let marker = Marker::new("runerr");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ci.pw"), "pipeline p { stage s { job j { rnu \"x\" } } }").unwrap();
    let out = pw(&marker, dir.path(), &["run", "ci.pw"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was run"));
    let out = pw(&marker, dir.path(), &["run", "missing.pw"]);
    assert_eq!(out.status.code(), Some(2));
}

const TWO_STAGES: &str = r#"
material app {
  git = "repo"
  poll = 1s
}

pipeline p {
  materials = [app]
  stage one {
    job slow {
      run "cat v.txt; sleep 2; echo slow-done > out.txt"
      artifact out = "out.txt"
    }
  }
  stage two {
    job check {
      fetch one.slow.out
      run "grep slow-done out.txt && echo checked"
    }
  }
  stage ship {
    approval = manual
    job go { run "echo shipping" }
  }
}
"#;

fn workspace(dir: &Path) {
    std::fs::create_dir_all(dir.join("repo")).unwrap();
    git(
        &dir.join("repo"),
        "git init -q -b main && echo v1 > v.txt && git add -A && git -c user.name=t -c user.email=t@t commit -q -m one",
    );
    std::fs::write(dir.join("ci.pw"), TWO_STAGES).unwrap();
}

#[test]
fn an_agent_killed_mid_job_is_lost_and_its_job_retried_on_another_agent() {
    let marker = Marker::new("agentkill");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    workspace(d);
    let server = start_server(&marker, d, free_port(), "server.log");
    let mut a = start_agent(&marker, d, &server, "agent-a");
    let mut b = start_agent(&marker, d, &server, "agent-b");
    let s = (0..300)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            json(&marker, d, &["status"])
        })
        .find(|s| s["agents"].as_array().is_some_and(|a| a.len() == 2))
        .expect("two agents registered");
    assert_eq!(s["instances"], serde_json::json!([]));
    let t = json(&marker, d, &["trigger", "p"]);
    assert_eq!(t, serde_json::json!({"pipeline": "p", "counter": 1}));
    let i = wait_for(&marker, d, "p/1", "assigned its job", |i| job_attempts(i, "one", "slow")[0]["agent"].is_string());
    let victim = job_attempts(&i, "one", "slow")[0]["agent"].as_str().unwrap().to_string();
    if victim == "agent-a" {
        a.kill9()
    } else {
        b.kill9()
    }
    let i = wait_for(&marker, d, "p/1", "reached approval", |i| {
        i["state"] == "awaiting_approval" || i["state"] == "failed"
    });
    assert_eq!(i["state"], "awaiting_approval", "{i:#}");
    let attempts = job_attempts(&i, "one", "slow");
    assert_eq!(attempts.len(), 2, "{i:#}");
    let reason = attempts[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with(&format!("agent `{victim}` lost")), "{reason}");
    assert!(reason.ends_with("retrying on another agent"), "{reason}");
    assert_ne!(attempts[1]["agent"].as_str().unwrap(), victim);
    assert_eq!(attempts[1]["state"], "passed");
    let agents = json(&marker, d, &["status"])["agents"].clone();
    let lost = agents.as_array().unwrap().iter().find(|a| a["name"] == victim.as_str()).unwrap();
    assert_eq!(lost["state"], "lost");
    drop(server);
}

#[test]
fn a_server_killed_mid_run_and_restarted_loses_nothing() {
    let marker = Marker::new("serverkill");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    workspace(d);
    let port = free_port();
    let mut server = start_server(&marker, d, port, "server1.log");
    let _agent = start_agent(&marker, d, &server, "agent-a");
    let _agent2 = start_agent(&marker, d, &server, "agent-b");
    wait_agents(&marker, d, 2);
    json(&marker, d, &["trigger", "p"]);
    wait_for(&marker, d, "p/1", "started its slow job", |i| job_attempts(i, "one", "slow")[0]["state"] == "assigned");
    // Killed while the task runs (it printed the material's file and sleeps).
    within(60, "the slow job's log shows it running", || {
        String::from_utf8_lossy(&pw(&marker, d, &["logs", "p/1/one/slow", "--state", "state"]).stdout).contains("v1")
    });
    server.proc.kill9();
    let restarted = start_server(&marker, d, port, "server2.log");
    let i = wait_for(&marker, d, "p/1", "reached approval", |i| i["state"] != "running");
    assert_eq!(i["state"], "awaiting_approval", "{i:#}");
    assert_eq!(job_attempts(&i, "one", "slow").len(), 1, "the job finished on its agent, not re-run: {i:#}");
    let logs = pw(&marker, d, &["logs", "p/1/one/slow", "--state", "state"]);
    let text = String::from_utf8_lossy(&logs.stdout);
    assert!(
        text.contains("pw: p/1/one/slow attempt 1") && text.contains("v1") && text.contains("published artifact out"),
        "{text}"
    );
    let approve = pw(&marker, d, &["approve", "p/1/ship", "--state", "state"]);
    assert_eq!(approve.status.code(), Some(0), "{}", String::from_utf8_lossy(&approve.stderr));
    let i = wait_for(&marker, d, "p/1", "passed", |i| i["state"] == "passed");
    assert_eq!(job_attempts(&i, "two", "check")[0]["state"], "passed");
    // The event history from before the kill is still served, numbered on without a gap.
    let events: Value = serde_json::from_str(&http_get(&restarted.url, "/api/v1/events?after=0")).unwrap();
    let events = events["events"].as_array().expect("events");
    assert_eq!(events[0]["event"], "instance_started", "{events:#?}");
    assert_eq!((&events[0]["pipeline"], &events[0]["counter"]), (&Value::from("p"), &Value::from(1)));
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let assigned = |e: &&Value| e["event"] == "job_assigned" && e["job"]["job"] == "slow";
    assert!(events.iter().any(|e| assigned(&e)), "the slow job's assignment, before the kill: {events:#?}");
    assert!(events.iter().any(|e| e["event"] == "instance_finished" && e["result"] == "passed"));
}

#[test]
fn a_downstream_trigger_pending_when_the_server_is_killed_is_carried_out_once_after_the_restart() {
    let marker = Marker::new("pendingkill");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("lib")).unwrap();
    git(
        &d.join("lib"),
        "git init -q -b main && echo lib-v1 > v.txt && git add -A && git -c user.name=t -c user.email=t@t commit -q -m one",
    );
    // A git server that takes the connection and never answers: looking `lib` up hangs, so the
    // server is killed between recording `up`'s result and creating `down`.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    silent.set_nonblocking(true).unwrap();
    let workspace = |git: &str| {
        format!(
            "material lib {{ git = \"{git}\" }}\n\
             pipeline up {{ stage s {{ job j {{ run \"echo up\" }} }} }}\n\
             pipeline down {{\n  materials = [lib]\n  after = [up.s]\n  stage s {{ job j {{ run \"cat v.txt\" }} }}\n}}\n"
        )
    };
    let silent_url = format!("git://{}/lib", silent.local_addr().unwrap());
    std::fs::write(d.join("ci.pw"), workspace(&silent_url)).unwrap();
    let port = free_port();
    let mut server = start_server(&marker, d, port, "server1.log");
    let _agent = start_agent(&marker, d, &server, "agent-a");
    wait_agents(&marker, d, 1);
    json(&marker, d, &["trigger", "up"]);
    let looked_up = (0..600).find_map(|_| {
        std::thread::sleep(Duration::from_millis(50));
        silent.accept().ok()
    });
    assert!(looked_up.is_some(), "the server never looked `lib` up");
    let status = pw(&marker, d, &["status", "--state", "state"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("down: waiting to start (after up/1/s): looking up the revision of material lib"), "{text}");
    server.proc.kill9();
    std::fs::write(d.join("ci.pw"), workspace("lib")).unwrap();
    let _server = start_server(&marker, d, port, "server2.log");
    let i = wait_for(&marker, d, "down/1", "passed", |i| i["state"] == "passed" || i["state"] == "failed");
    assert_eq!(i["state"], "passed", "{i:#}");
    assert_eq!(i["cause"], "after up/1/s");
    let head =
        std::process::Command::new("git").args(["rev-parse", "HEAD"]).current_dir(d.join("lib")).output().unwrap();
    assert_eq!(i["revisions"]["lib"], String::from_utf8_lossy(&head.stdout).trim());
    let logs = pw(&marker, d, &["logs", "down/1/s/j", "--state", "state"]);
    assert!(String::from_utf8_lossy(&logs.stdout).contains("lib-v1"));
    let all = json(&marker, d, &["status", "down"]);
    assert_eq!(all["instances"].as_array().map(Vec::len), Some(1), "one instance for one cause: {all:#}");
    drop(looked_up);
}

#[test]
fn client_commands_trigger_rerun_cancel_and_follow_logs_with_json_output() {
    let marker = Marker::new("client");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("ci.pw"),
        r#"
pipeline flaky {
  stage test {
    job unit { run "test -f ../../../../../flag && echo unit-ok" }
    job lint { run "echo lint-ok" }
  }
}
pipeline long {
  stage s { job j { run "echo started; sleep 60" } }
}
"#,
    )
    .unwrap();
    let server = start_server(&marker, d, free_port(), "server.log");
    let _agent = start_agent(&marker, d, &server, "agent-a");
    let _agent2 = start_agent(&marker, d, &server, "agent-b");
    wait_agents(&marker, d, 2);
    json(&marker, d, &["trigger", "flaky"]);
    let i = wait_for(&marker, d, "flaky/1", "failed", |i| i["state"] == "failed");
    assert_eq!(job_attempts(&i, "test", "lint")[0]["state"], "passed");
    // The workspace of the job is agents/<name>/pipelines/flaky/test/unit: five levels below `d`.
    std::fs::write(d.join("agents/flag"), "").unwrap();
    std::fs::write(d.join("flag"), "").unwrap();
    let r = json(&marker, d, &["rerun", "flaky/1/test", "--failed"]);
    assert_eq!(r["ok"], true, "{r}");
    let i = wait_for(&marker, d, "flaky/1", "passed", |i| i["state"] == "passed");
    assert_eq!(job_attempts(&i, "test", "unit").len(), 2);
    assert_eq!(job_attempts(&i, "test", "lint").len(), 1);
    // The agents say what they do: their registration, each job as it starts and ends.
    let said = wait_log(&d.join("agent-a.log"), "registered with");
    assert!(said.contains(&format!("pw agent agent-a: registered with {} as agent ", server.url)), "{said}");
    assert!(said.contains("(resources: none); waiting for jobs"), "{said}");
    let logs = [d.join("agent-a.log"), d.join("agent-b.log")];
    let said = wait_logs(&[&logs[0], &logs[1]], ": flaky/1/test/unit (attempt 2) passed in ");
    assert!(said.contains(": running flaky/1/test/unit\n"), "{said}");
    assert!(said.contains(": flaky/1/test/unit failed in "), "{said}");
    assert!(said.contains(": flaky/1/test/unit (attempt 2) passed in "), "{said}");
    let r = json(&marker, d, &["rerun", "flaky/1/test/nope"]);
    assert_eq!(r["error"], "stage `test` has no job `nope` (jobs: unit, lint)");
    let out = pw(&marker, d, &["rerun", "flaky/x/test", "--state", "state"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`x` is not an instance counter"));

    json(&marker, d, &["trigger", "long"]);
    let mut follow = spawn(&marker, d, &["logs", "long/1/s/j", "--follow", "--state", "state"], &d.join("follow.log"));
    let logged = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::fs::read_to_string(d.join("follow.log")).is_ok_and(|t| t.contains("started"))
    });
    assert!(logged, "pw logs --follow printed the live log");
    let r = json(&marker, d, &["cancel", "long/1"]);
    assert_eq!(r["ok"], true, "{r}");
    let i = wait_for(&marker, d, "long/1", "cancelled", |i| i["state"] == "cancelled");
    assert_eq!(job_attempts(&i, "s", "j")[0]["state"], "cancelled");
    let ended = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        follow.0.try_wait().ok().flatten().is_some()
    });
    assert!(ended, "pw logs --follow ends with the job");
    let r = json(&marker, d, &["cancel", "long/1"]);
    assert_eq!(r["error"], "long/1 is already cancelled");

    std::fs::write(d.join("bad-token"), "0123").unwrap();
    let bad = pw(&marker, d, &["trigger", "flaky", "--state", "state", "--token-file", "bad-token"]);
    assert_eq!(bad.status.code(), Some(1));
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(said.contains("the server refused the token from `bad-token` (invalid token"), "{said}");
    assert!(said.contains("which it writes to `api-token` in its state folder"), "{said}");
    let wrong = d.join("wrong-token");
    std::fs::write(&wrong, "nope").unwrap();
    let out =
        pw(&marker, d, &["agent", "--server", &server.url, "--token-file", wrong.to_str().unwrap(), "--workdir", "w"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the server refused the agent token"));
}

#[test]
fn the_server_reloads_the_workspace_and_keeps_the_last_good_plan_on_errors() {
    let marker = Marker::new("reload");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ci.pw"), "pipeline first { stage s { job j { run \"true\" } } }\n").unwrap();
    let _server = start_server(&marker, d, free_port(), "server.log");
    let r = json(&marker, d, &["trigger", "second"]);
    assert_eq!(r["error"], "no pipeline named `second`");
    std::fs::write(d.join("ci.pw"), "pipeline first { stage s { job j { rnu } } }\n").unwrap();
    wait_log(&d.join("server.log"), "the last good configuration stays in force");
    let r = json(&marker, d, &["trigger", "first"]);
    assert_eq!(r["counter"], 1, "the last good plan stays in force: {r}");
    std::fs::write(
        d.join("ci.pw"),
        "pipeline first { stage s { job j { run \"true\" } } }\npipeline second { stage s { job j { run \"true\" } } }\n",
    )
    .unwrap();
    let reloaded = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        json(&marker, d, &["trigger", "second"])["counter"] == 1
    });
    let log = std::fs::read_to_string(d.join("server.log")).unwrap_or_default();
    assert!(reloaded, "{log}");
    assert!(log.contains("the workspace has errors; the last good configuration stays in force"), "{log}");
}

#[test]
fn an_agent_says_when_it_cannot_reach_the_server_and_when_it_does() {
    let marker = Marker::new("agentreach");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ci.pw"), "pipeline p { stage s { job j { run \"true\" } } }\n").unwrap();
    // The server keeps the token it finds in its state folder: the agent has it before it starts.
    std::fs::create_dir_all(d.join("state")).unwrap();
    std::fs::write(d.join("state/agent-token"), "agent-token-of-the-test").unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _agent = start_agent_at(&marker, d, &url, &d.join("state/agent-token"), "agent-a");
    let log = d.join("agent-a.log");
    let said = wait_log(&log, "still unreachable after 1s");
    assert!(
        said.starts_with(&format!("pw agent agent-a: cannot reach the server at {url} (Connection refused")),
        "{said}"
    );
    let _server = start_server(&marker, d, port, "server.log");
    let said = wait_log(&log, "registered with");
    assert!(said.contains(&format!("pw agent agent-a: reached the server at {url} again after ")), "{said}");
    let lines = said.lines().filter(|l| l.contains("unreachable")).count();
    assert!(lines < 10, "retries are told at growing intervals, not each: {said}");
}

#[test]
fn client_commands_check_their_arguments_before_sending() {
    let marker = Marker::new("clientargs");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let closed = format!("http://127.0.0.1:{}", free_port());
    let out = pw(&marker, d, &["trigger", "hello", "--server", &closed]);
    assert_eq!(out.status.code(), Some(2), "a missing token is an error of the command, found before sending");
    insta::assert_snapshot!("trigger_without_a_token", String::from_utf8_lossy(&out.stderr));
    let out = pw(&marker, d, &["status", "--server", "not-a-url"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("status_with_a_bad_url", String::from_utf8_lossy(&out.stderr));
    let out = pw(&marker, d, &["agent", "--server", "ci.example.com:8150", "--workdir", "w"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: `ci.example.com:8150` is not a server URL; write it as http://HOST:PORT\n"
    );
}

/// The process ids an attempt's task wrote: the shell's, then its background child's.
fn task_pids(dir: &Path, attempt: u32) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(format!("pids-{attempt}"))).unwrap_or_default();
    text.lines().map(str::to_string).collect()
}

#[test]
fn tasks_die_with_their_agent_and_a_stopped_or_restarted_agent_hands_its_job_back_at_once() {
    let marker = Marker::new("taskdeath");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let script = format!("echo $$ > {0}/pids-$PW_ATTEMPT.tmp; sleep 300 & echo $! >> {0}/pids-$PW_ATTEMPT.tmp; mv {0}/pids-$PW_ATTEMPT.tmp {0}/pids-$PW_ATTEMPT; wait", d.display());
    std::fs::write(
        d.join("ci.pw"),
        format!("pipeline p {{\n  stage s {{\n    job deploy {{ run \"{script}\" }}\n  }}\n}}\n"),
    )
    .unwrap();
    // A lease of a minute: whatever happens within seconds below is not the lease running out.
    let server = start_server_with(&marker, d, free_port(), "server.log", "60000", &[]);
    let mut a = start_agent(&marker, d, &server, "agent-a");
    wait_log(&d.join("agent-a.log"), "waiting for jobs");
    json(&marker, d, &["trigger", "p"]);
    within(20, "attempt 1 started its processes", || task_pids(d, 1).len() == 2);
    let first = task_pids(d, 1);

    // SIGTERM: the agent stops the task and gives the attempt back at once, then exits 0.
    let _ = Command::new("kill").args(["-TERM", &a.0.id().to_string()]).status();
    assert_eq!(wait_exit(&mut a), Some(0), "{}", std::fs::read_to_string(d.join("agent-a.log")).unwrap_or_default());
    within(5, "the first task's processes end", || first.iter().all(|p| gone(p)));
    let i = instance(&marker, d, "p/1").unwrap();
    let attempts = job_attempts(&i, "s", "deploy");
    assert!(attempts[0]["reason"].as_str().unwrap_or_default().contains("gave the job up"), "{i:#}");
    assert_eq!(attempts.len(), 2, "rescheduled without waiting for the lease: {i:#}");

    // SIGKILL: the task dies with the agent, its background child too.
    let mut a = start_agent(&marker, d, &server, "agent-a");
    within(20, "attempt 2 started its processes", || task_pids(d, 2).len() == 2);
    let second = task_pids(d, 2);
    a.kill9();
    within(5, "the second task's processes end with their agent", || second.iter().all(|p| gone(p)));

    // Restarted, the agent holds nothing: its attempt is run again elsewhere at once.
    let _b = start_agent(&marker, d, &server, "agent-b");
    wait_log(&d.join("agent-b.log"), "waiting for jobs");
    let _a = start_agent(&marker, d, &server, "agent-a");
    within(20, "attempt 3 started on agent-b", || task_pids(d, 3).len() == 2);
    let i = instance(&marker, d, "p/1").unwrap();
    let attempts = job_attempts(&i, "s", "deploy");
    assert!(attempts[1]["reason"].as_str().unwrap_or_default().contains("restarted while running the job"), "{i:#}");
    assert_eq!(attempts[2]["agent"], "agent-b", "{i:#}");
    json(&marker, d, &["cancel", "p/1"]);
}

#[test]
fn a_task_sees_only_allowed_variables_and_as_another_user_cannot_read_the_agent_s_credentials() {
    let marker = Marker::new("taskenv");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The tasks' user must reach its workspace below this folder.
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let agent_dir = d.join("agents/agent-a");
    let script = format!(
        "env; echo uid=$(id -u); cat {0}/agent-credential {1}/state/agent-token {1}/state/api-token /proc/$PPID/environ 2>&1; true",
        agent_dir.display(),
        d.display()
    );
    std::fs::write(
        d.join("ci.pw"),
        format!("pipeline spy {{\n  stage s {{\n    job look {{ run \"{script}\" }}\n  }}\n}}\n"),
    )
    .unwrap();
    let server = start_server_with(&marker, d, free_port(), "server.log", "1500", &["--require-approval"]);
    let token = std::fs::read_to_string(server.state.join("agent-token")).unwrap();
    let out = std::fs::File::create(d.join("agent-a.log")).unwrap();
    let _agent = Proc(
        Command::new(pw_bin())
            .args([
                "agent",
                "--server",
                &server.url,
                "--name",
                "agent-a",
                "--run-as",
                "nobody",
                "--kill-grace-ms",
                "300",
            ])
            .args(["--workdir", agent_dir.to_str().unwrap()])
            .current_dir(d)
            .env("PW_TEST_MARKER", &marker.0)
            .env("PW_AGENT_TOKEN", token.trim())
            .env("PW_SECRET_ELSEWHERE", "a-secret-of-the-agent-machine")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap(),
    );
    let log = wait_log(&d.join("agent-a.log"), "waiting for approval");
    let id = log.split("as agent ").nth(1).and_then(|t| t.split_whitespace().next()).unwrap().to_string();
    json(&marker, d, &["trigger", "spy"]);
    std::thread::sleep(Duration::from_millis(500));
    let i = instance(&marker, d, "spy/1").unwrap();
    assert_eq!(job_attempts(&i, "s", "look")[0]["state"], "scheduled", "no job before approval: {i:#}");
    let approve = pw(&marker, d, &["agent", "approve", &id, "--state", "state"]);
    assert_eq!(approve.status.code(), Some(0), "{}", String::from_utf8_lossy(&approve.stderr));
    let i = wait_for(&marker, d, "spy/1", "passed", |i| i["state"] == "passed");
    assert_eq!(job_attempts(&i, "s", "look")[0]["agent"], "agent-a");
    let logs = pw(&marker, d, &["logs", "spy/1/s/look", "--state", "state"]);
    let text = String::from_utf8_lossy(&logs.stdout).to_string();
    assert!(text.contains("PW_JOB=look") && text.contains("USER=nobody"), "{text}");
    assert!(text.contains("uid=65534"), "{text}");
    let credential = std::fs::read_to_string(agent_dir.join("agent-credential")).unwrap();
    let api = std::fs::read_to_string(server.state.join("api-token")).unwrap();
    for (what, value) in [
        ("the agent token", token.trim()),
        ("the agent's credential", credential.split_whitespace().nth(1).unwrap()),
        ("the API token", api.trim()),
        ("the agent's environment", "a-secret-of-the-agent-machine"),
        ("the agent's variables", "PW_AGENT_TOKEN"),
    ] {
        assert!(!text.contains(value), "the task saw {what}: {text}");
    }
    assert_eq!(text.matches("Permission denied").count(), 4, "{text}");
}

/// Every file under `dir`, with its bytes.
fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                out.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    out
}

#[test]
fn no_secret_reaches_the_database_its_wal_events_artifacts_or_status_and_short_ones_are_refused() {
    let marker = Marker::new("secrets");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = "-----BEGIN TEST KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX\n6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END TEST KEY-----\n";
    // The key whole, without its last newline, one line alone, across the 64 KiB line cut, on
    // standard error, with its lines joined, in a failure reason and in an artifact's log.
    let show = "printf '%s' \"$KEY\"; echo; echo \"before $KEY after\"\n\
        printf '%s\\n' \"$KEY\" | sed -n 2p\n\
        head -c 65530 /dev/zero | tr '\\0' x; printf '%s\\n' \"$KEY\"\n\
        printf '%s' \"$KEY\" >&2\n\
        echo \"$KEY\" | tr -d '\\n'; echo\n\
        echo out > out.txt\n";
    std::fs::write(d.join("show.sh"), show).unwrap();
    std::fs::write(d.join("nosy.sh"), "env | grep PW_SECRET_ && exit 1; echo no server secrets here\n").unwrap();
    let pw_file = format!(
        "pipeline leak {{\n  stage s {{\n    job show {{\n      env {{ KEY = secret(\"key\") }}\n      run \"sh {0}/show.sh\"\n      artifact out = \"out.txt\"\n    }}\n    job nosy {{ run \"sh {0}/nosy.sh\" }}\n  }}\n}}\n\npipeline tiny {{\n  stage s {{\n    job j {{\n      env {{ PIN = secret(\"pin\") }}\n      run \"echo $PIN\"\n    }}\n  }}\n}}\n",
        d.display()
    );
    std::fs::write(d.join("ci.pw"), pw_file).unwrap();
    let out = Command::new(pw_bin())
        .args(["run", "ci.pw", "--agents", "2"])
        .current_dir(d)
        .env("PW_TEST_MARKER", &marker.0)
        .env("NO_COLOR", "1")
        .env("PW_SECRET_KEY", key)
        .env("PW_SECRET_PIN", "1234")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.trim_end().ends_with("failed: tiny/1"), "leak/1 passed: {stdout}{stderr}");
    let status = pw(&marker, d, &["status", "--state", ".pw", "--format", "json"]);
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(status.contains("secret `pin` has 4 characters: a secret must have at least 6"), "{status}");
    let mut needles: Vec<&str> = key.lines().collect();
    needles.push(key);
    needles.push(key.trim_end());
    let files = all_files(&d.join(".pw"));
    assert!(files.iter().any(|(p, _)| p.ends_with("pw.db")), "the database is scanned");
    for needle in &needles {
        for (path, bytes) in &files {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle:?} is in {}",
                path.display()
            );
        }
        for (what, text) in [("pw run's output", &stdout), ("pw run's errors", &stderr), ("pw status", &status)] {
            assert!(!text.contains(needle), "{needle:?} is in {what}");
        }
    }
    let db = std::fs::read(d.join(".pw/pw.db")).unwrap();
    let wal = std::fs::read(d.join(".pw/pw.db-wal")).unwrap_or_default();
    let logged = |needle: &str| [&db, &wal].iter().any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()));
    assert!(logged("before **** after"), "the log was stored, masked");
    assert!(logged("no server secrets here"), "a job sees no secret it does not declare");
}

/// Copies a folder, without the state folders `pw run` leaves (`.pw`).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_name() == ".pw" {
            continue;
        }
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}
