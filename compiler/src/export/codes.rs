//! The codes of `pw export`'s diagnostics and their long explanations, for `pw explain`.

use crate::diagnostic::DiagnosticCode;

/// A code of `pw export`, written `X0101` and explained by `pw explain X0101`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportCode {
    X0101,
    X0102,
    X0201,
    X0202,
    X0203,
}

impl DiagnosticCode for ExportCode {
    fn as_str(self) -> &'static str {
        match self {
            ExportCode::X0101 => "X0101",
            ExportCode::X0102 => "X0102",
            ExportCode::X0201 => "X0201",
            ExportCode::X0202 => "X0202",
            ExportCode::X0203 => "X0203",
        }
    }
}

/// One code's documentation.
pub struct CodeDoc {
    pub code: ExportCode,
    pub title: &'static str,
    /// Markdown: what happened, and what to do.
    pub text: &'static str,
}

/// The explanation of an `X` code (any case).
pub fn explain(code: &str) -> Option<String> {
    let doc = find(code)?;
    Some(format!("# {}: {}\n\n{}\n", doc.code.as_str(), doc.title, doc.text.trim()))
}

/// The one-line title of an `X` code.
pub fn title(code: &str) -> Option<&'static str> {
    find(code).map(|d| d.title)
}

fn find(code: &str) -> Option<&'static CodeDoc> {
    CODES.iter().find(|d| d.code.as_str().eq_ignore_ascii_case(code.trim()))
}

/// A construct GoCD cannot express: the pipeline is not exported.
pub const CANNOT_EXPRESS: ExportCode = ExportCode::X0101;
/// A pipeline whose upstream could not be exported is not exported either.
pub const UPSTREAM_NOT_EXPORTED: ExportCode = ExportCode::X0102;
/// A timeout rounded up to whole minutes.
pub const TIMEOUT_ROUNDED: ExportCode = ExportCode::X0201;
/// A setting GoCD has no equivalent of, left out.
pub const SETTING_DROPPED: ExportCode = ExportCode::X0202;
/// An artifact fetched as a file or a folder by its path's look.
pub const ARTIFACT_KIND_GUESSED: ExportCode = ExportCode::X0203;

pub static CODES: &[CodeDoc] = &[
    CodeDoc {
        code: CANNOT_EXPRESS,
        title: "cannot be exported to GoCD",
        text: r#"
The pipeline uses something GoCD's configuration cannot say, so `pw export --to gocd` writes no
file for it (the other pipelines are exported). The message names the construct:

- a job fanned out with `discover(...)`: GoCD fixes a stage's jobs when the configuration is
  loaded, so it cannot make one job per line of a command's output when the stage starts;
- a pipeline with neither `materials` nor `after`: every GoCD pipeline needs a material;
- several materials of one pipeline where one is checked out at the workspace's root: GoCD
  needs each material of such a pipeline in a folder of its own;
- a secret whose name holds `[`, `]`, `{` or `}`, which a `{{SECRET:[config][name]}}`
  reference cannot carry.

Use a static `for v in [...]` for a fan-out, give the pipeline a material, give each material
its own `path`, or rename the secret.
"#,
    },
    CodeDoc {
        code: UPSTREAM_NOT_EXPORTED,
        title: "upstream not exported",
        text: r#"
The pipeline runs `after` a pipeline that could not be exported (see the error reported for that
one). GoCD rejects a dependency on a pipeline it does not know, so this pipeline is not exported
either. Fixing the upstream fixes both.
"#,
    },
    CodeDoc {
        code: TIMEOUT_ROUNDED,
        title: "timeout rounded up to minutes",
        text: r#"
GoCD counts a job's timeout in whole minutes, so a timeout such as `90s` is exported as 2
minutes: the job may run up to 30 seconds longer on GoCD before it is stopped. Write the timeout
in minutes (`2m`) to export it unchanged.
"#,
    },
    CodeDoc {
        code: SETTING_DROPPED,
        title: "setting without a GoCD equivalent",
        text: r#"
The setting has no counterpart in GoCD's configuration and is left out of the export; GoCD does
what the message says instead:

- `on_failure = cancel`: GoCD lets the other jobs of a failed stage finish;
- `wait_limit`: a GoCD job waits for an agent as long as it takes;
- `max_instances` above 1: GoCD can hold a pipeline to one instance at a time, or not limit it;
- a material's `poll`: GoCD polls every material at the server's interval (one minute by default).

The stage still fails, and the pipeline still runs, as written; only the cost or the timing
differs.
"#,
    },
    CodeDoc {
        code: ARTIFACT_KIND_GUESSED,
        title: "artifact fetched as a file by its path's look",
        text: r#"
A GoCD fetch must say whether it downloads a file (`is_file: true`) or a folder, and a `.pw`
artifact may be either: it is known only when the job has run. `pw export` takes a path whose last
segment has an extension (`app.tar.gz`) for a file, a common folder name (`dist`, `build`,
`coverage`, ...) for a folder, and anything else for a file, which this warning reports. If the
artifact is a folder, set `is_file: false` in the exported fetch, or publish an archive of it.
"#,
    },
];
