//! Layouts the formatter produces, as snapshots: each shows the formatted text of a messy input.
//! Every case is also checked to be idempotent.

use pw_compiler::format::format;

/// Formats `text`, checks that formatting the result changes nothing, returns it.
fn fmt(text: &str) -> String {
    let once = format(text).unwrap_or_else(|e| panic!("refused: {e:?}"));
    assert_eq!(format(&once).as_deref(), Ok(once.as_str()), "not idempotent:\n{once}");
    once
}

#[test]
fn aligns_fields_and_normalises_blank_lines() {
    insta::assert_snapshot!(fmt(r##"


material app {   git="https://git.example.com/app.git"
branch    =     "main"
  poll = 1m }
material other { git = "x" }
pipeline build {
    materials = [app,other]
    after = [up.test]



    max_instances = 2
    stage compile { job linux { run "make" } job mac { run "make" } }
    stage test {
        job unit { run "make test" }
    }
}
"##));
}

#[test]
fn keeps_comments_where_they_were_written() {
    insta::assert_snapshot!(fmt(r##"# The build of the app.
# Two lines of header.

material app { # the main repository
  git = "x"      # where it lives
  branch = "main" # which branch
  # a comment before the closing brace
}

pipeline build {
  materials = [
    app, # the app
    # and nothing else
  ]
  stage compile {
    job linux {
      run "make"   # build it

      # then publish
      artifact bin = "out/bin"
    }
  }
  # trailing comment of the pipeline body
}
# the end
"##));
}

#[test]
fn wraps_long_lists_calls_and_signatures() {
    insta::assert_snapshot!(fmt(r##"
template job cargo(command: string, toolchain: string = "stable", features: list = ["default", "serde"], timeout_for_the_job: duration = 20m) {
  resources = ["linux", "rust", "a-very-long-resource-name", "another-very-long-resource-name", "x86_64"]
  run ["cargo", "+#{toolchain}", "#{command}", "--features", "default,serde,tokio,tracing,metrics,extra"]
  run "cargo #{command}"
}
pipeline build {
  stage test {
    job unit = cargo(command = "test --workspace --all-features", toolchain = "nightly-2026-01-01", timeout_for_the_job = 45m)
    job short = cargo(command = "build")
    job shard for n in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25] {
      run "test --shard #{n}"
    }
  }
}
"##));
}

#[test]
fn prints_tasks_options_env_and_strings_as_written() {
    insta::assert_snapshot!(fmt(r##"pipeline p {
  env { A = "1" }
  env { B = "2" C = secret("c") }
  stage s {
    approval = manual
    job j for server in discover("consul members | cut -f1") {
      fetch   build.compile.linux.webapp   into "bin"
      run "echo \"quoted\" \# not interpolated #{server}" { when = failed }
      run "x" { when = always estimate = 2m }
      run """
        ./one.sh \
          --flag
        """
      run ["a",  "b"]
      artifact log = "out/log.txt"
      artifact report-with-long-name = "out/report.html"
    }
  }
}
"##));
}

#[test]
fn keeps_the_options_of_artifacts() {
    insta::assert_snapshot!(fmt(r##"pipeline build {
  stage test {
    job unit {
      run "make test"
      artifact junit="out/junit.xml"   {kind=report}
      artifact app = "out/app" {
        # what people download
        kind = deliverable
      }
      artifact log = "out/test.log"
    }
  }
}
"##));
}

#[test]
fn refuses_files_with_syntax_errors() {
    let errors = format("pipeline p {\n  stage s {\n").expect_err("a syntax error");
    assert!(errors.iter().all(|d| d.is_error()));
    assert!(errors.iter().any(|d| d.code == "E0105"), "{errors:?}");
    assert!(format("material m { poll = 5x }").is_err(), "an invalid duration is refused too");
}

#[test]
fn an_empty_file_stays_empty() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("\n\n  \n"), "");
    assert_eq!(fmt("# only a comment\n\n\n"), "# only a comment\n");
}

#[test]
fn prints_a_stage_s_env_among_its_fields() {
    insta::assert_snapshot!(fmt(r##"pipeline deploy {
  env { LEVEL = "pipeline" }
  stage canary {
    approval=manual
    env {   WAVE="canary"   }
    env { REGION = "eu"
      TOKEN = secret("deploy-token") }
    job ship { run "./ship.sh" }
  }
}
"##));
}

#[test]
fn prints_a_task_s_working_folder_after_its_command() {
    insta::assert_snapshot!(fmt(r##"pipeline api {
  stage build {
    job test {
      run   "make test"   in   "services/api"   {when=always}
      run ["go","vet","./..."] in "./services/api/"
      run ["cargo", "nextest", "run", "--locked", "--profile", "ci", "--workspace", "--all-features"] in "services/payments"
      run """
        make lint
        make docs
        """ in "services/api" { estimate = 1m }
    }
  }
}
"##));
}
