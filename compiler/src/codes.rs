//! The long explanation of every checker code, with an example, for `pw explain CODE` and the
//! language server's hovers.

pub struct CodeDoc {
    pub code: &'static str,
    pub title: &'static str,
    /// Markdown: why it is an error, an example, and the fix.
    pub text: &'static str,
}

/// The explanation of `code` (any case), for checker and lint codes alike.
pub fn explain(code: &str) -> Option<String> {
    let upper = code.trim().to_ascii_uppercase();
    if let Some(doc) = all_codes().find(|c| c.code == upper) {
        return Some(format!("# {}: {}\n\n{}\n", doc.code, doc.title, doc.text.trim()));
    }
    crate::lint::registry::explain(code.trim())
}

/// The one-line title of a checker code.
pub fn title(code: &str) -> Option<&'static str> {
    all_codes().find(|c| c.code.eq_ignore_ascii_case(code)).map(|c| c.title)
}

/// The checker's codes, then `pw export`'s.
fn all_codes() -> impl Iterator<Item = &'static CodeDoc> {
    CODES.iter().chain(crate::export::codes::CODES)
}

pub static CODES: &[CodeDoc] = &[
    CodeDoc {
        code: "E0101",
        title: "unexpected character",
        text: r#"
A character that starts no token of the language, such as `@` or `;` outside a string.

```pw
pipeline build {
  stage compile {
    job linux {
      timeout = 10m;
      run "make";
    }
  }
}
```

`;` is not part of the language: members need no separator. Put them on their own lines; text
belongs in double quotes.

```pw
pipeline build {
  stage compile {
    job linux {
      timeout = 10m
      run "make"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0102",
        title: "unterminated string",
        text: r#"
A `"` string must close on the line it starts; a `"""` string must be closed by `"""`.

```pw
pipeline build {
  stage compile {
    job linux {
      run "cargo build
    }
  }
}
```

Close the string, or use `"""` for a script of several lines:

```pw
pipeline build {
  stage compile {
    job linux {
      run """
        cargo build
        cargo test
        """
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0103",
        title: "invalid escape in a string",
        text: r#"
Strings know the escapes `\\`, `\"`, `\n`, `\t`, `\r` and `\#` (a literal `#`, so that `\#{x}`
is not an interpolation). Any other backslash sequence is an error, so that a typo does not pass
silently into a script.

```pw
pipeline build {
  stage check {
    job logs {
      run "grep -E 'panic\|abort' build.log"
    }
  }
}
```

Write `\\` for a backslash. In `"""` strings, a backslash at the end of a line is kept, for shell
line continuations.

```pw
pipeline build {
  stage check {
    job logs {
      run "grep -E 'panic\\|abort' build.log"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0104",
        title: "invalid duration",
        text: r#"
A duration is one or more groups of a number and a unit, largest unit first, each unit once:
`d` (days), `h`, `m`, `s`. For example `45s`, `20m`, `1h30m`, `2d`.

```pw
pipeline build {
  stage test {
    job unit {
      timeout    = 20x
      wait_limit = 1m1h
      run "cargo test"
    }
  }
}
```

Give each number a unit, largest first:

```pw
pipeline build {
  stage test {
    job unit {
      timeout    = 20m
      wait_limit = 1h1m
      run "cargo test"
    }
  }
}
```

Durations are whole numbers of each unit and never negative: `1.5m` is written `90s` (or
`1m30s`), and `-5m` means nothing. The message gives the duration to write instead.
"#,
    },
    CodeDoc {
        code: "E0105",
        title: "syntax error",
        text: r#"
The parser expected something else here. The message says what it expected and what it found.
Every entity is `kind name { ... }`, fields are `name = value`, tasks are `run ...` and
`fetch ...` inside a job.

```pw
pipeline build {
  stage compile {
    job linux {
      resources = ["linux" "docker"]
      run "make"
      artifact bin "out/app"
    }
  }
}
```

Here the list lacks a `,` between its items, and the artifact its `=`. The parser recovers and
reports every syntax error in the file.

```pw
pipeline build {
  stage compile {
    job linux {
      resources = ["linux", "docker"]
      run "make"
      artifact bin = "out/app"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0106",
        title: "nesting too deep",
        text: r#"
Blocks, lists and calls may nest at most 64 deep. Real pipelines nest four or five levels
(pipeline, stage, job, task options); deeper nesting is almost certainly a generated or broken
file, and the limit keeps the compiler's memory and time bounded.

An example is too large to show here: it takes 65 levels of brackets, such as a field whose
value is a list inside 64 other lists (`resources = [[[[ ... ]]]]`). The error is reported once,
at the first bracket too deep, and what is nested below it is not read.

Flatten the value, or fix the generator that wrote the file: no field takes more than a list of
strings.
"#,
    },
    CodeDoc {
        code: "E0107",
        title: "invalid interpolation",
        text: r#"
`#{name}` inside a string inserts a template parameter or a `for` variable. It must be closed by
`}` and hold one name.

```pw
pipeline deploy {
  stage ship {
    job copy for server in ["web-1", "web-2"] {
      run "scp app #{server:/srv/"
      run "ssh #{server name} systemctl restart app"
    }
  }
}
```

Write `#{server}`. For a literal `#{`, escape the `#`: `\#{`. Shell variables are written
`$NAME` or `${NAME}` and pass through untouched.

```pw
pipeline deploy {
  stage ship {
    job copy for server in ["web-1", "web-2"] {
      run "scp app #{server}:/srv/"
      run "ssh #{server} systemctl restart app"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0108",
        title: "number out of range",
        text: r#"
A number must fit in a signed 64-bit integer (-9223372036854775808 to 9223372036854775807), and
a duration in 64 bits of seconds. A larger one is almost always a typo or a generated value.

```pw
pipeline deploy {
  max_instances = 99999999999999999999

  stage ship {
    job copy {
      run "./ship.sh"
    }
  }
}
```

Write the number meant, or remove the field for its default (here: no limit).

```pw
pipeline deploy {
  max_instances = 2

  stage ship {
    job copy {
      run "./ship.sh"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0201",
        title: "unknown field",
        text: r#"
Each kind of entity takes a fixed set of fields; a misspelt field would otherwise be ignored.

```pw
pipeline build {
  stage test {
    job unit {
      timout = 10m
      run "cargo test"
    }
  }
}
```

The message lists the fields the entity takes, and suggests the closest; the language reference
describes each. Here the field is `timeout`:

```pw
pipeline build {
  stage test {
    job unit {
      timeout = 10m
      run "cargo test"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0202",
        title: "wrong value type",
        text: r#"
A field, argument or task got a value of the wrong type: a word where a string is wanted, a
number without units where a duration is wanted, a string where a reference is wanted.

```pw
pipeline build {
  stage compile {
    job linux {
      run "make"
      artifact app = "out/app"
    }
  }

  stage test {
    job unit {
      timeout   = 600
      resources = [linux]
      fetch "compile.linux.app"
      run "./app --self-test"
    }
  }
}
```

A duration takes a unit, a list of resources holds strings, and a fetch names its artifact by a
reference, without quotes:

```pw
pipeline build {
  stage compile {
    job linux {
      run "make"
      artifact app = "out/app"
    }
  }

  stage test {
    job unit {
      timeout   = 10m
      resources = ["linux"]
      fetch compile.linux.app
      run "./app --self-test"
    }
  }
}
```

An empty string where it cannot mean anything is reported with this code too: `git`, `branch`, a
material's `path`, an entry of `resources`, an artifact's path, an `into` folder, and `run []` or
a `run` list whose program is `""`. An environment variable may be empty.
"#,
    },
    CodeDoc {
        code: "E0203",
        title: "missing required field",
        text: r#"
Some fields have no default. A material must say which repository it is:

```pw
material app {
  branch = "main"
}
```

Add the URL or path of its repository:

```pw
material app {
  git    = "https://git.example.com/acme/app.git"
  branch = "main"
}
```
"#,
    },
    CodeDoc {
        code: "E0204",
        title: "pipeline without a stage",
        text: r#"
A pipeline runs its stages in order; a pipeline without a stage would run nothing, and is almost
always a mistake in progress.

```pw
pipeline build {
  max_instances = 1
}
```

Add a stage:

```pw
pipeline build {
  max_instances = 1

  stage compile {
    job linux {
      run "make"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0205",
        title: "stage without a job",
        text: r#"
A stage passes when all its jobs pass; a stage without jobs would pass without doing anything.

```pw
pipeline deploy {
  stage production {
    approval = manual
  }
}
```

Add a job, or remove the stage:

```pw
pipeline deploy {
  stage production {
    approval = manual

    job ship {
      run "./ship.sh"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0206",
        title: "job without a task",
        text: r#"
A job runs its tasks in order on one agent. A job without a task would take an agent and a
checkout for nothing.

```pw
pipeline build {
  stage check {
    job lint {
      timeout = 5m
    }
  }
}
```

Add what it runs:

```pw
pipeline build {
  stage check {
    job lint {
      timeout = 5m
      run "cargo clippy"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0207",
        title: "misplaced member",
        text: r#"
Each entity holds certain members: a file holds materials, pipelines and templates; a pipeline
holds stages, `env` and fields; a stage holds jobs and fields; a job holds tasks, artifacts, `env`
and fields.

```pw
pipeline build {
  stage test {
    run "cargo fetch"

    job unit {
      run "cargo test"
    }
  }
}
```

A task must be inside a job; the tasks of a job run in order, in its workspace:

```pw
pipeline build {
  stage test {
    job unit {
      run "cargo fetch"
      run "cargo test"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0208",
        title: "value out of range",
        text: r#"
`max_instances` must be at least 1, and durations such as `timeout`, `wait_limit` and `poll` at
least `1s`: a limit of zero would mean the entity can never run.

```pw
pipeline deploy {
  max_instances = 0

  stage ship {
    job copy {
      timeout = 0s
      run "./ship.sh"
    }
  }
}
```

Remove the field for its default, or give a positive value:

```pw
pipeline deploy {
  max_instances = 1

  stage ship {
    job copy {
      timeout = 10m
      run "./ship.sh"
    }
  }
}
```

Paths are relative to a job's workspace and stay inside it: an artifact's path, a fetch's `into`
folder and a material's checkout `path` are neither absolute nor lead out through `..`. Agents
refuse such paths, so `artifact host = "/etc/hostname"` and `into "../bin"` are reported here,
before anything runs. Copy a file into the workspace in a task first (`run "cp /etc/hostname ."`,
then `artifact host = "hostname"`), and fetch into a folder of the workspace (`into "bin"`). A
material's `git` may be any URL or local path: it says where the repository comes from.
"#,
    },
    CodeDoc {
        code: "E0209",
        title: "field given twice",
        text: r#"
A field or a template argument may be given once. Which of two values wins would be a guess.

```pw
pipeline build {
  stage test {
    job unit {
      timeout = 10m
      timeout = 20m
      run "cargo test"
    }
  }
}
```

Keep the one meant:

```pw
pipeline build {
  stage test {
    job unit {
      timeout = 20m
      run "cargo test"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0301",
        title: "unresolved reference",
        text: r#"
A name that refers to a material, pipeline, stage, job, artifact, template or function does not
resolve. The message suggests the closest name where one is close.

```pw
material webapp {
  git = "https://git.example.com/acme/webapp.git"
}

pipeline build {
  materials = [webap]

  stage compile {
    job linux {
      run "make"
    }
  }
}
```

Name what exists:

```pw
material webapp {
  git = "https://git.example.com/acme/webapp.git"
}

pipeline build {
  materials = [webapp]

  stage compile {
    job linux {
      run "make"
    }
  }
}
```

References inside a pipeline are `stage.job.artifact`; to another pipeline
`pipeline.stage.job.artifact`; `after` takes `pipeline.stage`. Names are compared without regard
to case.
"#,
    },
    CodeDoc {
        code: "E0302",
        title: "invalid name",
        text: r#"
Names are letters, digits, `_` and `-`, start with a letter or `_`, and have at most 255
characters. Environment variable names are letters, digits and `_` only, as shells require.

```pw
pipeline deploy {
  env { DEPLOY-TOKEN = secret("deploy") }

  stage ship {
    job copy {
      run "./ship.sh"
    }
  }
}
```

Write `DEPLOY_TOKEN`:

```pw
pipeline deploy {
  env { DEPLOY_TOKEN = secret("deploy") }

  stage ship {
    job copy {
      run "./ship.sh"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0303",
        title: "duplicate name",
        text: r#"
Two materials, pipelines or templates of a workspace, two stages of a pipeline, two jobs of a
stage, two artifacts of a job, two parameters of a template or two variables of an `env` block
have the same name. Names are compared without regard to case, as GoCD does, so `Build` and
`build` clash. A `for` fan-out or template can make a duplicate too: `job test-1` next to
`job test for i in 1..3`.

```pw
pipeline build {
  stage test {
    job unit {
      run "cargo test --lib"
    }

    job Unit {
      run "cargo test --doc"
    }
  }
}
```

Give each its own name, or merge them:

```pw
pipeline build {
  stage test {
    job unit {
      run "cargo test --lib"
    }

    job doc {
      run "cargo test --doc"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0401",
        title: "fetch from a job of the same stage",
        text: r#"
The jobs of a stage run at the same time, on different agents, in different workspaces. A job
that fetches another job's artifact in the same stage would start before the artifact exists: it
is sequential work split across parallel jobs.

```pw
pipeline app {
  stage build {
    job compile {
      run "make"
      artifact bin = "out/app"
    }

    job package {
      fetch build.compile.bin
      run "tar czf app.tgz app"
    }
  }
}
```

Either make them tasks of one job, in order:

```pw
pipeline app {
  stage build {
    job compile {
      run "make"
      run "tar czf app.tgz out/app"
    }
  }
}
```

or move the consumer to a later stage, which can then be re-run on its own:

```pw
pipeline app {
  stage build {
    job compile {
      run "make"
      artifact bin = "out/app"
    }
  }

  stage package {
    job tarball {
      fetch build.compile.bin
      run "tar czf app.tgz app"
    }
  }
}
```

A job that fetches its own artifact is reported with this code too. A job publishes its artifacts
when its tasks are done; while it runs, the file is already in its workspace: use the path the
`artifact` names directly.
"#,
    },
    CodeDoc {
        code: "E0402",
        title: "fetch from a stage that has not run",
        text: r#"
Stages run in order, so a job can fetch only from an earlier stage of its pipeline. From an
upstream pipeline, it can fetch only from the stage that triggers the next pipeline along the
`after` chain, or an earlier one: later stages may not have run when this pipeline starts. For a
direct upstream, that is the stage this pipeline's `after` names. For an upstream reached through
other pipelines, it is the stage named by the `after` of the pipeline that runs right after it:
with `verify` running `after = [build.test]` and `deploy` running `after = [verify.check]`,
`deploy` can fetch from `build`'s `test` and earlier stages, but not from a later `package`. When
several pipelines on the way run after the same upstream, the earliest of their trigger stages is
the limit.

```pw
pipeline build {
  stage test {
    job unit {
      fetch package.deb.app
      run "dpkg -i app.deb && app --self-test"
    }
  }

  stage package {
    job deb {
      run "make deb"
      artifact app = "out/app.deb"
    }
  }
}
```

Here `test` runs before `package` has made the package. Put the stage that makes the artifact
first:

```pw
pipeline build {
  stage package {
    job deb {
      run "make deb"
      artifact app = "out/app.deb"
    }
  }

  stage test {
    job unit {
      fetch package.deb.app
      run "dpkg -i app.deb && app --self-test"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0403",
        title: "artifact not published",
        text: r#"
The job named in a fetch does not publish an artifact of that name. Artifacts are declared in the
job that makes them, with `artifact NAME = "path"`, and are uploaded when its tasks have run.

```pw
pipeline build {
  stage compile {
    job linux {
      run "make"
      artifact bin = "out/app"
    }
  }

  stage test {
    job unit {
      fetch compile.linux.binary
      run "./app --self-test"
    }
  }
}
```

Fetch an artifact the job publishes (the message lists them), or declare it in that job:

```pw
pipeline build {
  stage compile {
    job linux {
      run "make"
      artifact bin = "out/app"
    }
  }

  stage test {
    job unit {
      fetch compile.linux.bin
      run "./app --self-test"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0404",
        title: "fetch from a pipeline that is not upstream",
        text: r#"
A fetch from another pipeline gets the artifact of the exact upstream instance that triggered this
one. That only exists when this pipeline runs `after` the other, directly or through a chain.

```pw
pipeline build {
  stage compile {
    job linux {
      run "make"
      artifact app = "out/app"
    }
  }
}

pipeline deploy {
  stage ship {
    job all {
      fetch build.compile.linux.app
      run "./ship app"
    }
  }
}
```

Make `deploy` run after `build` (here after its `compile` stage, or a later one):

```pw
pipeline build {
  stage compile {
    job linux {
      run "make"
      artifact app = "out/app"
    }
  }
}

pipeline deploy {
  after = [build.compile]

  stage ship {
    job all {
      fetch build.compile.linux.app
      run "./ship app"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0405",
        title: "cycle among pipelines",
        text: r#"
Pipelines whose `after` entries form a cycle would each wait for another: none could be
triggered. The message lists the whole cycle.

```pw
pipeline build {
  after = [deploy.ship]

  stage compile {
    job linux {
      run "make"
    }
  }
}

pipeline deploy {
  after = [build.compile]

  stage ship {
    job all {
      run "./ship.sh"
    }
  }
}
```

Remove one of its edges; here `build` is the start of the chain and runs on its own:

```pw
pipeline build {
  stage compile {
    job linux {
      run "make"
    }
  }
}

pipeline deploy {
  after = [build.compile]

  stage ship {
    job all {
      run "./ship.sh"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0406",
        title: "named twice in a list",
        text: r#"
The same upstream pipeline appears twice in `after`, or the same material twice in `materials`.
A pipeline is triggered by one stage of each upstream, and checks out each material once.

```pw
material app {
  git = "https://git.example.com/acme/app.git"
}

pipeline build {
  materials = [app, app]

  stage compile {
    job linux {
      run "make"
    }
  }
}
```

Keep one entry:

```pw
material app {
  git = "https://git.example.com/acme/app.git"
}

pipeline build {
  materials = [app]

  stage compile {
    job linux {
      run "make"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0407",
        title: "materials checked out at the same path",
        text: r#"
All materials of a pipeline are checked out into each job's one workspace. Two of them at the same
`path` (`.` by default) would overwrite each other.

```pw
material app {
  git = "https://git.example.com/app.git"
}

material docs {
  git = "https://git.example.com/docs.git"
}

pipeline site {
  materials = [app, docs]

  stage build {
    job html {
      run "make -C docs html"
    }
  }
}
```

Give each a distinct folder:

```pw
material app {
  git  = "https://git.example.com/app.git"
  path = "app"
}

material docs {
  git  = "https://git.example.com/docs.git"
  path = "docs"
}

pipeline site {
  materials = [app, docs]

  stage build {
    job html {
      run "make -C docs html"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0408",
        title: "fetch from a fanned-out job",
        text: r#"
A job with `for` runs as several jobs, one per value (`shard-1`, `shard-2`, ...), or, with
`discover(...)`, as jobs whose names are known only when the stage starts. A fetch must name one
job.

```pw
pipeline build {
  stage test {
    job shard for n in 1..3 {
      run "make test SHARD=#{n}"
      artifact report = "report.xml"
    }
  }

  stage report {
    job merge {
      fetch test.shard.report
      run "./merge-reports.sh"
    }
  }
}
```

Fetch from each instance you need, such as `test.shard-1.report`, into folders of their own:

```pw
pipeline build {
  stage test {
    job shard for n in 1..3 {
      run "make test SHARD=#{n}"
      artifact report = "report.xml"
    }
  }

  stage report {
    job merge {
      fetch test.shard-1.report into "shard-1"
      fetch test.shard-2.report into "shard-2"
      run "./merge-reports.sh shard-*/report.xml"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0501",
        title: "template of the wrong kind",
        text: r#"
A `template job` makes jobs, a `template stage` stages, a `template pipeline` pipelines. Using one
where another kind belongs is an error.

```pw
template job cargo(cmd: string) {
  run "cargo #{cmd}"
}

pipeline build {
  stage test = cargo(cmd = "test")
}
```

A job template makes the jobs of a stage:

```pw
template job cargo(cmd: string) {
  run "cargo #{cmd}"
}

pipeline build {
  stage test {
    job unit = cargo(cmd = "test")
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0502",
        title: "missing template argument",
        text: r#"
A parameter without a default must be given an argument.

```pw
template job cargo(cmd: string, toolchain: string = "stable") {
  run "rustup run #{toolchain} cargo #{cmd}"
}

pipeline build {
  stage test {
    job unit = cargo(toolchain = "nightly")
  }
}
```

Add the argument:

```pw
template job cargo(cmd: string, toolchain: string = "stable") {
  run "rustup run #{toolchain} cargo #{cmd}"
}

pipeline build {
  stage test {
    job unit = cargo(cmd = "test", toolchain = "nightly")
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0503",
        title: "unknown template argument",
        text: r#"
An argument names no parameter of the template: a misspelt argument would otherwise leave its
parameter at its default without a word. The message lists the parameters and suggests the
closest.

```pw
template job cargo(cmd: string, toolchain: string = "stable") {
  run "rustup run #{toolchain} cargo #{cmd}"
}

pipeline build {
  stage test {
    job unit = cargo(cmd = "test", toolchian = "nightly")
  }
}
```

Name a parameter of the template:

```pw
template job cargo(cmd: string, toolchain: string = "stable") {
  run "rustup run #{toolchain} cargo #{cmd}"
}

pipeline build {
  stage test {
    job unit = cargo(cmd = "test", toolchain = "nightly")
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0504",
        title: "wrong argument type",
        text: r#"
Template parameters are typed: `string`, `int`, `bool`, `duration` or `list`. An argument (or a
default) must have its parameter's type.

```pw
template job test(limit: duration) {
  timeout = limit
  run "make test"
}

pipeline build {
  stage test {
    job unit = test(limit = "10m")
  }
}
```

Write the duration without quotes:

```pw
template job test(limit: duration) {
  timeout = limit
  run "make test"
}

pipeline build {
  stage test {
    job unit = test(limit = 10m)
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0505",
        title: "recursive template (cannot occur)",
        text: r#"
No program can cause this code: the language cannot express a recursive template. The checker
still guards against one, and would report it with this code, so that no later change to the
language can make it loop.

It was meant for a template that instantiates itself, directly or through other templates. But a
template's body can only instantiate templates of a smaller kind (a pipeline template's stages, a
stage template's jobs; a job holds tasks, not jobs), so every chain of templates ends within three
steps. What would come closest is reported by other codes: a template used where another kind
belongs is E0501, and a template written inside a template is E0207.

```pw
template stage checks() {
  job all = checks()
}
```

This reports E0501: `checks` makes stages, and a stage holds jobs.
"#,
    },
    CodeDoc {
        code: "E0506",
        title: "unknown name in an interpolation",
        text: r#"
`#{name}` reads a template parameter or a `for` variable in scope. Anything else is an error, so
that a typo does not become an empty string in a script.

```pw
pipeline deploy {
  stage production {
    job ship for server in ["web-1", "web-2"] {
      run "scp app #{sever}:/srv/"
    }
  }
}
```

Name a parameter or variable in scope. For a shell variable, write `${NAME}`; it passes through
untouched.

```pw
pipeline deploy {
  stage production {
    job ship for server in ["web-1", "web-2"] {
      run "scp app #{server}:/srv/"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0507",
        title: "empty fan-out",
        text: r#"
A `for` that makes no job, such as `for i in 3..3` or `for s in []`, is almost certainly a
mistake: the stage would lose that job silently. A range `a..b` includes `a` and stops before `b`.

```pw
pipeline build {
  stage test {
    job shard for n in 3..3 {
      run "make test SHARD=#{n}"
    }
  }
}
```

Give a range whose end is past its start (here four shards, 1 to 4):

```pw
pipeline build {
  stage test {
    job shard for n in 1..5 {
      run "make test SHARD=#{n}"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0508",
        title: "repeated fan-out value",
        text: r#"
Each value of a `for` makes one job named after it; a repeated value would make two jobs of the
same name, and run the same work twice.

```pw
pipeline deploy {
  stage ship {
    job copy for server in ["web-1", "web-2", "web-1"] {
      run "scp app #{server}:/srv/"
    }
  }
}
```

List each value once:

```pw
pipeline deploy {
  stage ship {
    job copy for server in ["web-1", "web-2"] {
      run "scp app #{server}:/srv/"
    }
  }
}
```
"#,
    },
    CodeDoc {
        code: "E0509",
        title: "invalid fan-out source",
        text: r#"
`for` takes a list of strings or numbers, a range `a..b`, or `discover("command")`, whose output
lines become the values when the stage starts. One `for` makes at most 1000 jobs.

```pw
pipeline deploy {
  stage ship {
    job copy for server in "web-1 web-2" {
      run "scp app #{server}:/srv/"
    }
  }
}
```

A string is one value, not a list: write the list, or `discover(...)` a command that prints the
values one a line.

```pw
pipeline deploy {
  stage ship {
    job copy for server in ["web-1", "web-2"] {
      run "scp app #{server}:/srv/"
    }
  }
}
```
"#,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_explained_once() {
        let mut codes: Vec<&str> = CODES.iter().map(|c| c.code).collect();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n);
        assert!(explain("e0401").is_some_and(|t| t.contains("same stage")));
        assert!(explain("E9999").is_none());
    }
}
