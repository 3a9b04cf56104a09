//! Entities described in words, from the checked program: what hovers say.

use pw_compiler::model::{Action, Approval, Job, OnFailure, Pipeline, Program, Stage};
use pw_compiler::symbols::{Symbol, SymbolKind};
use pw_compiler::words::{plural, quote_list};

/// A duration in seconds as written in the language: `1h30m`, `45s`.
pub use pw_compiler::parser::format_duration as duration;

/// The segments of a symbol's dotted path.
fn segments(symbol: &Symbol) -> Vec<&str> {
    symbol.path.split('.').collect()
}

/// The jobs a job block became: itself, or one per value of its static fan-out.
pub(crate) fn job_instances<'a>(stage: &'a Stage, name: &str) -> Vec<&'a Job> {
    stage
        .jobs
        .iter()
        .filter(|j| {
            j.name.eq_ignore_ascii_case(name)
                || j.instance_of.as_ref().is_some_and(|i| i.base.eq_ignore_ascii_case(name))
        })
        .collect()
}

/// The pipeline, stage and jobs a symbol's path names, as far as they exist.
pub fn resolve<'a>(program: &'a Program, symbol: &Symbol) -> (Option<&'a Pipeline>, Option<&'a Stage>, Vec<&'a Job>) {
    let parts = segments(symbol);
    let pipeline = parts.first().and_then(|p| program.pipeline(p));
    let stage = pipeline.and_then(|p| parts.get(1).and_then(|s| p.stage(s)));
    let jobs = match (stage, parts.get(2)) {
        (Some(stage), Some(job)) => job_instances(stage, job),
        _ => Vec::new(),
    };
    (pipeline, stage, jobs)
}

/// What a symbol is and does, in a few lines of Markdown.
pub fn symbol(program: &Program, symbol: &Symbol) -> String {
    let (pipeline, stage, jobs) = resolve(program, symbol);
    let title = format!("{} `{}`", symbol.kind.describe(), symbol.path);
    let body = match symbol.kind {
        SymbolKind::Pipeline => pipeline.map(|p| describe_pipeline(program, p)),
        SymbolKind::Stage => pipeline.zip(stage).map(|(p, s)| describe_stage(p, s)),
        SymbolKind::Job => pipeline.zip(stage).filter(|_| !jobs.is_empty()).map(|(p, s)| describe_job(p, s, &jobs)),
        SymbolKind::Material => program.material(&symbol.name).map(|m| {
            let users: Vec<&str> = program
                .pipelines
                .iter()
                .filter(|p| p.materials.iter().any(|r| r.name.eq_ignore_ascii_case(&m.name)))
                .map(|p| p.name.as_str())
                .collect();
            let mut text = format!(
                "git `{}`, branch `{}`, polled every {}; checked out at `{}`",
                m.git,
                m.branch,
                duration(m.poll_secs),
                m.path
            );
            if !users.is_empty() {
                text.push_str(&format!("\n\nused by {}", quote_list(users)));
            }
            text
        }),
        SymbolKind::Artifact => jobs.first().and_then(|job| {
            let name = segments(symbol).get(3).copied().unwrap_or(&symbol.name).to_string();
            let artifact = job.artifacts.iter().find(|a| a.name.eq_ignore_ascii_case(&name))?;
            Some(format!("`{}`, published by job `{}`", artifact.path, job.name))
        }),
        SymbolKind::Template => program.templates.iter().find(|t| t.name.eq_ignore_ascii_case(&symbol.name)).map(|t| {
            let params: Vec<String> = t
                .params
                .iter()
                .map(|p| match &p.default {
                    Some(d) => format!("{}: {} = {d}", p.name, p.ty.name()),
                    None => format!("{}: {}", p.name, p.ty.name()),
                })
                .collect();
            let mut text =
                format!("```pipewright\ntemplate {} {}({})\n```", t.kind.keyword(), t.name, params.join(", "));
            if !t.doc.is_empty() {
                text.push_str("\n\n");
                text.push_str(&t.doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join("\n"));
            }
            text.push_str(&format!("\n\nused {}", plural(t.uses as u64, "time")));
            text
        }),
        SymbolKind::Param => {
            let template = segments(symbol).first().map(|s| s.to_string()).unwrap_or_default();
            program.templates.iter().find(|t| t.name.eq_ignore_ascii_case(&template)).and_then(|t| {
                let p = t.params.iter().find(|p| p.name.eq_ignore_ascii_case(&symbol.name))?;
                let default = p.default.as_ref().map(|d| format!(", default `{d}`")).unwrap_or_default();
                Some(format!("parameter of template `{}`: {}{default}", t.name, p.ty.name()))
            })
        }
        SymbolKind::ForVar => Some(
            "the job runs once per value (a range `1..4` is 1 to 4, both ends included); `#{name}` in its \
             strings is replaced by the value"
                .replace("name", &symbol.name),
        ),
        SymbolKind::EnvVar => Some("set in the environment of every task below it".into()),
    };
    match body {
        Some(body) => format!("{title}\n\n{body}"),
        None => title,
    }
}

fn describe_pipeline(program: &Program, p: &Pipeline) -> String {
    let stages: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
    let mut lines = vec![format!("{}: {}", plural(stages.len() as u64, "stage"), stages.join(" → "))];
    let mut triggers = Vec::new();
    if !p.materials.is_empty() {
        triggers.push(format!("a commit to {}", quote_list(p.materials.iter().map(|m| &m.name))));
    }
    for up in &p.after {
        triggers.push(format!("`{}.{}` passing", up.pipeline, up.stage));
    }
    if !triggers.is_empty() {
        lines.push(format!("runs on {}", triggers.join(" or ")));
    }
    let downstream: Vec<String> = program
        .pipelines
        .iter()
        .flat_map(|d| {
            d.after
                .iter()
                .filter(|u| u.pipeline.eq_ignore_ascii_case(&p.name))
                .map(move |u| format!("`{}` after `{}`", d.name, u.stage))
        })
        .collect();
    if !downstream.is_empty() {
        lines.push(format!("triggers {}", downstream.join(", ")));
    }
    lines.push(match p.max_instances {
        Some(n) => format!("at most {} at once", plural(u64::from(n), "instance")),
        None => "any number of instances at once".into(),
    });
    lines.join("\n\n")
}

/// `stage 2 of 5 of pipeline build; 3 jobs run in parallel; waits for approval`.
pub(crate) fn describe_stage(p: &Pipeline, s: &Stage) -> String {
    let index = p.stages.iter().position(|x| std::ptr::eq(x, s)).unwrap_or(0);
    let jobs = match s.jobs.len() {
        1 => "1 job".to_string(),
        n => format!("{n} jobs run in parallel"),
    };
    let start = match (s.approval, index) {
        (Approval::Manual, _) => "waits for approval".to_string(),
        (Approval::Success, 0) => "starts when the pipeline runs".to_string(),
        (Approval::Success, i) => format!("starts when `{}` passes", p.stages[i - 1].name),
    };
    let mut text = format!("stage {} of {} of pipeline `{}`; {jobs}; {start}", index + 1, p.stages.len(), p.name);
    if s.on_failure == OnFailure::Cancel {
        text.push_str("; a failing job cancels the others");
    }
    if !s.fetch_materials {
        text.push_str("; materials are not checked out");
    }
    text
}

fn describe_job(p: &Pipeline, s: &Stage, jobs: &[&Job]) -> String {
    let job = jobs[0];
    let mut lines = vec![format!("in stage `{}` of pipeline `{}`", s.name, p.name)];
    if let Some(d) = &job.discover {
        lines.push(format!("fans out when the stage starts: one job per line printed by `{}`", d.command));
    } else if job.instance_of.is_some() {
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        lines.push(format!("fans out into {}: {}", plural(jobs.len() as u64, "job"), quote_list(names)));
    }
    let (runs, fetches) = job.tasks.iter().fold((0, 0), |(r, f), t| match t.action {
        Action::Fetch(_) => (r, f + 1),
        _ => (r + 1, f),
    });
    let mut tasks = plural(runs as u64, "command");
    if fetches > 0 {
        tasks.push_str(&format!(" and {}", plural(fetches as u64, "fetch")));
    }
    lines.push(format!("{tasks}, in sequence on one agent"));
    if !job.resources.is_empty() {
        lines.push(format!("needs an agent with {}", quote_list(&job.resources)));
    }
    let mut limits = Vec::new();
    if let Some(t) = job.timeout_secs {
        limits.push(format!("times out after {}", duration(t)));
    } else if job.never_times_out.is_some() {
        limits.push("never times out (`timeout: 0`)".to_string());
    }
    limits.push(format!("waits at most {} for an agent", duration(job.wait_limit_secs)));
    lines.push(limits.join("; "));
    if !job.artifacts.is_empty() {
        lines.push(format!("publishes {}", quote_list(job.artifacts.iter().map(|a| &a.name))));
    }
    lines.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(5400), "1h30m");
        assert_eq!(duration(172_800), "2d");
    }
}
