//! The GoCD model into the compiler's syntax tree, with spans into the GoCD file, so the
//! checker and the linter report on the YAML's own lines. For an import, names `.pw` cannot
//! spell are renamed and what has no equivalent is kept as notes for comments.

use super::index::{upstream_of, Index, Scope};
use super::model::*;
use crate::ast::{self, Block, BlockKind, Body, Expr, ExprKind, Field, ForClause, Ident, Member, StrLit};
use crate::source::{FileId, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// `pw check` and `pw lint`: GoCD's own names, every span in the GoCD file.
    Check,
    /// `pw import`: names `.pw` can spell, environments folded into their pipelines.
    Import,
}

/// Something the output cannot say, to write as a comment at the top of the block whose span is
/// `at` (the file's span: the top of the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Note {
    pub at: Span,
    pub text: String,
    /// The GoCD place it comes from, for the warning; `None` for a comment that needs none.
    pub source: Option<Unmapped>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Lowered {
    pub file: ast::File,
    pub notes: Vec<Note>,
}

/// Lowers one file's config.
pub(super) fn lower(file: FileId, config: &Config, index: &Index, mode: Mode, span: Span) -> Lowered {
    let mut l = Lowerer { file, index, mode, notes: Vec::new(), file_span: span };
    let mut members = Vec::new();
    for env in &config.environments {
        l.environment(env);
    }
    for p in &config.pipelines {
        l.pipeline(p, &mut members);
    }
    Lowered { file: ast::File { members, span }, notes: l.notes }
}

struct Lowerer<'a> {
    file: FileId,
    index: &'a Index,
    mode: Mode,
    notes: Vec<Note>,
    file_span: Span,
}

impl Lowerer<'_> {
    fn environment(&mut self, env: &Environment) {
        let at = self.file_span;
        if !env.vars.is_empty() || !env.pipelines.is_empty() {
            let names: Vec<&str> = env.pipelines.iter().map(|p| p.value.as_str()).collect();
            self.note(
                at,
                format!("GoCD environment `{}`: its variables are in the env of {}", env.name.value, names.join(", ")),
                None,
            );
        }
        self.unmapped(at, &env.unmapped);
    }

    fn pipeline(&mut self, p: &Pipeline, out: &mut Vec<Member>) {
        let span = p.span;
        let mut members = Vec::new();
        self.unmapped(span, &p.unmapped);
        if let Some(t) = &p.expanded_template {
            let text = format!("GoCD template `{}`: its stages, with this pipeline's parameters", t.value);
            self.note(span, text, None);
        }
        if p.template.is_some() {
            // The stages are on the server; already reported, nothing to check.
            return;
        }
        let mut materials = Vec::new();
        let mut after: Vec<Expr> = Vec::new();
        for m in &p.materials {
            match &m.kind {
                MaterialKind::Git { url } => {
                    let Some((name, declares)) = self.index.material(&p.name.value, &m.name.value) else { continue };
                    let name = self.name(name, m.name.span);
                    materials.push(path(vec![name.clone()], m.name.span));
                    if declares {
                        out.push(Member::block(self.material(m, url, name)));
                    } else {
                        self.unmapped(span, &m.unmapped);
                    }
                }
                MaterialKind::Dependency { pipeline, stage } => {
                    let known = self.index.has_pipeline(&pipeline.value);
                    let already = after.iter().any(|e| matches!(&e.kind, ExprKind::Path(s) if s.first().is_some_and(|i| i.name == self.ident(Scope::Pipelines, &pipeline.value, pipeline.span).name)));
                    if known && !already {
                        let segs = vec![
                            self.ident(Scope::Pipelines, &pipeline.value, pipeline.span),
                            self.ident(Scope::stages(&pipeline.value), &stage.value, stage.span),
                        ];
                        after.push(path(segs, m.span));
                    } else if known {
                        self.dropped(
                            span,
                            "dependency material",
                            format!("{} stage {}", pipeline.value, stage.value),
                            "Pipewright triggers on one stage per upstream pipeline",
                            m.span,
                        );
                    } else {
                        self.dropped(
                            span,
                            "dependency material",
                            format!("{} stage {}", pipeline.value, stage.value),
                            "that pipeline is not in these files: add it to `after` once it is",
                            m.span,
                        );
                    }
                    self.unmapped(span, &m.unmapped);
                }
                MaterialKind::ConfigRepo => {
                    self.dropped(
                        span,
                        "configrepo material",
                        m.name.value.clone(),
                        "the config repository's URL is known only to the GoCD server: declare it as a git material",
                        m.span,
                    );
                }
                MaterialKind::ServerDefined { what, id } => {
                    self.dropped(
                        span,
                        "material",
                        format!("{} ({what} `{}`)", m.name.value, id.value),
                        "defined on the GoCD server; Pipewright materials are git repositories",
                        m.span,
                    );
                }
                MaterialKind::Other { kind } => {
                    let u = Unmapped {
                        feature: format!("{kind} material"),
                        value: m.name.value.clone(),
                        why: "Pipewright materials are git repositories",
                        span: m.span,
                    };
                    self.unmapped(span, std::slice::from_ref(&u));
                }
            }
        }
        if !materials.is_empty() {
            members.push(field("materials", list(materials, span), span));
        }
        if !after.is_empty() {
            members.push(field("after", list(after, span), span));
        }
        if p.single_instance {
            members.push(field("max_instances", Expr { kind: ExprKind::Int(1), span }, span));
        }
        // The pipeline's environments' variables first: the pipeline's own override them, and a
        // stage's or a job's override both, as in GoCD. One declared in another file points at
        // the pipeline's name here.
        let mut vars: Vec<Var> = Vec::new();
        for (file, v) in self.index.environment_vars(&p.name.value) {
            let mut v = v.clone();
            if *file != self.file {
                v.name.span = p.name.span;
                v.value.span = p.name.span;
            }
            vars.push(v);
        }
        vars.extend(p.vars.iter().cloned());
        if let Some(env) = self.env(&vars, span) {
            members.push(env);
        }
        for s in &p.stages {
            members.push(Member::block(self.stage(p, s)));
        }
        if p.incomplete {
            members.push(Member::Error(span));
        }
        let name = self.declared_name(&p.name, Scope::Pipelines, span);
        out.push(Member::block(block(BlockKind::Pipeline, name, members, span)));
    }

    fn material(&mut self, m: &Material, url: &Text, name: Ident) -> Block {
        let mut members = vec![field("git", string(url), m.span)];
        if let Some(b) = m.branch.as_ref().filter(|b| !b.value.trim().is_empty()) {
            members.push(field("branch", string(b), m.span));
        }
        if let Some(d) = m.destination.as_ref().filter(|d| !d.value.trim().is_empty()) {
            members.push(field("path", string(d), m.span));
        }
        self.unmapped(m.span, &m.unmapped);
        block(BlockKind::Material, name, members, m.span)
    }

    fn stage(&mut self, p: &Pipeline, s: &Stage) -> Block {
        let mut members = Vec::new();
        self.unmapped(s.span, &s.unmapped);
        if s.manual {
            members.push(field("approval", word("manual", s.span), s.span));
        }
        if s.fetch_materials == Some(false) {
            members.push(field("fetch_materials", Expr { kind: ExprKind::Bool(false), span: s.span }, s.span));
        }
        if let Some(env) = self.env(&s.vars, s.span) {
            members.push(env);
        }
        for j in &s.jobs {
            members.push(Member::block(self.job(p, s, j)));
        }
        if s.incomplete {
            members.push(Member::Error(s.span));
        }
        let name = self.declared_name(&s.name, Scope::stages(&p.name.value), s.span);
        block(BlockKind::Stage, name, members, s.span)
    }

    fn job(&mut self, p: &Pipeline, s: &Stage, j: &Job) -> Block {
        let span = j.span;
        let mut members = Vec::new();
        self.unmapped(span, &j.unmapped);
        if !j.resources.is_empty() {
            members.push(field("resources", list(j.resources.iter().map(string).collect(), span), span));
        }
        if let Some(timeout) = self.timeout(j) {
            members.push(timeout);
        }
        if let Some(env) = self.env(&j.vars, span) {
            members.push(env);
        }
        for t in &j.tasks {
            self.unmapped(span, &t.unmapped);
            if let Some(task) = self.task(p, t, span) {
                let more = self.also_fetched(p, t);
                members.push(Member::task(task.clone()));
                members.extend(more.into_iter().map(|name| Member::task(fetching(&task, name))));
            }
        }
        if j.incomplete {
            members.push(Member::Error(span));
        }
        let names = artifact_names(&j.artifacts);
        for (a, name) in j.artifacts.iter().zip(names) {
            // GoCD parses a test artifact as a report and shows it in a tab: it has a reader.
            let options = if a.test {
                let word = Ident { name: "report".into(), span: a.span };
                let value = Expr { kind: ExprKind::Path(vec![word]), span: a.span };
                vec![ast::Field { name: Ident { name: "kind".into(), span: a.span }, value, span: a.span }]
            } else {
                Vec::new()
            };
            members.push(Member::artifact(ast::Artifact {
                name: Ident { name, span: a.span },
                path: string(&a.source),
                options,
                span: a.span,
            }));
        }
        let name = self.declared_name(&j.name, Scope::jobs(&p.name.value, &s.name.value), span);
        let mut b = block(BlockKind::Job, name, members, span);
        if let Some((n, at)) = j.instances.filter(|(n, _)| *n > 1) {
            b.fan_out = Some(Box::new(ForClause {
                var: Ident { name: "instance".into(), span: at },
                source: Expr { kind: ExprKind::Range(1, i64::from(n)), span: at },
                span: at,
            }));
        }
        b
    }

    /// `timeout: N` minutes; `timeout: 0` is "never", which the checker and the linter see and
    /// `.pw` cannot say (an import leaves it out: no timeout).
    fn timeout(&self, j: &Job) -> Option<Member> {
        let (minutes, at) = j.timeout?;
        let kind = match minutes {
            0 if self.mode == Mode::Import => return None,
            0 => ExprKind::Never,
            m => ExprKind::Duration(m.saturating_mul(60)),
        };
        Some(field("timeout", Expr { kind, span: at }, at))
    }

    fn task(&mut self, p: &Pipeline, t: &Task, job: Span) -> Option<ast::Task> {
        let span = t.span;
        let kind = match &t.kind {
            TaskKind::Exec { command, arguments, working_directory } => {
                let command = match shell_script(command, arguments) {
                    Some(script) => str_expr(script, span),
                    None => list(std::iter::once(command).chain(arguments).map(string).collect(), span),
                };
                let dir = working_directory.as_ref().filter(|w| !w.value.trim().is_empty()).map(string);
                ast::TaskKind::Run { command, dir }
            }
            TaskKind::Script(text) => {
                ast::TaskKind::Run { command: str_expr(text.value.trim_end().to_string(), text.span), dir: None }
            }
            TaskKind::Fetch { pipeline, stage, job: from_job, source, destination, .. } => {
                let upstream = pipeline.as_ref().map(|p| upstream_of(&p.value).to_string());
                let owner = upstream.clone().unwrap_or_else(|| p.name.value.clone());
                if !self.index.has_pipeline(&owner) {
                    self.dropped(
                        job,
                        "fetch",
                        format!("{} from {owner} stage {} job {}", source.value, stage.value, from_job.value),
                        "that pipeline is not in these files",
                        span,
                    );
                    return None;
                }
                let artifacts = self.index.artifacts(&owner, &stage.value, &from_job.value).unwrap_or_default();
                let artifact = match find_artifact(artifacts, &source.value) {
                    Some(name) => name,
                    None if self.mode == Mode::Import => {
                        self.dropped(
                            job,
                            "fetch",
                            format!("{} from {owner} stage {} job {}", source.value, stage.value, from_job.value),
                            "that job publishes no artifact with this path",
                            span,
                        );
                        return None;
                    }
                    None => crate::fan_out::name_safe(&source.value),
                };
                let mut segs = Vec::new();
                if let Some(up) = upstream.filter(|u| *u != p.name.value) {
                    segs.push(self.ident(Scope::Pipelines, &up, pipeline.as_ref().map_or(span, |p| p.span)));
                }
                segs.push(self.ident(Scope::stages(&owner), &stage.value, stage.span));
                segs.push(self.ident(Scope::jobs(&owner, &stage.value), &from_job.value, from_job.span));
                segs.push(Ident { name: artifact, span: source.span });
                let into = destination.as_ref().map(string);
                ast::TaskKind::Fetch { source: path(segs, span), into }
            }
            TaskKind::Unsupported { what } => {
                let u =
                    Unmapped { feature: "task".into(), value: what.clone(), why: "Pipewright has no such task", span };
                self.unmapped(job, std::slice::from_ref(&u));
                return None;
            }
        };
        let options = match t.run_if {
            RunIf::Passed => Vec::new(),
            RunIf::Failed => vec![ast_field("when", word("failed", span), span)],
            RunIf::Any => vec![ast_field("when", word("always", span), span)],
        };
        Some(ast::Task { kind, kind_span: span, options, span })
    }

    /// An `env` block of plain values and secrets; `None` when there are none.
    fn env(&mut self, vars: &[Var], at: Span) -> Option<Member> {
        if vars.is_empty() {
            return None;
        }
        let mut fields: Vec<Field> = Vec::new();
        for v in vars {
            let value = if v.secure {
                if self.mode == Mode::Import {
                    let why =
                        "encrypted with the GoCD server's key: store the value as a Pipewright secret of this name";
                    self.dropped(at, "secure variable", v.name.value.clone(), why, v.value.span);
                }
                secret(&v.name.value, v.value.span)
            } else if let Some(key) = secret_reference(&v.value.value) {
                secret(key, v.value.span)
            } else {
                string(&v.value)
            };
            // A later level overrides an earlier one, as in GoCD.
            fields.retain(|f| !f.name.name.eq_ignore_ascii_case(&v.name.value));
            fields.push(Field {
                name: Ident { name: v.name.value.clone(), span: v.name.span },
                value,
                span: v.name.span.to(v.value.span),
            });
        }
        let members = fields.into_iter().map(Member::field).collect();
        Some(Member::block(Block {
            kind: BlockKind::Env,
            kind_span: at,
            template_of: None,
            name: None,
            params: Vec::new(),
            fan_out: None,
            body: Body::Members { members, span: at },
            span: at,
        }))
    }

    fn unmapped(&mut self, at: Span, items: &[Unmapped]) {
        if self.mode != Mode::Import {
            return;
        }
        for u in items {
            if self.notes.iter().any(|n| n.at == at && n.source.as_ref() == Some(u)) {
                continue;
            }
            self.note(at, format!("GoCD {}: {} ({})", u.feature, u.value, u.why), Some(u.clone()));
        }
    }

    /// Something left out of the output, noted with a warning.
    fn dropped(&mut self, at: Span, feature: &str, value: String, why: &'static str, span: Span) {
        let u = Unmapped { feature: feature.into(), value, why, span };
        self.unmapped(at, std::slice::from_ref(&u));
    }

    fn note(&mut self, at: Span, text: String, source: Option<Unmapped>) {
        if self.mode == Mode::Import {
            self.notes.push(Note { at, text, source });
        }
    }

    /// The name of a pipeline, stage or job; a rename is noted in its block (at `at`).
    fn declared_name(&mut self, name: &Text, scope: Scope, at: Span) -> Ident {
        let ident = self.ident(scope, &name.value, name.span);
        if ident.name != name.value {
            let why = if pw_name(&name.value) == name.value {
                "renamed: another GoCD name became this `.pw` name first"
            } else {
                "renamed: `.pw` names start with a letter or `_` and hold letters, digits, `_` and `-`, and are no keyword"
            };
            let u = Unmapped {
                feature: "name".into(),
                value: format!("{} (now `{}`)", name.value, ident.name),
                why,
                span: name.span,
            };
            self.unmapped(at, std::slice::from_ref(&u));
        }
        ident
    }

    /// The name of a pipeline, stage or job in `scope`, as the output spells it.
    fn ident(&self, scope: Scope, name: &str, span: Span) -> Ident {
        let name = match self.mode {
            Mode::Check => name.to_string(),
            Mode::Import => self.index.pw_name(scope, name),
        };
        Ident { name, span }
    }

    fn name(&mut self, name: &str, span: Span) -> Ident {
        Ident { name: self.name_str(name), span }
    }

    fn name_str(&self, name: &str) -> String {
        match self.mode {
            Mode::Check => name.to_string(),
            Mode::Import => pw_name(name),
        }
    }
}

/// A GoCD name as a `.pw` name: `.` and other characters become `_`, a leading digit gets a
/// `_` in front, a keyword gets one behind. The same name always gives the same result, so
/// references stay consistent.
pub fn pw_name(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "material", "template", "pipeline", "stage", "job", "env", "run", "fetch", "into", "artifact", "for", "in",
        "true", "false",
    ];
    let mut out: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// The names of a job's artifacts, unique in the job: the last folder of each `destination`
/// (where GoCD publishes it, and what a fetch's `source` starts with), else the source's file
/// name, as a `.pw` name. `pw export` publishes each artifact in a folder of its name, so its
/// names come back.
pub(super) fn artifact_names(artifacts: &[Artifact]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(artifacts.len());
    for a in artifacts {
        let destination = a.destination.as_ref().map(|d| d.value.trim().trim_matches('/')).unwrap_or_default();
        let named_by = if destination.is_empty() || destination == "." { &a.source.value } else { destination };
        let trimmed = named_by.trim().trim_end_matches('/');
        let base = trimmed.rsplit('/').find(|s| !s.is_empty() && *s != "*" && *s != "**").unwrap_or("artifact");
        let mut name = pw_name(base.trim_matches(|c: char| !c.is_ascii_alphanumeric()));
        if name == "_" {
            name = "artifact".into();
        }
        let base = name.clone();
        let mut n = 2;
        while names.iter().any(|x| x.eq_ignore_ascii_case(&name)) {
            name = format!("{base}-{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

/// The artifact a fetch's `source` names: GoCD publishes `source` under `destination`, so a
/// fetch names `destination/<file name of source>` (or the destination folder itself).
fn find_artifact(artifacts: &[Artifact], source: &str) -> Option<String> {
    let names = artifact_names(artifacts);
    let wanted = normal(source);
    let published = |a: &Artifact| {
        let base = normal(&a.source.value);
        let file = base.rsplit('/').next().unwrap_or(&base).to_string();
        let dest = a.destination.as_ref().map(|d| normal(&d.value)).unwrap_or_default();
        (if dest.is_empty() { file } else { format!("{dest}/{file}") }, dest, base.contains('*'))
    };
    let found = artifacts.iter().position(|a| {
        let (path, dest, glob) = published(a);
        path == wanted
            || wanted.starts_with(&format!("{path}/"))
            || (glob && dest == wanted)
            || normal(&a.source.value) == wanted
    });
    let found = found.or_else(|| {
        artifacts.iter().position(|a| {
            let (_, dest, _) = published(a);
            !dest.is_empty() && (dest == wanted || wanted.starts_with(&format!("{dest}/")))
        })
    });
    found.and_then(|i| names.get(i).cloned())
}

impl Lowerer<'_> {
    /// The other artifacts a folder fetch reads: GoCD fetches the whole folder, so every
    /// artifact published into it (or below it) comes with the one `find_artifact` named.
    fn also_fetched(&self, p: &Pipeline, t: &Task) -> Vec<String> {
        let TaskKind::Fetch { pipeline, stage, job, source, is_file: false, .. } = &t.kind else { return Vec::new() };
        let owner = pipeline.as_ref().map_or(p.name.value.as_str(), |p| upstream_of(&p.value));
        let artifacts = self.index.artifacts(owner, &stage.value, &job.value).unwrap_or_default();
        let first = find_artifact(artifacts, &source.value);
        let wanted = normal(&source.value);
        let inside = |dest: &str| !wanted.is_empty() && (dest == wanted || dest.starts_with(&format!("{wanted}/")));
        artifacts
            .iter()
            .zip(artifact_names(artifacts))
            .filter(|(a, _)| inside(&a.destination.as_ref().map(|d| normal(&d.value)).unwrap_or_default()))
            .map(|(_, name)| name)
            .filter(|name| Some(name) != first.as_ref())
            .collect()
    }
}

/// A copy of a fetch task naming another artifact of the same job.
fn fetching(task: &ast::Task, artifact: String) -> ast::Task {
    let mut task = task.clone();
    if let ast::TaskKind::Fetch { source: Expr { kind: ExprKind::Path(segs), .. }, .. } = &mut task.kind {
        if let Some(last) = segs.last_mut() {
            last.name = artifact;
        }
    }
    task
}

fn normal(path: &str) -> String {
    path.trim().trim_start_matches("./").trim_end_matches('/').to_string()
}

/// The script of `bash -c "script"` (or `sh`, with `-e`/`-x` kept as `set` lines).
fn shell_script(command: &Text, arguments: &[Text]) -> Option<String> {
    let program = command.value.rsplit('/').next().unwrap_or_default();
    if !matches!(program, "bash" | "sh" | "dash" | "zsh" | "ksh") {
        return None;
    }
    let (script, flags) = arguments.split_last()?;
    let letters: String = flags
        .iter()
        .map(|f| f.value.strip_prefix('-').filter(|l| !l.is_empty() && l.chars().all(|c| "celx".contains(c))))
        .collect::<Option<String>>()?;
    if !letters.contains('c') {
        return None;
    }
    let mut out = String::new();
    for (flag, line) in [('e', "set -e\n"), ('x', "set -x\n")] {
        if letters.contains(flag) {
            out.push_str(line);
        }
    }
    out.push_str(script.value.trim_end());
    Some(out)
}

/// `{{SECRET:[config][key]}}` as a whole value: the key.
fn secret_reference(value: &str) -> Option<&str> {
    let inner = value.trim().strip_prefix("{{SECRET:[")?.strip_suffix("]}}")?;
    let (_, key) = inner.split_once("][")?;
    (!key.is_empty()).then_some(key)
}

fn block(kind: BlockKind, name: Ident, members: Vec<Member>, span: Span) -> Block {
    Block {
        kind,
        kind_span: name.span,
        template_of: None,
        name: Some(name),
        params: Vec::new(),
        fan_out: None,
        body: Body::Members { members, span },
        span,
    }
}

fn ast_field(name: &str, value: Expr, span: Span) -> Field {
    Field { name: Ident { name: name.into(), span }, value, span }
}

fn field(name: &str, value: Expr, span: Span) -> Member {
    Member::field(ast_field(name, value, span))
}

fn string(t: &Text) -> Expr {
    str_expr(t.value.clone(), t.span)
}

fn str_expr(text: String, span: Span) -> Expr {
    Expr { kind: ExprKind::Str(StrLit::plain(text)), span }
}

fn word(w: &str, span: Span) -> Expr {
    path(vec![Ident { name: w.into(), span }], span)
}

fn path(segs: Vec<Ident>, span: Span) -> Expr {
    Expr { kind: ExprKind::Path(segs), span }
}

fn list(items: Vec<Expr>, span: Span) -> Expr {
    Expr { kind: ExprKind::List(items), span }
}

fn secret(name: &str, span: Span) -> Expr {
    Expr {
        kind: ExprKind::Call(Box::new(ast::Call {
            name: Ident { name: "secret".into(), span },
            args: vec![str_expr(name.into(), span)],
        })),
        span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &str) -> Text {
        Text { value: v.into(), span: Span::default() }
    }

    #[test]
    fn names_pw_cannot_spell_are_renamed_the_same_way_each_time() {
        assert_eq!(pw_name("build.linux"), "build_linux");
        assert_eq!(pw_name("2fa"), "_2fa");
        assert_eq!(pw_name("stage"), "stage_");
        assert_eq!(pw_name("web-1"), "web-1");
    }

    #[test]
    fn bash_c_becomes_a_script_and_other_argv_does_not() {
        let script = shell_script(&text("/bin/bash"), &[text("-ec"), text("make\n")]);
        assert_eq!(script.as_deref(), Some("set -e\nmake"));
        assert_eq!(shell_script(&text("bash"), &[text("build.sh")]), None);
        assert_eq!(shell_script(&text("make"), &[text("-c"), text("x")]), None);
    }

    #[test]
    fn fetch_sources_match_the_published_path() {
        let a = |source: &str, dest: Option<&str>| Artifact {
            test: false,
            source: text(source),
            destination: dest.map(text),
            span: Span::default(),
        };
        let arts = vec![a("target/app.jar", Some("pkg")), a("dist/", None)];
        assert_eq!(find_artifact(&arts, "pkg/app.jar").as_deref(), Some("pkg"));
        assert_eq!(find_artifact(&arts, "dist").as_deref(), Some("dist"));
        assert_eq!(find_artifact(&arts, "other"), None);
        assert_eq!(secret_reference("{{SECRET:[vault][db_pass]}}"), Some("db_pass"));
    }
}
