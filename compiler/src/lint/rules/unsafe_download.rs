//! L0011 `unsafe-download`.

use super::super::shell;
use super::super::{Context, Sink};
use crate::model::Action;
use crate::source::Span;

declare_rule! {
    /// ## What it does
    /// Finds scripts that pipe a download straight into a shell or interpreter:
    /// `curl ... | sh`, `wget -O- ... | bash`, `bash -c "$(curl ...)"`.
    ///
    /// ## Why is this bad?
    /// The job runs whatever the server sends at that moment, with the job's secrets in its
    /// environment: a compromised or hijacked host, or a truncated download, runs on every agent.
    /// Nothing pins what ran, so a build cannot be reproduced.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage setup {
    ///     job tools {
    ///       timeout = 10m
    ///       run "curl -fsSL https://sh.rustup.rs | sh -s -- -y"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline build {
    ///   stage setup {
    ///     job tools {
    ///       timeout = 10m
    ///       run """
    ///         curl -fsSL -o rustup-init.sh https://sh.rustup.rs
    ///         sha256sum -c ci/rustup-init.sha256
    ///         sh rustup-init.sh -y
    ///         """
    ///     }
    ///   }
    /// }
    /// ```
    /// Better still, install tools in the agent's image and name them in `resources`.
    code: "L0011",
    name: "unsafe-download",
    category: Security,
    severity: Warning,
    fix: None,
    summary: "download piped into a shell",
    check: Some(check),
    scope: Pipelines,
}

/// Finders of the names of the programs that download (`curl`, `wget`, `fetch`).
static DOWNLOADERS: std::sync::LazyLock<[memchr::memmem::Finder<'static>; 3]> =
    std::sync::LazyLock::new(|| ["curl", "wget", "fetch"].map(memchr::memmem::Finder::new));

/// Whether a task names a program that downloads, and so may pipe a download into a shell.
/// The job facts ask while they read each script, so that this rule reads only those tasks.
pub(crate) fn may_download(action: &Action) -> bool {
    let named_in = |s: &str| DOWNLOADERS.iter().any(|finder| finder.find(s.as_bytes()).is_some());
    match action {
        Action::Shell(s) => named_in(s),
        Action::Exec(argv) => argv.iter().any(|a| named_in(a)),
        Action::Fetch(_) => false,
    }
}

fn check(ctx: &Context, sink: &mut Sink) {
    for (_, _, job) in super::jobs(ctx.pipelines) {
        if !ctx.facts.job(job).flags.downloads {
            continue;
        }
        for task in job.tasks.iter().filter(|t| may_download(&t.action)) {
            let Some(script) = super::task_script(&task.action) else { continue };
            for piped in shell::piped_downloads(&script) {
                let file = task.origin.file;
                let span = locate(ctx.text(file, task.origin.span), &piped).map_or(task.origin.span, |(s, e)| {
                    Span::new(task.origin.span.start + s, task.origin.span.start + e)
                });
                sink.add_about(
                    task.origin.span,
                    RULE.at(file, span, format!("job `{}` runs a download without checking it: `{piped}`", job.name))
                        .with_label("whatever the server sends runs here")
                        .with_help("download to a file, check its checksum or signature, then run it; or install the tool in the agent's image"),
                );
            }
        }
    }
}

/// Where the first word of `piped` through its last stands in the source text of the task.
fn locate(source: &str, piped: &str) -> Option<(usize, usize)> {
    if let Some(i) = source.find(piped) {
        return Some((i, i + piped.len()));
    }
    let first = piped.split_whitespace().next()?;
    let start = source.find(first)?;
    let line_end = source[start..].find('\n').map_or(source.len(), |e| start + e);
    let end = source[start..line_end].trim_end().trim_end_matches('"').len() + start;
    Some((start, end.max(start + first.len())))
}
