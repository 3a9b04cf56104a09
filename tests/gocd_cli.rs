//! End-to-end tests of `pw check`, `pw lint` and `pw import` on GoCD YAML files, from the binary.

use assert_cmd::Command;
use std::path::Path;

fn pw() -> Command {
    let mut cmd = Command::cargo_bin("pw").unwrap_or_else(|e| panic!("pw binary: {e}"));
    cmd.env("NO_COLOR", "1");
    cmd
}

const BUILD: &str = "format_version: 10
pipelines:
  app.build:
    group: app
    label_template: \"${COUNT}\"
    materials:
      app:
        git: https://git.example.com/acme/app.git
    stages:
      - compile:
          jobs:
            linux:
              timeout: 10
              tasks:
                - exec:
                    command: make
              artifacts:
                - build:
                    source: out/app
";

const DEPLOY: &str = "pipelines:
  deploy:
    group: app
    materials:
      upstream:
        pipeline: app.build
        stage: compile
    stages:
      - ship:
          approval: manual
          timeout: 5
          tasks:
            - fetch:
                pipeline: app.build
                stage: compile
                job: linux
                source: app
                is_file: true
            - exec:
                command: ./ship
";

fn repo(dir: &Path) {
    std::fs::write(dir.join("build.gocd.yaml"), BUILD).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.join("ci")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("ci/deploy.gocd.yml"), DEPLOY).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn check_and_lint_read_a_folder_of_gocd_files_as_one_workspace() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    repo(dir.path());
    pw().arg("check").arg(dir.path()).assert().code(0);
    pw().args(["lint", "--deny", "warnings"]).arg(dir.path()).assert().code(0);
}

#[test]
fn diagnostics_point_at_the_yaml_in_every_format() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    repo(dir.path());
    let broken = BUILD.replace("timeout: 10", "timout: 10");
    std::fs::write(dir.path().join("build.gocd.yaml"), broken).unwrap_or_else(|e| panic!("{e}"));
    let out =
        pw().arg("check").args(["--format", "concise"]).arg(dir.path()).output().unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("build.gocd.yaml:13:15: warning[G0003]"), "{text}");
    let out = pw().arg("lint").args(["--format", "json"]).arg(dir.path()).output().unwrap_or_else(|e| panic!("{e}"));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let text = json.to_string();
    assert!(text.contains("G0003") && text.contains("L0008"), "{text}");
    assert_eq!(out.status.code(), Some(0), "warnings alone do not fail without --deny");
}

/// The codes of `pw lint`'s diagnostics in each file, as `file:code` (JSON output).
fn lint_codes(dir: &Path) -> (Option<i32>, Vec<String>) {
    let out = pw().arg("lint").args(["--format", "json"]).arg(dir).output().unwrap_or_else(|e| panic!("{e}"));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    let items = json["diagnostics"].as_array().cloned().unwrap_or_default();
    let name = |d: &serde_json::Value| {
        let file = d["file"].as_str().unwrap_or("").rsplit('/').next().unwrap_or("").to_string();
        format!("{file}:{}", d["code"].as_str().unwrap_or(""))
    };
    (out.status.code(), items.iter().map(name).collect())
}

#[test]
fn one_broken_file_does_not_hide_the_findings_of_the_others() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    repo(dir.path());
    let other = BUILD.replace("app.build", "tools.build").replace("timeout: 10\n              ", "");
    std::fs::write(dir.path().join("tools.gocd.yaml"), other).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("broken.gocd.yaml"), "pipelines:\n  x:\n    materials: [open\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let (code, found) = lint_codes(dir.path());
    assert_eq!(code, Some(1), "{found:?}");
    assert!(found.contains(&"broken.gocd.yaml:G0001".to_string()), "{found:?}");
    assert!(found.contains(&"tools.gocd.yaml:L0008".to_string()), "the other files are linted: {found:?}");
    // GoCD lets a pipeline follow one of another config repository: `deploy`, which follows
    // the broken `app.build`, is still linted, as its server would still run it.
    std::fs::write(dir.path().join("broken.gocd.yaml"), "").unwrap_or_else(|e| panic!("{e}"));
    let deploy = DEPLOY.replace("timeout: 5\n          ", "");
    std::fs::write(dir.path().join("ci/deploy.gocd.yml"), &deploy).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("build.gocd.yaml"), BUILD.replace("stages:", "stages: ["))
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, found) = lint_codes(dir.path());
    assert!(found.iter().any(|f| f.starts_with("build.gocd.yaml:G")), "{found:?}");
    assert!(found.contains(&"deploy.gocd.yml:L0008".to_string()), "{found:?}");
    assert!(found.contains(&"tools.gocd.yaml:L0008".to_string()), "{found:?}");
}

#[test]
fn broken_yaml_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("a.gocd.yaml"), "pipelines:\n  p:\n\tgroup: x\n").unwrap_or_else(|e| panic!("{e}"));
    let out =
        pw().arg("check").args(["--format", "concise"]).arg(dir.path()).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("a.gocd.yaml:3:"), "{out:?}");
    std::fs::write(dir.path().join("a.gocd.yaml"), b"pipelines:\n  p: \xff\n").unwrap_or_else(|e| panic!("{e}"));
    let out = pw().arg("check").arg(dir.path()).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2, column 6"), "{out:?}");
}

#[test]
fn import_writes_pw_that_checks() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    repo(dir.path());
    let out_dir = dir.path().join("out");
    let out = pw().arg("import").arg(dir.path()).arg("-o").arg(&out_dir).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("G0007") && stderr.contains("label_template"), "{stderr}");
    assert!(stderr.contains("imported 2 pipelines from 2 files"), "{stderr}");
    let deploy = std::fs::read_to_string(out_dir.join("ci/deploy.pw")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        deploy.contains("after = [app_build.compile]") && deploy.contains("fetch app_build.compile.linux.app"),
        "{deploy}"
    );
    pw().arg("check").arg(&out_dir).assert().code(0);
}

#[test]
fn import_goes_on_past_a_bad_pipeline_and_says_so() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = format!("{BUILD}  broken:\n    materials:\n      app:\n        git: https://x.example/b.git\n    stages:\n      - s:\n          tasks:\n            - exec:\n                arguments: [x]\n");
    std::fs::write(dir.path().join("a.gocd.yaml"), text).unwrap_or_else(|e| panic!("{e}"));
    let out = pw().arg("import").arg(dir.path().join("a.gocd.yaml")).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("pipeline app_build"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 could not be imported"));
    pw().arg("import").arg(dir.path().join("missing.gocd.yaml")).assert().code(2);
}

#[test]
fn explain_knows_the_gocd_codes() {
    let out = pw().args(["explain", "G0004"]).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("depends_on"));
}

/// A GoCD server configuration of three pipelines, a template and an environment.
const CRUISE_CONFIG: &str = "tests/fixtures/gocd-xml/cruise-config.xml";

/// What `pw ARGS...` prints and its exit status, run from the repository's root so that paths
/// read as a user types them.
fn run_at_root(args: &[&str]) -> String {
    let out = pw().current_dir(env!("CARGO_MANIFEST_DIR")).args(args).output().unwrap_or_else(|e| panic!("{e}"));
    format!(
        "exit status: {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn check_lint_and_import_read_a_cruise_config_xml() {
    insta::assert_snapshot!("cruise_config_check", run_at_root(&["check", CRUISE_CONFIG]));
    insta::assert_snapshot!("cruise_config_lint", run_at_root(&["lint", "--format", "concise", CRUISE_CONFIG]));
    insta::assert_snapshot!("cruise_config_import", run_at_root(&["import", CRUISE_CONFIG]));
}

#[test]
fn a_folder_holding_a_cruise_config_is_searched_and_its_import_checks() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let xml = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(CRUISE_CONFIG))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("server")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("server/cruise-config.xml"), xml).unwrap_or_else(|e| panic!("{e}"));
    pw().arg("check").arg(dir.path()).assert().code(0);
    let out_dir = dir.path().join("out");
    pw().arg("import").arg(dir.path()).arg("-o").arg(&out_dir).assert().code(0);
    let pw_file = std::fs::read_to_string(out_dir.join("cruise-config.pw")).unwrap_or_else(|e| panic!("{e}"));
    assert!(pw_file.contains("pipeline orders-db") && pw_file.contains("flyway"), "{pw_file}");
    pw().arg("check").arg(&out_dir).assert().code(0);
}

#[test]
fn malformed_xml_is_an_error_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("cruise-config.xml");
    std::fs::write(
        &path,
        "<cruise>\n  <pipelines group=\"g\">\n    <pipeline name=\"p\">\n  </pipelines>\n</cruise>\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = pw().arg("check").args(["--format", "concise"]).arg(&path).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "cruise-config.xml:4:3: error[G0001]: this is not valid XML: expected 'pipeline' tag, not 'pipelines'\n"
        ),
        "{stdout}"
    );
    pw().arg("import").arg(&path).assert().code(1);
}

#[test]
fn environment_variables_reach_the_plan_of_their_pipelines_under_every_other_level() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let envs = "environments:\n  production:\n    environment_variables:\n      A: environment\n      B: environment\n      C: environment\n      D: environment\n    pipelines:\n      - app\n";
    let app = "pipelines:
  app:
    environment_variables:
      B: pipeline
      C: pipeline
      D: pipeline
    materials:
      src:
        git: https://git.example.com/acme/app.git
    stages:
      - build:
          environment_variables:
            C: stage
            D: stage
          jobs:
            compile:
              timeout: 5
              environment_variables:
                D: job
              tasks:
                - exec:
                    command: make
  other:
    materials:
      src:
        git: https://git.example.com/acme/app.git
    stages:
      - build:
          timeout: 5
          tasks:
            - exec:
                command: make
";
    std::fs::write(dir.path().join("environments.gocd.yaml"), envs).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("app.gocd.yaml"), app).unwrap_or_else(|e| panic!("{e}"));
    let out = pw().arg("plan").arg(dir.path()).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let pipelines = plan["pipelines"].as_array().cloned().unwrap_or_default();
    let pipeline = |name: &str| pipelines.iter().find(|p| p["name"] == name).cloned().unwrap_or_default();
    let value = |env: &serde_json::Value, key: &str| env[key]["value"].as_str().unwrap_or("-").to_string();
    let app = pipeline("app");
    let stage = &app["stages"][0]["env"];
    let job = &app["stages"][0]["jobs"][0]["env"];
    // What the job runs with: its own env over its stage's, over the pipeline's.
    let effective = |key: &str| {
        [job, stage, &app["env"]]
            .into_iter()
            .find(|env| env.get(key).is_some())
            .map_or("-".into(), |env| value(env, key))
    };
    assert_eq!(
        ["A", "B", "C", "D"].map(effective),
        ["environment", "pipeline", "stage", "job"],
        "environment < pipeline < stage < job: {app}"
    );
    assert_eq!(pipeline("other")["env"], serde_json::json!({}), "a pipeline outside the environment gets none");
}

#[test]
fn cost_findings_on_gocd_files_assume_a_gocd_server_unless_pipewright_toml_sets_the_costs() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let yaml = "format_version: 10
pipelines:
  checks:
    materials:
      src:
        git: https://git.example.com/acme/app.git
    stages:
      - style:
          jobs:
            fmt:
              timeout: 5
              tasks:
                - exec: { command: cargo, arguments: [fmt, --check] }
      - lint:
          jobs:
            clippy:
              timeout: 5
              tasks:
                - exec: { command: cargo, arguments: [clippy] }
";
    std::fs::write(dir.path().join("ci.gocd.yaml"), yaml).unwrap_or_else(|e| panic!("{e}"));
    let notes = |dir: &std::path::Path| {
        let out = pw().args(["lint", "--format", "json"]).arg(dir).output().unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains("L0005"), "two independent checks draw independent-stages: {text}");
        text
    };
    let gocd = notes(dir.path());
    assert!(gocd.contains("costs assumed: a GoCD server, with a 20s stage transition and a 10s job setup"), "{gocd}");
    std::fs::write(dir.path().join("pipewright.toml"), "[lint.cost]\ntransition = \"45s\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let configured = notes(dir.path());
    assert!(configured.contains("costs assumed: a GoCD server, with a 45s stage transition"), "{configured}");
}
