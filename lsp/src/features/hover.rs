//! Hover: what the thing under the cursor is and does, in words.

use super::describe;
use crate::state::Snapshot;
use crate::syntax;
use pw_compiler::ast::{BlockKind, Member, Task, TaskKind};
use pw_compiler::schema::{self, FieldSpec, Owner};
use pw_compiler::{FileId, Span};
use tower_lsp_server::ls_types::{Hover, HoverContents, MarkupContent, MarkupKind};

pub fn hover(snap: &Snapshot, file: FileId, offset: usize) -> Option<Hover> {
    let (text, span) = symbol(snap, file, offset)
        .or_else(|| code_in_comment(snap, file, offset))
        .or_else(|| syntax_hover(snap, file, offset))?;
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }),
        range: Some(snap.range(file, span)),
    })
}

/// A definition or a reference: the entity, described from the plan.
fn symbol(snap: &Snapshot, file: FileId, offset: usize) -> Option<(String, Span)> {
    let symbols = &snap.analysis.program.symbols;
    let id = symbols.at(file, offset)?;
    let target = symbols.get(id);
    let text = describe::symbol(&snap.analysis.program, target);
    if target.file == file && target.name_span.contains(offset) {
        return Some((text, target.name_span));
    }
    let reference = symbols.references.iter().find(|r| r.file == file && r.span.contains(offset))?;
    let at = snap.source(target.file).line_col(target.name_span.start);
    let place = format!("{}:{}", snap.source(target.file).path, at.line);
    Some((
        format!("refers to {} `{}`, defined at {place}\n\n---\n\n{text}", target.kind.describe(), target.path),
        reference.span,
    ))
}

/// A diagnostic code written in a comment, or a rule named in a suppression comment: its
/// explanation.
fn code_in_comment(snap: &Snapshot, file: FileId, offset: usize) -> Option<(String, Span)> {
    let comment = snap.parsed(file).comments.iter().find(|c| c.contains(offset))?;
    let text = &snap.text(file)[comment.range()];
    let suppression = text.trim_start_matches(['#', ' ']).starts_with("pw:");
    let mut start = 0;
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        let span = Span::new(comment.start + start, comment.start + start + word.len());
        start += word.len() + 1;
        if !span.contains(offset) || word.is_empty() {
            continue;
        }
        let named_rule = suppression && pw_compiler::lint::registry::lookup(word).is_some();
        if !is_code(word) && !named_rule {
            return None;
        }
        let explanation = pw_compiler::codes::explain(word)?;
        return Some((explanation, span));
    }
    None
}

fn is_code(word: &str) -> bool {
    word.len() == 5 && word.starts_with(['E', 'L']) && word[1..].bytes().all(|b| b.is_ascii_digit())
}

/// A field's reference entry, or a keyword's.
fn syntax_hover(snap: &Snapshot, file: FileId, offset: usize) -> Option<(String, Span)> {
    let ast = &snap.parsed(file).ast;
    let at = syntax::enclosing(ast, offset);
    match at.member? {
        Member::Field(f) if f.name.span.contains(offset) => {
            let spec = schema::lookup(at.owner()?, &f.name.name)?;
            Some((field_entry(spec), f.name.span))
        }
        Member::Field(f) if f.value.span.contains(offset) => {
            let spec = schema::lookup(at.owner()?, &f.name.name)?;
            Some((field_entry(spec), f.value.span))
        }
        Member::Task(t) if t.kind_span.contains(offset) => {
            let word = match t.kind {
                TaskKind::Run { .. } => "run",
                TaskKind::Fetch { .. } => "fetch",
            };
            Some((keyword_entry(word)?.to_string(), t.kind_span))
        }
        Member::Task(t) if folder_span(t).is_some_and(|s| s.start <= offset && offset < s.end) => {
            Some((keyword_entry("in")?.to_string(), folder_span(t)?))
        }
        Member::Task(t) => {
            let option = t.options.iter().find(|o| o.span.contains(offset))?;
            Some((field_entry(schema::lookup(Owner::Task, &option.name.name)?), option.span))
        }
        Member::Artifact(a) if a.options.iter().any(|o| o.span.contains(offset)) => {
            let option = a.options.iter().find(|o| o.span.contains(offset))?;
            Some((field_entry(schema::lookup(Owner::Artifact, &option.name.name)?), option.span))
        }
        Member::Block(b) if b.kind_span.contains(offset) => {
            Some((keyword_entry(b.kind.keyword())?.to_string(), b.kind_span))
        }
        Member::Block(b) => {
            let (of, span) = b.template_of.filter(|(_, s)| s.contains(offset))?;
            let kind = match of {
                BlockKind::Job => "a job",
                BlockKind::Stage => "a stage",
                _ => "a pipeline",
            };
            Some((
                format!(
                    "this template makes {kind}: instantiate it with `{} name = {}(...)`",
                    of.keyword(),
                    b.name.as_ref()?.name
                ),
                span,
            ))
        }
        Member::Artifact(a) if !a.name.span.contains(offset) => Some((keyword_entry("artifact")?.to_string(), a.span)),
        _ => None,
    }
}

/// A field's entry of the language reference.
pub(crate) fn field_entry(spec: &FieldSpec) -> String {
    let mut text = format!("**{}** — field of {}: {}", spec.name, spec.owner.describe(), spec.ty.describe());
    if spec.required {
        text.push_str(", required");
    } else if let Some(default) = spec.default {
        text.push_str(&format!(", default `{default}`"));
    }
    text.push_str("\n\n");
    text.push_str(spec.doc);
    text
}

/// The reference entry of each keyword.
pub(crate) fn keyword_entry(word: &str) -> Option<&'static str> {
    KEYWORDS.iter().find(|(k, _)| *k == word).map(|(_, doc)| *doc)
}

pub const KEYWORDS: &[(&str, &str)] = &[
    ("material", "**material** `name { git = \"...\" }` — a git repository; a new commit on it triggers the pipelines that list it in `materials`, and every job's workspace holds a checkout of it."),
    ("pipeline", "**pipeline** `name { ... }` — a unit that runs its stages in sequence; each run is an instance with a counter, and several instances can run at once (`max_instances` limits them)."),
    ("stage", "**stage** `name { ... }` — a step of a pipeline. Its jobs run in parallel; it passes when they all pass, and the next stage starts then (or waits, with `approval = manual`)."),
    ("job", "**job** `name { ... }` — runs on one agent, its tasks in sequence in one workspace. The unit of scheduling and of re-run. `job name for x in [...]` makes one job per value; `for n in 1..4` makes four, 1 to 4 included."),
    ("env", "**env** `{ NAME = \"value\" }` — environment variables for every task of the pipeline, stage or job (the job's win over the stage's, the stage's over the pipeline's); `secret(\"name\")` is resolved by the runtime and never stored in the plan."),
    ("template", "**template** `job|stage|pipeline name(param: type, ...) { ... }` — a reusable entity; `job x = name(param = value)` makes one. `#{param}` interpolates a parameter in strings."),
    ("run", "**run** `\"script\"` runs a script with `sh -c`; `run [\"argv\", ...]` runs a command without a shell. `in \"folder\"` runs it in that folder of the workspace. Options: `{ when = passed|failed|always }`."),
    ("in", "**in** `\"folder\"` after `run \"...\"` — the folder of the job's workspace the command runs in (`run \"make\" in \"services/api\"`): relative, inside the workspace (E0210), and existing when the task starts."),
    ("fetch", "**fetch** `stage.job.artifact [into \"dir\"]` — downloads an artifact an earlier stage published (`pipeline.stage.job.artifact` from an upstream pipeline) into the job's workspace."),
    ("artifact", "**artifact** `name = \"path\"` — a file or folder the job publishes when it passes; later stages and downstream pipelines `fetch` it."),
];

/// From the end of a run's command to the end of its folder: ` in "dir"`.
fn folder_span(task: &Task) -> Option<Span> {
    match &task.kind {
        TaskKind::Run { command, dir: Some(dir) } => Some(Span::new(command.span.end, dir.span.end)),
        _ => None,
    }
}
