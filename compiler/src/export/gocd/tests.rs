use super::*;
use crate::export::yaml::read_back::read;
use crate::export::yaml::Node;

/// Checks `files` (name, text) as one workspace, which must check clean, and exports it.
fn export_files(files: &[(&str, &str)], options: &Options) -> (Export, Workspace) {
    let mut workspace = Workspace::new();
    for (name, text) in files {
        workspace.add(*name, *text);
    }
    let analysis = crate::analyze(&workspace);
    let rendered = crate::render::human::render_all(&analysis.diagnostics, &workspace, false);
    assert!(!analysis.has_errors(), "{rendered}");
    (export(&workspace, &analysis.program, options), workspace)
}

fn export_one(text: &str) -> Export {
    export_files(&[("ci/app.pw", text)], &Options::default()).0
}

/// The exported pipeline `name`, read back by a YAML parser: `format_version` checked, and the
/// pipeline's body returned.
fn pipeline(export: &Export, name: &str) -> Node {
    let file = export.files.iter().find(|f| f.path == format!("{name}.gocd.yaml"));
    let file = file.unwrap_or_else(|| panic!("no file for `{name}` in {:?}", export.files));
    let doc = read(&file.text);
    assert_eq!(doc.at("format_version"), Some(&Node::Int(10)));
    doc.at(&format!("pipelines.{name}")).cloned().unwrap_or_else(|| panic!("{}", file.text))
}

fn codes(export: &Export) -> Vec<&'static str> {
    export.diagnostics.iter().map(|d| d.code).collect()
}

const GIT: &str = "material app {\n  git = \"https://git.example.com/app.git\"\n}\n";

fn one_job(job_body: &str) -> String {
    format!("{GIT}pipeline build {{\n  materials = [app]\n  stage s {{\n    job j {{\n{job_body}\n    }}\n  }}\n}}\n")
}

const JOB: &str = "stages.0.s.jobs.j";

#[test]
fn an_argv_run_is_an_exec_with_its_arguments() {
    let e = export_one(&one_job(r#"run ["make", "-j4", "all"]"#));
    let p = pipeline(&e, "build");
    assert_eq!(p.text_at(&format!("{JOB}.tasks.0.exec.command")), "make");
    let args = p.at(&format!("{JOB}.tasks.0.exec.arguments"));
    assert_eq!(args, Some(&Node::List(vec![Node::str("-j4"), Node::str("all")])));
    assert!(e.diagnostics.is_empty(), "{:?}", e.diagnostics);
}

#[test]
fn a_shell_run_is_sh_dash_c_with_the_script_and_hashes_doubled() {
    let e = export_one(&one_job("run \"\"\"\n  make # build\n  make test\n  \"\"\""));
    let p = pipeline(&e, "build");
    assert_eq!(p.text_at(&format!("{JOB}.tasks.0.exec.command")), "sh");
    assert_eq!(p.text_at(&format!("{JOB}.tasks.0.exec.arguments.0")), "-c");
    assert_eq!(p.text_at(&format!("{JOB}.tasks.0.exec.arguments.1")), "make ## build\nmake test");
}

#[test]
fn commands_with_yaml_syntax_in_them_read_back_unchanged() {
    // Each argument as written in `.pw`, and as GoCD must read it.
    let cases = [
        ("a: b", "a: b"),
        ("#x", "##x"),
        ("'q'", "'q'"),
        ("\\\"dq\\\"", "\"dq\""),
        ("line\\nbreak", "line\nbreak"),
        ("-leading", "-leading"),
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("12", "12"),
        ("1.5", "1.5"),
        ("[x]", "[x]"),
        ("{y}", "{y}"),
        ("&a", "&a"),
        ("*b", "*b"),
        ("! t", "! t"),
        ("% p", "% p"),
        ("@at", "@at"),
        ("`b`", "`b`"),
        ("a, b", "a, b"),
        ("~", "~"),
        ("null", "null"),
        ("true", "true"),
    ];
    let list = cases.iter().map(|(written, _)| format!("\"{written}\"")).collect::<Vec<_>>().join(", ");
    let e = export_one(&one_job(&format!("run [\"echo\", {list}]")));
    let p = pipeline(&e, "build");
    for (i, (_, read)) in cases.iter().enumerate() {
        assert_eq!(p.text_at(&format!("{JOB}.tasks.0.exec.arguments.{i}")), *read);
    }
}

#[test]
fn when_becomes_run_if() {
    let e = export_one(&one_job("run \"a\"\nrun \"b\" { when = failed }\nrun \"c\" { when = always }"));
    let p = pipeline(&e, "build");
    assert_eq!(p.at(&format!("{JOB}.tasks.0.exec.run_if")), None);
    assert_eq!(p.text_at(&format!("{JOB}.tasks.1.exec.run_if")), "failed");
    assert_eq!(p.text_at(&format!("{JOB}.tasks.2.exec.run_if")), "any");
}

#[test]
fn resources_and_whole_minute_timeouts_are_kept() {
    let e = export_one(&one_job("resources = [\"linux\", \"docker\"]\ntimeout = 1h\nrun \"make\""));
    let p = pipeline(&e, "build");
    assert_eq!(p.at(&format!("{JOB}.timeout")), Some(&Node::Int(60)));
    assert_eq!(p.text_at(&format!("{JOB}.resources.1")), "docker");
    assert!(e.diagnostics.is_empty(), "{:?}", e.diagnostics);
}

#[test]
fn a_timeout_in_seconds_is_rounded_up_with_a_warning() {
    let e = export_one(&one_job("timeout = 90s\nrun \"make\""));
    let p = pipeline(&e, "build");
    assert_eq!(p.at(&format!("{JOB}.timeout")), Some(&Node::Int(2)));
    assert_eq!(codes(&e), ["X0201"]);
    assert!(e.diagnostics[0].message.contains("(90s) is rounded up to 2 minutes"), "{}", e.diagnostics[0].message);
    assert!(!e.has_errors());
}

#[test]
fn env_and_secrets_at_pipeline_and_job_level() {
    let src = format!(
        "{GIT}pipeline build {{\n  materials = [app]\n  env {{\n    CI = \"true\"\n    TOKEN = secret(\"deploy-token\")\n  }}\n  stage s {{\n    job j {{\n      env {{ PORT = \"19000\" }}\n      run \"make\"\n    }}\n  }}\n}}\n"
    );
    let options = Options { secret_config: "vault".into() };
    let (e, _) = export_files(&[("app.pw", &src)], &options);
    let p = pipeline(&e, "build");
    assert_eq!(p.text_at("environment_variables.CI"), "true");
    assert_eq!(p.text_at("environment_variables.TOKEN"), "{{SECRET:[vault][deploy-token]}}");
    assert_eq!(p.text_at(&format!("{JOB}.environment_variables.PORT")), "19000");
}

#[test]
fn materials_after_and_groups() {
    let build = "material app {\n  git = \"https://git.example.com/app.git\"\n  branch = \"release\"\n  path = \"src\"\n}\npipeline build {\n  materials = [app]\n  stage test {\n    job j { run \"make\" }\n  }\n}\n";
    let deploy = "pipeline deploy {\n  after = [build.test]\n  stage ship {\n    job j { run \"ship\" }\n  }\n}\n";
    let (e, _) = export_files(&[("ci/build.pw", build), ("ci/deploy.pw", deploy)], &Options::default());
    let b = pipeline(&e, "build");
    assert_eq!(b.text_at("group"), "build");
    assert_eq!(b.text_at("materials.app.git"), "https://git.example.com/app.git");
    assert_eq!(b.text_at("materials.app.branch"), "release");
    assert_eq!(b.text_at("materials.app.destination"), "src");
    let d = pipeline(&e, "deploy");
    assert_eq!(d.text_at("group"), "deploy");
    assert_eq!(d.text_at("materials.build.pipeline"), "build");
    assert_eq!(d.text_at("materials.build.stage"), "test");
}

#[test]
fn stages_keep_approval_and_fetch_materials_and_always_clean_the_workspace() {
    let src = format!(
        "{GIT}pipeline build {{\n  materials = [app]\n  stage a {{\n    job j {{ run \"make\" }}\n  }}\n  stage b {{\n    approval = manual\n    fetch_materials = false\n    job j {{ run \"ship\" }}\n  }}\n}}\n"
    );
    let p = pipeline(&export_one(&src), "build");
    assert_eq!(p.at("stages.0.a.approval"), None);
    assert_eq!(p.at("stages.0.a.clean_workspace"), Some(&Node::Bool(true)));
    assert_eq!(p.at("stages.0.a.fetch_materials"), None);
    assert_eq!(p.text_at("stages.1.b.approval.type"), "manual");
    assert_eq!(p.at("stages.1.b.approval.allow_only_on_success"), Some(&Node::Bool(true)));
    assert_eq!(p.at("stages.1.b.fetch_materials"), Some(&Node::Bool(false)));
}

#[test]
fn artifacts_are_published_under_their_name_and_fetched_by_path() {
    let src = format!(
        "{GIT}pipeline build {{\n  materials = [app]\n  stage a {{\n    job j {{\n      run \"make\"\n      artifact tarball = \"dist/app.tar.gz\"\n      artifact site = \"web/dist\"\n    }}\n  }}\n  stage b {{\n    job k {{\n      fetch a.j.tarball into \"in\"\n      fetch a.j.site\n    }}\n  }}\n}}\n"
    );
    let e = export_one(&src);
    let p = pipeline(&e, "build");
    assert_eq!(p.text_at("stages.0.a.jobs.j.artifacts.0.build.source"), "dist/app.tar.gz");
    assert_eq!(p.text_at("stages.0.a.jobs.j.artifacts.0.build.destination"), "tarball");
    let fetch = "stages.1.b.jobs.k.tasks.0.fetch";
    assert_eq!(p.at(&format!("{fetch}.pipeline")), None, "same pipeline: no `pipeline`");
    assert_eq!(p.text_at(&format!("{fetch}.stage")), "a");
    assert_eq!(p.text_at(&format!("{fetch}.job")), "j");
    assert_eq!(p.text_at(&format!("{fetch}.source")), "tarball/app.tar.gz");
    assert_eq!(p.text_at(&format!("{fetch}.destination")), "in");
    assert_eq!(p.at(&format!("{fetch}.is_file")), Some(&Node::Bool(true)));
    let folder = "stages.1.b.jobs.k.tasks.1.fetch";
    assert_eq!(p.text_at(&format!("{folder}.source")), "site/dist");
    assert_eq!(p.at(&format!("{folder}.destination")), None);
    assert_eq!(p.at(&format!("{folder}.is_file")), Some(&Node::Bool(false)));
    assert!(e.diagnostics.is_empty(), "{:?}", e.diagnostics);
}

#[test]
fn an_artifact_path_that_does_not_show_its_kind_is_fetched_as_a_file_with_a_warning() {
    let src = format!(
        "{GIT}pipeline build {{\n  materials = [app]\n  stage a {{\n    job j {{\n      run \"make\"\n      artifact bin = \"out/hello\"\n    }}\n  }}\n  stage b {{\n    job k {{ fetch a.j.bin }}\n  }}\n}}\n"
    );
    let e = export_one(&src);
    let p = pipeline(&e, "build");
    assert_eq!(p.at("stages.1.b.jobs.k.tasks.0.fetch.is_file"), Some(&Node::Bool(true)));
    assert_eq!(codes(&e), ["X0203"]);
    assert_eq!(e.diagnostics[0].labels.len(), 1, "points at the artifact too");
}

#[test]
fn a_fetch_from_an_ancestor_names_the_path_through_its_downstreams() {
    let files = [
        ("build.pw", format!("{GIT}pipeline build {{\n  materials = [app]\n  stage a {{\n    job j {{\n      run \"make\"\n      artifact pkg = \"app.tar.gz\"\n    }}\n  }}\n}}\n")),
        ("verify.pw", "pipeline verify {\n  after = [build.a]\n  stage v {\n    job j { run \"check\" }\n  }\n}\n".to_string()),
        ("deploy.pw", "pipeline deploy {\n  after = [verify.v]\n  stage d {\n    job j {\n      fetch build.a.j.pkg\n      fetch verify.v.j.pkg2\n    }\n  }\n}\n".to_string()),
    ];
    // `verify` publishes nothing: give it the artifact the second fetch names.
    let files: Vec<(&str, String)> = files
        .into_iter()
        .map(|(n, t)| {
            (
                n,
                t.replace(
                    "job j { run \"check\" }",
                    "job j {\n      run \"check\"\n      artifact pkg2 = \"r.txt\"\n    }",
                ),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let (e, _) = export_files(&refs, &Options::default());
    let d = pipeline(&e, "deploy");
    assert_eq!(d.text_at("stages.0.d.jobs.j.tasks.0.fetch.pipeline"), "build/verify");
    assert_eq!(d.text_at("stages.0.d.jobs.j.tasks.1.fetch.pipeline"), "verify");
}

#[test]
fn templates_and_static_fan_outs_are_expanded() {
    let src = format!(
        "{GIT}template job cargo(cmd: string) {{\n  run \"cargo #{{cmd}}\"\n}}\npipeline build {{\n  materials = [app]\n  stage s {{\n    job unit = cargo(cmd = \"test\")\n    job ship for server in [\"web-1\", \"web-2\"] {{\n      run \"scp app #{{server}}:/srv\"\n    }}\n  }}\n}}\n"
    );
    let p = pipeline(&export_one(&src), "build");
    assert_eq!(p.text_at("stages.0.s.jobs.unit.tasks.0.exec.arguments.1"), "cargo test");
    assert_eq!(p.text_at("stages.0.s.jobs.ship-web-2.tasks.0.exec.arguments.1"), "scp app web-2:/srv");
}

#[test]
fn one_instance_at_a_time_is_a_lock_and_more_is_a_warning() {
    let locked = export_one(&format!("{GIT}pipeline build {{\n  materials = [app]\n  max_instances = 1\n  stage s {{\n    job j {{ run \"make\" }}\n  }}\n}}\n"));
    assert_eq!(pipeline(&locked, "build").text_at("lock_behavior"), "unlockWhenFinished");
    let three = export_one(&format!("{GIT}pipeline build {{\n  materials = [app]\n  max_instances = 3\n  stage s {{\n    job j {{ run \"make\" }}\n  }}\n}}\n"));
    assert_eq!(pipeline(&three, "build").at("lock_behavior"), None);
    assert_eq!(codes(&three), ["X0202"]);
}

#[test]
fn settings_gocd_lacks_are_warnings_and_the_pipeline_is_still_exported() {
    let src = "material app {\n  git = \"https://x/app.git\"\n  poll = 5m\n}\npipeline build {\n  materials = [app]\n  stage s {\n    on_failure = cancel\n    job j {\n      wait_limit = 10m\n      run \"make\"\n    }\n  }\n}\n";
    let e = export_one(src);
    assert_eq!(codes(&e), ["X0202", "X0202", "X0202"]);
    assert!(!e.has_errors());
    pipeline(&e, "build");
}

#[test]
fn discover_is_an_error_and_leaves_out_its_pipeline_and_downstreams_only() {
    let src = format!(
        "{GIT}pipeline edge {{\n  materials = [app]\n  stage push {{\n    job reload for host in discover(\"hosts\") {{ run \"reload #{{host}}\" }}\n  }}\n}}\npipeline after-edge {{\n  after = [edge.push]\n  stage s {{\n    job j {{ run \"x\" }}\n  }}\n}}\npipeline other {{\n  materials = [app]\n  stage s {{\n    job j {{ run \"x\" }}\n  }}\n}}\n"
    );
    let e = export_one(&src);
    assert_eq!(codes(&e), ["X0101", "X0102"]);
    assert!(e.diagnostics[0].message.contains("`discover(...)`"), "{}", e.diagnostics[0].message);
    let names: Vec<&str> = e.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(names, ["other.gocd.yaml"]);
}

#[test]
fn a_pipeline_without_material_cannot_be_exported_and_its_warnings_are_not_shown() {
    let e = export_one(
        "pipeline manual {\n  stage s {\n    job j {\n      timeout = 90s\n      run \"x\"\n    }\n  }\n}\n",
    );
    assert_eq!(codes(&e), ["X0101"]);
    assert!(e.files.is_empty());
}

#[test]
fn config_ids_are_gocd_names() {
    assert!(is_valid_config_id("vault-prod.1"));
    assert!(!is_valid_config_id(""));
    assert!(!is_valid_config_id("a]b"));
}

#[test]
fn every_export_code_is_explained_and_apart_from_the_checkers() {
    use crate::diagnostic::DiagnosticCode;
    for doc in crate::export::codes::CODES {
        let code = doc.code.as_str();
        assert!(crate::codes::Code::parse(code).is_none(), "{code} is a checker code too");
        let text = crate::codes::explain(&code.to_ascii_lowercase()).unwrap_or_default();
        assert!(text.starts_with(&format!("# {code}: {}", doc.title)), "{text}");
        assert_eq!(crate::render::code_and_name(code), format!("{code} {}", doc.title));
    }
}
