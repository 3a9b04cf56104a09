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
    if let Some(doc) = CODES.iter().find(|c| c.code == upper) {
        return Some(format!("# {}: {}\n\n{}\n", doc.code, doc.title, doc.text.trim()));
    }
    crate::lint::registry::explain(code.trim())
}

/// The one-line title of a checker code.
pub fn title(code: &str) -> Option<&'static str> {
    CODES.iter().find(|c| c.code.eq_ignore_ascii_case(code)).map(|c| c.title)
}

pub static CODES: &[CodeDoc] = &[
    CodeDoc {
        code: "E0101",
        title: "unexpected character",
        text: r#"
A character that starts no token of the language, such as `@` or `;` outside a string.

```pw
job build { timeout = 10m; run "make" }   # `;` is not part of the language
```

Members need no separator: put them on their own lines. Text belongs in double quotes.
"#,
    },
    CodeDoc {
        code: "E0102",
        title: "unterminated string",
        text: r#"
A `"` string must close on the line it starts; a `"""` string must be closed by `"""`.

```pw
run "cargo build
```

Close the string, or use `"""` for a script of several lines:

```pw
run """
  cargo build
  cargo test
  """
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
run "grep -E 'a\|b' log.txt"
```

Write `\\` for a backslash: `run "grep -E 'a\\|b' log.txt"`. In `"""` strings, a backslash at the
end of a line is kept, for shell line continuations.
"#,
    },
    CodeDoc {
        code: "E0104",
        title: "invalid duration",
        text: r#"
A duration is one or more groups of a number and a unit, largest unit first, each unit once:
`d` (days), `h`, `m`, `s`. For example `45s`, `20m`, `1h30m`, `2d`.

```pw
timeout = 20x
timeout = 1m1h
```

Write `timeout = 20m` or `timeout = 1h1m`.
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
  stage compile
    job linux { run "make" }
  }
}
```

Here `stage compile` lacks its `{`. The parser recovers and reports every syntax error in the file.
"#,
    },
    CodeDoc {
        code: "E0106",
        title: "nesting too deep",
        text: r#"
Blocks, lists and calls may nest at most 64 deep. Real pipelines nest four or five levels
(pipeline, stage, job, task options); deeper nesting is almost certainly a generated or broken
file, and the limit keeps the compiler's memory and time bounded.
"#,
    },
    CodeDoc {
        code: "E0107",
        title: "invalid interpolation",
        text: r#"
`#{name}` inside a string inserts a template parameter or a `for` variable. It must be closed by
`}` and hold one name.

```pw
run "deploy #{server"
run "deploy #{server name}"
```

Write `#{server}`. For a literal `#{`, escape the `#`: `\#{`. Shell variables are written
`$NAME` or `${NAME}` and pass through untouched.
"#,
    },
    CodeDoc { code: "E0108", title: "number out of range", text: "A number must fit in a signed 64-bit integer." },
    CodeDoc {
        code: "E0201",
        title: "unknown field",
        text: r#"
Each kind of entity takes a fixed set of fields; a misspelt field would otherwise be ignored.

```pw
job test {
  timout = 10m
  run "cargo test"
}
```

Write `timeout = 10m`. The message lists the fields the entity takes; `pw explain` and the
reference describe each.
"#,
    },
    CodeDoc {
        code: "E0202",
        title: "wrong value type",
        text: r#"
A field, argument or task got a value of the wrong type: a word where a string is wanted, a
number without units where a duration is wanted, a string where a reference is wanted.

```pw
job test {
  timeout   = 600
  resources = [linux]
  fetch "compile.linux.app"
}
```

Write `timeout = 10m`, `resources = ["linux"]`, `fetch compile.linux.app`.
"#,
    },
    CodeDoc {
        code: "E0203",
        title: "missing required field",
        text: r#"
Some fields have no default. A material must say which repository it is:

```pw
material app { branch = "main" }
```

Add `git = "https://git.example.com/acme/app.git"`.
"#,
    },
    CodeDoc {
        code: "E0204",
        title: "pipeline without a stage",
        text: r#"
A pipeline runs its stages in order; a pipeline without a stage would run nothing, and is almost
always a mistake in progress.

```pw
pipeline build { materials = [app] }
```

Add a stage: `stage compile { job linux { run "make" } }`.
"#,
    },
    CodeDoc {
        code: "E0205",
        title: "stage without a job",
        text: r#"
A stage passes when all its jobs pass; a stage without jobs would pass without doing anything.

```pw
stage test { approval = manual }
```

Add a job, or remove the stage.
"#,
    },
    CodeDoc {
        code: "E0206",
        title: "job without a task",
        text: r#"
A job runs its tasks in order on one agent. A job without a task would take an agent and a
checkout for nothing.

```pw
job lint { timeout = 5m }
```

Add `run "command"`.
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
stage test {
  run "cargo test"
}
```

A task must be inside a job: `stage test { job unit { run "cargo test" } }`.
"#,
    },
    CodeDoc {
        code: "E0208",
        title: "value out of range",
        text: r#"
`max_instances` must be at least 1, and durations such as `timeout`, `wait_limit` and `poll` at
least `1s`: a limit of zero would mean the entity can never run.

```pw
pipeline deploy { max_instances = 0 ... }
```

Remove the field for the default, or give a positive value.
"#,
    },
    CodeDoc {
        code: "E0209",
        title: "field given twice",
        text: r#"
A field or a template argument may be given once. Which of two values wins would be a guess.

```pw
job test {
  timeout = 10m
  timeout = 20m
  run "cargo test"
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
pipeline build {
  materials = [webap]
  ...
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
env { DEPLOY-TOKEN = secret("deploy") }
```

Write `DEPLOY_TOKEN`.
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
stage build {
  job compile { run "make"  artifact bin = "out/app" }
  job package { fetch build.compile.bin  run "tar czf app.tgz out/app" }
}
```

Either make them tasks of one job, in order:

```pw
stage build {
  job compile {
    run "make"
    run "tar czf app.tgz out/app"
  }
}
```

or move the consumer to a later stage, which can then be re-run on its own.
"#,
    },
    CodeDoc {
        code: "E0402",
        title: "fetch from a stage that has not run",
        text: r#"
Stages run in order, so a job can fetch only from an earlier stage of its pipeline. From an
upstream pipeline, it can fetch only from the stage that triggers this pipeline (in `after`) or an
earlier one: later stages may not have run when this pipeline starts.
"#,
    },
    CodeDoc {
        code: "E0403",
        title: "artifact not published",
        text: r#"
The job named in a fetch does not publish an artifact of that name. Artifacts are declared in the
job that makes them, with `artifact NAME = "path"`, and are uploaded when its tasks have run.
"#,
    },
    CodeDoc {
        code: "E0404",
        title: "fetch from a pipeline that is not upstream",
        text: r#"
A fetch from another pipeline gets the artifact of the exact upstream instance that triggered this
one. That only exists when this pipeline runs `after` the other, directly or through a chain.

```pw
pipeline deploy {
  stage ship { job all { fetch build.compile.linux.app  run "./ship" } }
}
```

Add `after = [build.compile]` (or a later stage of `build`) to `deploy`.
"#,
    },
    CodeDoc {
        code: "E0405",
        title: "cycle among pipelines",
        text: r#"
Pipelines whose `after` entries form a cycle would each wait for another: none could be
triggered. The message lists the whole cycle; remove one of its edges.
"#,
    },
    CodeDoc {
        code: "E0406",
        title: "named twice in a list",
        text: r#"
The same upstream pipeline appears twice in `after`, or the same material twice in `materials`.
A pipeline is triggered by one stage of each upstream; keep one entry.
"#,
    },
    CodeDoc {
        code: "E0407",
        title: "materials checked out at the same path",
        text: r#"
All materials of a pipeline are checked out into each job's one workspace. Two of them at the same
`path` (`.` by default) would overwrite each other.

```pw
material app  { git = "https://git.example.com/app.git" }
material docs { git = "https://git.example.com/docs.git" }
pipeline site { materials = [app, docs] ... }
```

Give each a distinct folder: `path = "app"`, `path = "docs"`.
"#,
    },
    CodeDoc {
        code: "E0408",
        title: "fetch from a fanned-out job",
        text: r#"
A job with `for` runs as several jobs, one per value (`shard-1`, `shard-2`, ...), or, with
`discover(...)`, as jobs whose names are known only when the stage starts. A fetch must name one
job: fetch from one instance, such as `test.shard-1.report`.
"#,
    },
    CodeDoc {
        code: "E0501",
        title: "template of the wrong kind",
        text: r#"
A `template job` makes jobs, a `template stage` stages, a `template pipeline` pipelines. Using one
where another kind belongs is an error.

```pw
template job cargo(cmd: string) { run "cargo #{cmd}" }
pipeline build { stage test = cargo(cmd = "test") }
```

Write `stage test { job unit = cargo(cmd = "test") }`.
"#,
    },
    CodeDoc {
        code: "E0502",
        title: "missing template argument",
        text: r#"
A parameter without a default must be given an argument.

```pw
template job cargo(cmd: string, toolchain: string = "stable") { ... }
job unit = cargo(toolchain = "nightly")
```

Add `cmd = "..."`.
"#,
    },
    CodeDoc {
        code: "E0503",
        title: "unknown template argument",
        text:
            "An argument names no parameter of the template. The message lists the parameters and suggests the closest.",
    },
    CodeDoc {
        code: "E0504",
        title: "wrong argument type",
        text: r#"
Template parameters are typed: `string`, `int`, `bool`, `duration` or `list`. An argument (or a
default) must have its parameter's type.

```pw
template job test(timeout: duration) { timeout = timeout  run "make test" }
job unit = test(timeout = "10m")
```

Write `timeout = 10m`, without quotes.
"#,
    },
    CodeDoc {
        code: "E0505",
        title: "recursive template",
        text: r#"
A template cannot instantiate itself, directly or through other templates. The structure of the
language makes this rare (a template's body can only instantiate templates of a smaller kind), and
the checker also bounds how deep templates may nest.
"#,
    },
    CodeDoc {
        code: "E0506",
        title: "unknown name in an interpolation",
        text: r#"
`#{name}` reads a template parameter or a `for` variable in scope. Anything else is an error, so
that a typo does not become an empty string in a script.

```pw
job ship for server in ["web-1", "web-2"] {
  run "scp app #{sever}:/srv/"
}
```

For a shell variable, write `${NAME}`; it passes through untouched.
"#,
    },
    CodeDoc {
        code: "E0507",
        title: "empty fan-out",
        text: r#"
A `for` that makes no job, such as `for i in 3..3` or `for s in []`, is almost certainly a
mistake: the stage would lose that job silently. A range `a..b` includes `a` and stops before `b`.
"#,
    },
    CodeDoc {
        code: "E0508",
        title: "repeated fan-out value",
        text:
            "Each value of a `for` makes one job named after it; a repeated value would make two jobs of the same name.",
    },
    CodeDoc {
        code: "E0509",
        title: "invalid fan-out source",
        text: r#"
`for` takes a list of strings or numbers, a range `a..b`, or `discover("command")`, whose output
lines become the values when the stage starts. One `for` makes at most 1000 jobs.
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
