//! L0008 `missing-timeout`.

use super::super::{edit, phrase};
use super::super::{Context, Sink};
use crate::diagnostic::{Applicability, Fix};
use crate::gocd::Syntax;
use crate::model::{Job, Pipeline, Stage};
use crate::parser::format_duration;

declare_rule! {
    /// ## What it does
    /// Finds jobs without a `timeout`. When no job of a pipeline sets one, the pipeline is
    /// reported once, with its jobs as labels. A GoCD job with `timeout: 0` chose to run
    /// without a limit: it is reported on its own, with a message that says so.
    ///
    /// ## Why is this bad?
    /// A job without a timeout can hang forever: a test waiting on a socket, a prompt no one
    /// answers, a deadlock. It keeps its agent busy all that time, the stage never finishes,
    /// and with `max_instances` the pipeline stops starting new runs. A timeout a little above
    /// the job's longest normal run turns a hang into a failure someone sees.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage test {
    ///     job unit {
    ///       run "cargo test"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline build {
    ///   stage test {
    ///     job unit {
    ///       timeout = 20m
    ///       run "cargo test"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Fix
    /// When the job's duration is known (from `estimate` or `--history`), an unsafe fix adds a
    /// timeout of three times that duration, rounded up to whole minutes and at least 10
    /// minutes (to each such job, for a pipeline reported once).
    ///
    /// The language has no way to say "no timeout": `timeout = 0s` is an error. A job that may
    /// legitimately run for hours gets a timeout of hours. GoCD's `timeout: 0` says "never";
    /// the finding asks for a bound in minutes instead.
    code: "L0008",
    name: "missing-timeout",
    category: Reliability,
    severity: Warning,
    fix: Unsafe,
    summary: "job without a timeout",
    check: Some(check),
    scope: Pipelines,
}

fn check(ctx: &Context, sink: &mut Sink) {
    for pipeline in ctx.pipelines {
        let jobs: Vec<(&Stage, &Job)> =
            pipeline.stages.iter().flat_map(|s| s.jobs.iter().map(move |j| (s, j))).collect();
        for (_, job) in jobs.iter().filter(|(_, j)| j.never_times_out.is_some()) {
            report_never(ctx, job, sink);
        }
        let without: Vec<&(&Stage, &Job)> =
            jobs.iter().filter(|(_, j)| j.timeout_secs.is_none() && j.never_times_out.is_none()).collect();
        // The instances of a `for` fan-out are one job as written.
        let mut written: Vec<&(&Stage, &Job)> = without.clone();
        written.dedup_by_key(|(_, j)| j.origin.span);
        if written.len() >= 2 && without.len() == jobs.len() {
            report_pipeline(ctx, pipeline, &written, sink);
            continue;
        }
        for (stage, job) in without {
            report_job(ctx, pipeline, stage, job, sink);
        }
    }
}

/// No job of the pipeline sets a timeout: one finding, the jobs as its labels.
fn report_pipeline(ctx: &Context, pipeline: &Pipeline, jobs: &[&(&Stage, &Job)], sink: &mut Sink) {
    let o = pipeline.origin;
    let mut d = RULE
        .at(o.file, o.name, format!("no job of pipeline `{}` has a timeout ({} jobs)", pipeline.name, jobs.len()))
        .with_label("every job of this pipeline can run forever")
        .with_note("a hung job keeps its agent busy and its stage unfinished until someone cancels it")
        .with_help(format!("give each job {}", a_timeout(ctx.syntax(o.file))));
    let mut edits = Vec::new();
    for (stage, job) in jobs {
        d = d.with_secondary(job.origin.file, job.origin.name, "no timeout");
        if let Some(secs) = ctx.costs.job(pipeline, stage, job) {
            edits.extend(fix(ctx, job, suggest(secs.secs)).map(|f| f.edits).unwrap_or_default());
        }
    }
    if !edits.is_empty() {
        d = d.with_fix(Fix {
            message: "add a timeout of three times its known duration to each job with one".into(),
            applicability: Applicability::Unsafe,
            edits,
        });
    }
    sink.add_about(o.span, d);
}

/// `timeout: 0`: the author chose no limit. Their choice is said back, with what it costs.
fn report_never(ctx: &Context, job: &Job, sink: &mut Sink) {
    let o = job.origin;
    let at = job.never_times_out.unwrap_or(o.name);
    // Only a GoCD file says "never" (`timeout: 0`).
    let syntax = if ctx.syntax(o.file) == Syntax::GocdXml { Syntax::GocdXml } else { Syntax::GocdYaml };
    let (zero, sixty) = (phrase::timeout(syntax, 0), phrase::timeout(syntax, 60));
    let d = RULE
        .at(o.file, at, format!("job `{}` never times out (`{zero}`)", job.name))
        .with_label("`0` means no limit: this job can run forever")
        .with_secondary(o.file, o.name, "this job")
        .with_note("a hung job holds its agent, and its stage stays unfinished, until someone cancels it")
        .with_help(format!("set a bound in minutes a little above its longest normal run, such as `{sixty}`"));
    sink.add_about(o.span, d);
}

fn report_job(ctx: &Context, pipeline: &Pipeline, stage: &Stage, job: &Job, sink: &mut Sink) {
    let o = job.origin;
    let mut d = RULE
        .at(o.file, o.name, format!("job `{}` has no timeout", job.name))
        .with_label("this job can run forever")
        .with_note("a hung job keeps its agent busy and its stage unfinished until someone cancels it");
    match ctx.costs.job(pipeline, stage, job) {
        Some(secs) => {
            let suggested = suggest(secs.secs);
            let setting = phrase::timeout(ctx.syntax(o.file), suggested / 60);
            d = d.with_help(format!(
                "add `{setting}`: three times its {} run",
                super::super::cost::about(secs).trim_start_matches("about ")
            ));
            if let Some(fix) = fix(ctx, job, suggested) {
                d = d.with_fix(fix);
            }
        }
        None => d = d.with_help(format!("add {}", a_timeout(ctx.syntax(o.file)))),
    }
    sink.add(d);
}

/// A timeout, as written in `syntax`.
fn a_timeout(syntax: Syntax) -> String {
    let unit = match syntax {
        Syntax::Pipewright => "",
        Syntax::GocdYaml => " in minutes",
        Syntax::GocdXml => " in minutes on its `<job>`",
    };
    format!("a `timeout`{unit}, a little above its longest normal run, such as `{}`", phrase::timeout(syntax, 30))
}

/// Three times the run, in whole minutes, at least ten.
fn suggest(secs: u64) -> u64 {
    (secs * 3).div_ceil(60).max(10) * 60
}

fn fix(ctx: &Context, job: &Job, secs: u64) -> Option<Fix> {
    let block = edit::plain_job(ctx, job)?;
    let source = ctx.workspace.file(job.origin.file);
    let e = edit::prepend_member(source, job.origin.file, block, &format!("timeout = {}", format_duration(secs)))?;
    Some(Fix {
        message: format!("add `timeout = {}`", format_duration(secs)),
        applicability: Applicability::Unsafe,
        edits: vec![e],
    })
}

#[cfg(test)]
mod tests {
    use crate::lint::{check_and_lint, Configs, History, LintConfig};
    use crate::source::Workspace;

    const YAML: &str = "format_version: 10\npipelines:\n  build:\n    group: g\n    materials:\n      app:\n        git: https://example.com/app.git\n    stages:\n      - test:\n          jobs:\n            unit:\n              tasks:\n                - exec:\n                    command: make\n";
    const XML: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<cruise schemaVersion=\"139\">\n  <pipelines group=\"g\">\n    <pipeline name=\"deploy\">\n      <materials><git url=\"https://example.com/app.git\" /></materials>\n      <stage name=\"ship\">\n        <jobs>\n          <job name=\"push\">\n            <tasks><exec command=\"make\" /></tasks>\n          </job>\n        </jobs>\n      </stage>\n    </pipeline>\n  </pipelines>\n</cruise>\n";
    const PW: &str = "pipeline check {\n  stage lint {\n    job style {\n      run \"make lint\"\n    }\n  }\n}\n";

    /// The help of the one `missing-timeout` finding in a workspace of one file.
    fn help_for(path: &str, text: &str) -> String {
        let mut ws = Workspace::new();
        ws.add(path, text);
        let (analysis, all) = check_and_lint(&ws, &Configs::single(LintConfig::default()), &History::default());
        assert!(!analysis.has_errors(), "{:#?}", analysis.diagnostics);
        let found: Vec<_> = all.iter().filter(|d| d.code == super::RULE.code).collect();
        assert_eq!(found.len(), 1, "{all:#?}");
        found[0].help.clone().unwrap_or_default()
    }

    #[test]
    fn the_advice_is_written_in_the_file_s_own_syntax() {
        let pw = help_for("check.pw", PW);
        assert!(pw.contains("`timeout = "), "{pw}");
        let yaml = help_for("ci.gocd.yaml", YAML);
        assert!(yaml.contains("`timeout: ") && !yaml.contains("timeout = "), "{yaml}");
        let xml = help_for("cruise-config.xml", XML);
        assert!(xml.contains("`timeout=\"") && !xml.contains("timeout = ") && !xml.contains("timeout: "), "{xml}");
    }

    #[test]
    fn suggests_three_times_rounded_up() {
        assert_eq!(super::suggest(100), 600);
        assert_eq!(super::suggest(600), 1800);
        assert_eq!(super::suggest(601), 1860);
    }
}
