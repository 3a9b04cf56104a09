//! L0007 `hand-written-fan-out`.

use super::super::edit;
use super::super::{Context, Sink};
use crate::diagnostic::{Applicability, Edit, Fix};
use crate::lexer::{lex, Token};
use crate::model::{Job, Stage};
use crate::source::Span;
use rustc_hash::FxHashMap as HashMap;

declare_rule! {
    /// ## What it does
    /// Finds three or more jobs of one stage (setting `[lint.hand-written-fan-out] min-jobs`)
    /// that are written out in full but differ in one literal only: a server name, a shard
    /// number, a platform.
    ///
    /// ## Why is this bad?
    /// Copies drift: a fix lands in two of the three, a new server is added by copying the
    /// wrong one. A `for` fan-out states the list once and the job once, and expands to the
    /// same jobs with the same names; `discover(...)` takes the list from a command when it
    /// changes between runs.
    ///
    /// ## Example
    /// ```pw
    /// pipeline deploy {
    ///   stage ship {
    ///     job ship-web-1 { timeout = 10m run "./deploy.sh web-1" }
    ///     job ship-web-2 { timeout = 10m run "./deploy.sh web-2" }
    ///     job ship-web-3 { timeout = 10m run "./deploy.sh web-3" }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline deploy {
    ///   stage ship {
    ///     job ship for value in ["web-1", "web-2", "web-3"] { timeout = 10m run "./deploy.sh #{value}" }
    ///   }
    /// }
    /// ```
    ///
    /// ## Fix
    /// When the jobs are named `BASE-VALUE`, the fan-out expands to the very same names, so the
    /// fix is safe; otherwise it renames the jobs and is unsafe.
    code: "L0007",
    name: "hand-written-fan-out",
    category: Maintainability,
    severity: Warning,
    fix: Mixed,
    summary: "jobs of one stage that differ in one literal only",
    check: Some(check),
    scope: Pipelines,
}

/// What copies of one job have in common: task and artifact counts, timeout, resources.
type Outline<'a> = (usize, usize, Option<u64>, &'a [String]);

/// A job's tokens after its name, as text, with their spans in the file.
struct Shape<'a> {
    job: &'a Job,
    tokens: Vec<(&'a str, Span, bool)>,
}

fn check(ctx: &Context, sink: &mut Sink) {
    for p in ctx.pipelines {
        for s in &p.stages {
            stage(ctx, s, sink);
        }
    }
}

fn shape<'a>(ctx: &'a Context, job: &'a Job) -> Option<Shape<'a>> {
    if job.instance_of.is_some() || job.discover.is_some() {
        return None;
    }
    let o = job.origin;
    let text = ctx.text(o.file, o.span);
    let lexed = lex(o.file, text);
    if !matches!(lexed.tokens.first(), Some((Token::Job, _))) || lexed.tokens.len() < 3 {
        return None;
    }
    let tokens = lexed.tokens[2..]
        .iter()
        .map(|(t, sp)| {
            let literal = matches!(t, Token::Str(_) | Token::Int(_));
            (&text[sp.range()], Span::new(o.span.start + sp.start, o.span.start + sp.end), literal)
        })
        .collect();
    Some(Shape { job, tokens })
}

fn stage(ctx: &Context, stage: &Stage, sink: &mut Sink) {
    let min = ctx.config.fan_out_min_jobs;
    if stage.jobs.len() < min {
        return;
    }
    // Copies have the same number of tasks, artifacts and fields: only those are read closely.
    let mut similar: HashMap<Outline, Vec<&Job>> = HashMap::default();
    for job in &stage.jobs {
        similar
            .entry((job.tasks.len(), job.artifacts.len(), job.timeout_secs, &job.resources[..]))
            .or_default()
            .push(job);
    }
    let candidates: Vec<&Job> = stage
        .jobs
        .iter()
        .filter(|j| {
            similar
                .get(&(j.tasks.len(), j.artifacts.len(), j.timeout_secs, &j.resources[..]))
                .is_some_and(|g| g.len() >= min)
        })
        .collect();
    if candidates.len() < min {
        return;
    }
    let shapes: Vec<Shape> = candidates.into_iter().filter_map(|j| shape(ctx, j)).collect();
    // Jobs that differ in one literal have the same skeleton: their tokens with literals blanked.
    let mut skeletons: HashMap<String, Vec<usize>> = HashMap::default();
    for (k, sh) in shapes.iter().enumerate() {
        let skeleton: Vec<&str> = sh.tokens.iter().map(|t| if t.2 { "\u{0}" } else { t.0 }).collect();
        skeletons.entry(skeleton.join("\u{1}")).or_default().push(k);
    }
    let mut groups: HashMap<(usize, usize, String), Vec<usize>> = HashMap::default();
    for (g, members) in skeletons.into_values().filter(|m| m.len() >= min).enumerate() {
        for &k in &members {
            let sh = &shapes[k];
            for (i, (_, _, literal)) in sh.tokens.iter().enumerate() {
                if *literal {
                    let others: Vec<&str> =
                        sh.tokens.iter().enumerate().filter(|(j, t)| *j != i && t.2).map(|(_, t)| t.0).collect();
                    groups.entry((g, i, others.join("\u{1}"))).or_default().push(k);
                }
            }
        }
    }
    let mut taken = vec![false; shapes.len()];
    let mut candidates: Vec<((usize, usize, String), Vec<usize>)> =
        groups.into_iter().filter(|(_, v)| v.len() >= min).collect();
    candidates.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.1.cmp(&b.1)));
    for ((_, hole, _), members) in candidates {
        let members: Vec<usize> = members.into_iter().filter(|&k| !taken[k]).collect();
        if members.len() < min {
            continue;
        }
        let values: Vec<&str> = members.iter().map(|&k| shapes[k].tokens[hole].0).collect();
        let mut distinct = values.clone();
        distinct.sort();
        distinct.dedup();
        if distinct.len() != values.len() {
            continue;
        }
        for &k in &members {
            taken[k] = true;
        }
        let group: Vec<&Shape> = members.iter().map(|&k| &shapes[k]).collect();
        report(ctx, &group, hole, sink);
    }
}

fn report(ctx: &Context, group: &[&Shape], hole: usize, sink: &mut Sink) {
    let names: Vec<&str> = group.iter().map(|s| s.job.name.as_str()).collect();
    let first = group[0].job;
    let o = first.origin;
    let Some(plan) = fan_out(group, hole) else { return };
    let list = plan.list.clone();
    let mut d = RULE
        .at(
            o.file,
            o.name,
            format!("jobs {} differ only in one value: {}", crate::words::quote_list(&names), plan.values.join(", ")),
        )
        .with_label(format!("{} copies of one job", group.len()))
        .with_help(format!(
            "write the job once with `for value in {list}`, or `discover(\"...\")` where the list changes between runs"
        ));
    for sh in group {
        let t = &sh.tokens[hole];
        d = d.with_secondary(sh.job.origin.file, t.1, "the only difference");
    }
    if let Some(fix) = fix(ctx, group, hole, &plan) {
        d = d.with_fix(fix);
    }
    sink.add_about(o.span, d);
}

/// The `for` that replaces the copies.
struct Plan {
    /// `["web-1", "web-2"]` or `1..4`.
    list: String,
    /// The literal with the varying part replaced by `#{value}`.
    literal: String,
    /// The job name before `-VALUE`, and whether every name is `BASE-VALUE`.
    base: String,
    same_names: bool,
    /// The values, as the message shows them.
    values: Vec<String>,
}

fn fan_out(group: &[&Shape], hole: usize) -> Option<Plan> {
    let raw: Vec<&str> = group.iter().map(|s| s.tokens[hole].0).collect();
    let (values, literal, list) = if raw.iter().all(|r| r.parse::<i64>().is_ok()) {
        let ints: Vec<i64> = raw.iter().filter_map(|r| r.parse().ok()).collect();
        let consecutive = ints.windows(2).all(|w| w[1] == w[0] + 1);
        let list = if consecutive && ints.len() > 2 {
            format!("{}..{}", ints[0], ints[ints.len() - 1])
        } else {
            format!("[{}]", raw.join(", "))
        };
        (raw.iter().map(|r| r.to_string()).collect::<Vec<_>>(), "#{value}".to_string(), list)
    } else {
        let inner: Vec<&str> =
            raw.iter().map(|r| r.strip_prefix('"').and_then(|r| r.strip_suffix('"'))).collect::<Option<_>>()?;
        if inner.iter().any(|s| s.contains('\\') || s.contains("#{")) {
            return None;
        }
        let prefix = common_prefix(&inner);
        let suffix = common_suffix(&inner.iter().map(|s| &s[prefix.len()..]).collect::<Vec<_>>());
        let middles: Vec<String> = inner.iter().map(|s| s[prefix.len()..s.len() - suffix.len()].to_string()).collect();
        // A fan-out varies a short value (a host, a shard), not a whole command.
        if middles.iter().any(|m| m.is_empty() || m.chars().count() > 32 || m.contains(char::is_whitespace)) {
            return None;
        }
        let list = format!("[{}]", middles.iter().map(|m| format!("\"{m}\"")).collect::<Vec<_>>().join(", "));
        (middles, format!("\"{prefix}#{{value}}{suffix}\""), list)
    };
    let first = &group[0].job.name;
    let suffix0 = format!("-{}", safe_suffix(&values[0]));
    let base = first.strip_suffix(suffix0.as_str()).map(str::to_string);
    let same_names = base.as_ref().is_some_and(|b| {
        group.iter().zip(&values).all(|(s, v)| s.job.name.eq_ignore_ascii_case(&format!("{b}-{}", safe_suffix(v))))
    });
    let base = match base {
        Some(b) if same_names => b,
        _ => {
            let names: Vec<&str> = group.iter().map(|s| s.job.name.as_str()).collect();
            let common = common_prefix(&names).trim_end_matches(['-', '_']).to_string();
            if common.is_empty() || !common.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                return None;
            }
            common
        }
    };
    let values = values.iter().map(|v| format!("`{v}`")).collect();
    Some(Plan { list, literal, base, same_names, values })
}

/// A value as the suffix of a fanned-out job's name.
fn safe_suffix(value: &str) -> String {
    value.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' }).collect()
}

fn common_prefix<'a>(items: &[&'a str]) -> &'a str {
    let first = items[0];
    let mut len = first.len();
    for s in &items[1..] {
        len = first
            .char_indices()
            .zip(s.chars())
            .take_while(|((_, a), b)| a == b)
            .map(|((i, a), _)| i + a.len_utf8())
            .last()
            .unwrap_or(0)
            .min(len);
    }
    &first[..len]
}

fn common_suffix<'a>(items: &[&'a str]) -> &'a str {
    let first = items[0];
    let mut len = first.len();
    for s in &items[1..] {
        let n: usize =
            first.chars().rev().zip(s.chars().rev()).take_while(|(a, b)| a == b).map(|(a, _)| a.len_utf8()).sum();
        len = len.min(n);
    }
    // Keep at least one character of each item varying.
    let shortest = items.iter().map(|s| s.len()).min().unwrap_or(0);
    let len = len.min(shortest.saturating_sub(1));
    let mut start = first.len() - len;
    while !first.is_char_boundary(start) {
        start += 1;
    }
    &first[start..]
}

fn fix(ctx: &Context, group: &[&Shape], hole: usize, plan: &Plan) -> Option<Fix> {
    let first = group[0].job;
    let file = first.origin.file;
    if group.iter().any(|s| s.job.origin.file != file) {
        return None;
    }
    let source = ctx.workspace.file(file);
    let text = ctx.text(file, first.origin.span);
    if text.contains("#{value}") {
        return None;
    }
    let start = first.origin.span.start;
    let name = first.origin.name;
    let lit = group[0].tokens[hole].1;
    let mut new = String::new();
    new.push_str(&source.text[start..name.start]);
    new.push_str(&format!("{} for value in {}", plan.base, plan.list));
    new.push_str(&source.text[name.end..lit.start]);
    new.push_str(&plan.literal);
    new.push_str(&source.text[lit.end..first.origin.span.end]);
    let mut edits = vec![Edit { file, span: first.origin.span, replacement: new }];
    for s in &group[1..] {
        edits.push(Edit { file, span: edit::entity_removal(source, s.job.origin.span), replacement: String::new() });
    }
    let (applicability, message) = if plan.same_names {
        (Applicability::Safe, format!("write one job `{}` with `for value in {}`", plan.base, plan.list))
    } else {
        (
            Applicability::Unsafe,
            format!("write one job `{}` with `for value in {}` (renames the jobs)", plan.base, plan.list),
        )
    };
    Some(Fix { message, applicability, edits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_parts_leave_the_varying_middle() {
        assert_eq!(common_prefix(&["./deploy.sh web-1", "./deploy.sh web-2"]), "./deploy.sh web-");
        assert_eq!(common_suffix(&["1 --fast", "2 --fast"]), " --fast");
        assert_eq!(common_suffix(&["a", "ba"]), "");
        assert_eq!(safe_suffix("eu west.1"), "eu-west-1");
    }
}
