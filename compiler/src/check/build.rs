//! The second pass: evaluates materials and pipelines into the model, instantiating templates
//! with typed arguments and expanding static `for` fan-outs. References are kept as written;
//! [`resolve`](super::resolve) checks them afterwards.

use super::declare::{duplicate, header_span, Decl, Declared, PipelineDecl};
use super::fields::{self, Fields};
use super::values::{Binding, Eval, Scope, Use, Value};
use crate::ast::{self, Block, BlockKind, Body, Expr, ExprKind, Ident, Member, TaskKind, TemplateCall};
use crate::codes::Code::{
    E0202, E0204, E0205, E0206, E0207, E0208, E0209, E0210, E0301, E0501, E0502, E0503, E0504, E0505, E0507, E0508,
    E0509, E0510,
};
use crate::diagnostic::{did_you_mean, Applicability, Diagnostic, Edit, Fix};
use crate::model::{
    Action, Approval, ArtifactDecl, ArtifactKind, Discover, EnvValue, EnvVar, FanOutInstance, Fetch, Job, Material,
    NameRef, OnFailure, Origin, ParamType, Pipeline, Stage, Task, TemplateKind, Upstream, When,
};
use crate::schema::Owner;
use crate::source::{FileId, Span};
use crate::words::quote_list;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// How many jobs one `for` may make.
pub const MAX_FAN_OUT: i64 = 1000;
/// How deep templates may instantiate templates.
const MAX_TEMPLATE_DEPTH: usize = 16;

pub(super) struct Builder<'a, 's> {
    pub declared: &'s Declared<'a>,
    pub diagnostics: Vec<Diagnostic>,
    /// References to templates and their parameters, in the order met.
    pub refers: Vec<Use>,
    /// References met while evaluating expressions, in the order met.
    pub uses: Vec<Use>,
    /// Dotted references as written, by file and the start of the expression.
    pub paths: FxHashMap<(FileId, usize), Vec<Ident>>,
    pub template_uses: FxHashMap<String, usize>,
    stack: Vec<String>,
    /// The pipeline being built: a fetch within it names it, as the resolver would.
    pipeline: String,
}

/// What building one pipeline found: the pipeline as built (its references not yet resolved),
/// and the diagnostics, references, dotted paths and template uses its building added. The
/// language server's checks keep these, so that the next check takes them for the pipelines an
/// edit cannot have changed ([`super::keep`]).
#[derive(Clone, Debug, Default)]
pub(super) struct Built {
    pub pipeline: Option<Arc<Pipeline>>,
    pub diagnostics: Vec<Diagnostic>,
    pub refers: Vec<Use>,
    pub uses: Vec<Use>,
    pub paths: Vec<((FileId, usize), Vec<Ident>)>,
    pub template_uses: Vec<(String, usize)>,
}

/// A body to evaluate: its members, its file, and the names in scope.
struct Ctx<'a> {
    file: FileId,
    scope: Scope,
    template: Option<String>,
    members: &'a [Member],
}

impl<'a, 's> Builder<'a, 's> {
    pub(super) fn new(declared: &'s Declared<'a>) -> Self {
        Builder {
            declared,
            diagnostics: Vec::new(),
            refers: Vec::new(),
            uses: Vec::new(),
            paths: FxHashMap::default(),
            template_uses: FxHashMap::default(),
            stack: Vec::new(),
            pipeline: String::new(),
        }
    }

    fn eval<'e>(&'e mut self, file: FileId, scope: &'e Scope) -> Eval<'e> {
        Eval { file, scope, diagnostics: &mut self.diagnostics, uses: &mut self.uses }
    }

    pub(super) fn material(&mut self, decl: &Decl<'a>) -> Option<Material> {
        let members = decl.block.body.members();
        let scope = Scope::default();
        let field_list = self.only_fields(decl.file, members, "a material");
        let head = (decl.file, decl.name.span);
        let mut eval = self.eval(decl.file, &scope);
        let fields = fields::read(Owner::Material, &field_list, &mut eval, head);
        let git = fields.non_empty_string("git", &mut eval, "the URL or path of a repository");
        let branch = fields.non_empty_string("branch", &mut eval, "the name of a branch, such as `\"main\"`");
        let poll_secs = fields.duration("poll", &mut eval).unwrap_or(60);
        let path = fields.string("path", &mut eval);
        let path = match (path, fields.span("path")) {
            (Some(p), Some(span)) => Some(self.workspace_path(decl.file, span, &p, PathUse::Checkout)),
            _ => None,
        };
        Some(Material {
            name: decl.name.name.clone(),
            git: git.unwrap_or_default(),
            branch: branch.unwrap_or_else(|| "main".into()),
            poll_secs,
            path: path.unwrap_or_else(|| ".".into()),
            origin: origin(decl.file, decl.block.span, decl.name.span),
        })
    }

    /// The same builder, for trees that live `'b` (a pipeline's tree, freed once it is built).
    pub(super) fn rebind<'b, 't>(self, declared: &'t Declared<'b>) -> Builder<'b, 't> {
        let Builder { declared: _, diagnostics, refers, uses, paths, template_uses, stack, pipeline } = self;
        Builder { declared, diagnostics, refers, uses, paths, template_uses, stack, pipeline }
    }

    /// Takes in what `other` found, as if this builder had gone on to build what it built.
    pub(super) fn absorb(&mut self, other: Builder) {
        let Builder { diagnostics, refers, uses, paths, template_uses, .. } = other;
        self.diagnostics.extend(diagnostics);
        self.refers.extend(refers);
        self.uses.extend(uses);
        self.paths.extend(paths);
        for (name, n) in template_uses {
            *self.template_uses.entry(name).or_default() += n;
        }
    }

    /// Builds one pipeline apart, with a builder of its own: the pipeline and what its building
    /// found.
    pub(super) fn pipeline_apart(declared: &'s Declared<'a>, decl: &PipelineDecl, block: &'a Block) -> Built {
        let mut one = Builder::new(declared);
        let pipeline = one.pipeline(decl, block).map(Arc::new);
        let Builder { diagnostics, refers, uses, paths, template_uses, .. } = one;
        Built {
            pipeline,
            diagnostics,
            refers,
            uses,
            paths: paths.into_iter().collect(),
            template_uses: template_uses.into_iter().collect(),
        }
    }

    /// Takes in what building one pipeline found, as if this builder had built it, but for its
    /// paths, which the resolver reads where they are; returns the pipeline, shared.
    pub(super) fn take_in(&mut self, built: &Built) -> Option<Arc<Pipeline>> {
        self.diagnostics.extend_from_slice(&built.diagnostics);
        self.refers.extend_from_slice(&built.refers);
        self.uses.extend_from_slice(&built.uses);
        for (name, n) in &built.template_uses {
            *self.template_uses.entry(name.clone()).or_default() += n;
        }
        built.pipeline.clone()
    }

    pub(super) fn pipeline(&mut self, decl: &PipelineDecl, block: &'a Block) -> Option<Pipeline> {
        self.pipeline.clone_from(&decl.name.name);
        let at = origin(decl.file, block.span, decl.name.span);
        let ctx = self.body_of(block, TemplateKind::Pipeline, decl.file, &Scope::default())?;
        let pipeline = self.pipeline_body(&decl.name, at, ctx);
        self.leave_template(block);
        Some(pipeline)
    }

    /// The members of a block, or of the template it instantiates, with the scope to read them in.
    fn body_of(&mut self, block: &'a Block, kind: TemplateKind, file: FileId, scope: &Scope) -> Option<Ctx<'a>> {
        match &block.body {
            Body::Members { members, .. } => Some(Ctx { file, scope: scope.clone(), template: None, members }),
            Body::Instance(call) => self.instantiate(call, kind, file, scope),
            Body::Missing => None,
        }
    }

    fn leave_template(&mut self, block: &Block) {
        if matches!(block.body, Body::Instance(_)) {
            self.stack.pop();
        }
    }

    fn pipeline_body(&mut self, name: &Ident, at: Origin, ctx: Ctx<'a>) -> Pipeline {
        let mut field_list = Vec::new();
        let mut env = Vec::new();
        let mut stages: Vec<Stage> = Vec::new();
        for member in ctx.members {
            match member {
                Member::Field(f) => field_list.push(&**f),
                Member::Block(b) if b.kind == BlockKind::Env => env.extend(self.env(ctx.file, b, &ctx.scope)),
                Member::Block(b) if b.kind == BlockKind::Stage => {
                    if let Some(stage) = self.stage(ctx.file, b, &ctx.scope) {
                        self.push_unique(&mut stages, stage, "stage", |s| (&s.name, s.origin), &name.name);
                    }
                }
                other => self.misplaced(ctx.file, other, "a pipeline", "stages, `env` and fields"),
            }
        }
        let mut eval = self.eval(ctx.file, &ctx.scope);
        let fields = fields::read(Owner::Pipeline, &field_list, &mut eval, (at.file, at.name));
        let max_instances = fields.positive("max_instances", &mut eval);
        let materials = self.material_refs(&fields, ctx.file, &ctx.scope);
        let after = self.upstreams(&fields, ctx.file, &ctx.scope);
        if !ctx.members.iter().any(|m| is_block(m, BlockKind::Stage) || stands_in(m, BlockKind::Pipeline)) {
            self.diagnostics.push(
                Diagnostic::error(E0204, at.file, at.name, format!("pipeline `{}` has no stage", name.name))
                    .with_label("a pipeline runs its stages in order, and this one has none")
                    .with_help("add `stage NAME { job NAME { run \"...\" } }`"),
            );
        }
        Pipeline {
            name: name.name.clone(),
            materials,
            after,
            max_instances,
            env,
            stages: exact(stages),
            origin: at,
            template: ctx.template,
        }
    }

    fn material_refs(&mut self, fields: &Fields, file: FileId, scope: &Scope) -> Vec<NameRef> {
        let mut eval = self.eval(file, scope);
        let mut out = Vec::new();
        for (path, span) in fields.paths("materials", &mut eval) {
            match path.as_slice() {
                [one] => out.push(NameRef { name: one.name.clone(), file, span: one.span }),
                _ => self.diagnostics.push(
                    Diagnostic::error(E0202, file, span, "a material is named by one word")
                        .with_label("not a material name")
                        .with_help("write the material's name, as in `materials = [app]`"),
                ),
            }
        }
        out
    }

    fn upstreams(&mut self, fields: &Fields, file: FileId, scope: &Scope) -> Vec<Upstream> {
        let mut eval = self.eval(file, scope);
        let mut out = Vec::new();
        for (path, span) in fields.paths("after", &mut eval) {
            if let [p, s] = path.as_slice() {
                self.paths.insert((file, span.start), path.clone());
                out.push(Upstream { pipeline: p.name.clone(), stage: s.name.clone(), file, span });
            } else {
                self.diagnostics.push(
                    Diagnostic::error(E0202, file, span, "`after` takes `pipeline.stage` references")
                        .with_label(format!("this has {} part{}", path.len(), if path.len() == 1 { "" } else { "s" }))
                        .with_help("name the upstream pipeline and the stage whose success triggers this one, as in `after = [build.test]`"),
                );
            }
        }
        out
    }

    fn stage(&mut self, file: FileId, block: &'a Block, scope: &Scope) -> Option<Stage> {
        let name = block.name.as_ref()?;
        let at = origin(file, block.span, name.span);
        let ctx = self.body_of(block, TemplateKind::Stage, file, scope)?;
        let stage = self.stage_body(name, at, ctx);
        self.leave_template(block);
        Some(stage)
    }

    fn stage_body(&mut self, name: &Ident, at: Origin, ctx: Ctx<'a>) -> Stage {
        let mut field_list = Vec::new();
        let mut env = Vec::new();
        let mut jobs: Vec<Job> = Vec::new();
        for member in ctx.members {
            match member {
                Member::Field(f) => field_list.push(&**f),
                Member::Block(b) if b.kind == BlockKind::Env => env.extend(self.env(ctx.file, b, &ctx.scope)),
                Member::Block(b) if b.kind == BlockKind::Job => {
                    for job in self.job(ctx.file, b, &ctx.scope) {
                        self.push_unique(&mut jobs, job, "job", |j| (&j.name, j.origin), &name.name);
                    }
                }
                other => self.misplaced(
                    ctx.file,
                    other,
                    "a stage",
                    "jobs, `env` and the fields `approval`, `on_failure`, `fetch_materials`",
                ),
            }
        }
        let mut eval = self.eval(ctx.file, &ctx.scope);
        let fields = fields::read(Owner::Stage, &field_list, &mut eval, (at.file, at.name));
        let approval = match fields.word("approval", &mut eval) {
            Some("manual") => Approval::Manual,
            _ => Approval::Success,
        };
        let on_failure = match fields.word("on_failure", &mut eval) {
            Some("cancel") => OnFailure::Cancel,
            _ => OnFailure::Finish,
        };
        let fetch_materials = fields.bool("fetch_materials", &mut eval).unwrap_or(true);
        if !ctx.members.iter().any(|m| is_block(m, BlockKind::Job) || stands_in(m, BlockKind::Stage)) {
            self.diagnostics.push(
                Diagnostic::error(E0205, at.file, at.name, format!("stage `{}` has no job", name.name))
                    .with_label("a stage passes when all its jobs pass, and this one has none")
                    .with_help("add `job NAME { run \"...\" }`, or remove the stage"),
            );
        }
        Stage {
            name: name.name.clone(),
            approval,
            on_failure,
            fetch_materials,
            env,
            jobs: exact(jobs),
            origin: at,
            template: ctx.template,
        }
    }

    /// A job block: one job, or one per value of its `for`.
    fn job(&mut self, file: FileId, block: &'a Block, scope: &Scope) -> Vec<Job> {
        let Some(name) = block.name.as_ref() else { return Vec::new() };
        let at = origin(file, block.span, name.span);
        let Some(fan) = &block.fan_out else {
            return self.job_instance(file, block, scope, name.name.clone(), at).into_iter().collect();
        };
        let var_symbol = self.declared.symbol_at(file, fan.var.span);
        let source = self.eval(file, scope).expr(&fan.source);
        if let Value::Discover(command) = source {
            let inner = scope.with(&fan.var.name, Binding::Dynamic, var_symbol);
            let mut job = self.job_instance(file, block, &inner, name.name.clone(), at);
            if let Some(j) = job.as_mut() {
                j.discover = Some(Box::new(Discover { var: fan.var.name.clone(), command }));
            }
            return job.into_iter().collect();
        }
        let values = self.fan_out_values(file, fan, source);
        let mut jobs = Vec::new();
        for value in values {
            let inner = scope.with(&fan.var.name, Binding::Value(Value::Str(value.clone())), var_symbol);
            let instance = crate::fan_out::instance_name(&name.name, &value);
            if let Some(mut job) = self.job_instance(file, block, &inner, instance, at) {
                job.instance_of =
                    Some(Box::new(FanOutInstance { base: name.name.clone(), var: fan.var.name.clone(), value }));
                jobs.push(job);
            }
        }
        jobs
    }

    fn fan_out_values(&mut self, file: FileId, fan: &ast::ForClause, source: Value) -> Vec<String> {
        let span = fan.source.span;
        let mut reported = false;
        let values: Vec<(String, Span)> = match source {
            Value::List(items) => {
                reported = items.iter().any(|v| matches!(v, Value::Error));
                let spans: Vec<Span> = match &fan.source.kind {
                    ExprKind::List(exprs) => exprs.iter().map(|e| e.span).collect(),
                    _ => vec![span; items.len()],
                };
                let mut out = Vec::new();
                for (item, item_span) in items.into_iter().zip(spans) {
                    match item {
                        Value::Str(s) if !s.is_empty() => out.push((s, item_span)),
                        Value::Int(i) => out.push((i.to_string(), item_span)),
                        Value::Error => {}
                        Value::Str(_) => {
                            reported = true;
                            self.diagnostics.push(
                                Diagnostic::error(E0509, file, item_span, "a `for` value is empty")
                                    .with_label("an empty string names no job")
                                    .with_help(
                                        "each value names one job, such as `\"web-1\"` or `3`; remove the empty one",
                                    ),
                            );
                        }
                        other => {
                            reported = true;
                            self.diagnostics.push(
                                Diagnostic::error(
                                    E0509,
                                    file,
                                    item_span,
                                    format!("a `for` list holds names, but this is {}", other.describe()),
                                )
                                .with_label("expected a non-empty string or a number")
                                .with_help("each value names one job, such as `\"web-1\"` or `3`"),
                            )
                        }
                    }
                }
                out
            }
            Value::Range(a, b) if b < a => {
                self.diagnostics.push(reversed_range(file, span, a, b));
                return Vec::new();
            }
            Value::Range(a, b) if b.saturating_sub(a).saturating_add(1) > MAX_FAN_OUT => {
                let count = b.saturating_sub(a).saturating_add(1);
                self.diagnostics.push(
                    Diagnostic::error(E0509, file, span, format!("this range makes {count} jobs"))
                        .with_label(format!("at most {MAX_FAN_OUT} jobs can come from one `for`"))
                        .with_help("use fewer shards, or `discover(...)` to decide when the stage starts"),
                );
                return Vec::new();
            }
            Value::Range(a, b) => (a..=b).map(|i| (i.to_string(), span)).collect(),
            Value::Error => return Vec::new(),
            other => {
                self.diagnostics.push(
                    Diagnostic::error(
                        E0509,
                        file,
                        span,
                        format!("`for` takes a list, a range or `discover(...)`, but this is {}", other.describe()),
                    )
                    .with_label("cannot fan out over this")
                    .with_help("write `for x in [\"a\", \"b\"]`, `for i in 1..4` or `for x in discover(\"command\")`"),
                );
                return Vec::new();
            }
        };
        // A list whose values were all reported as invalid is not reported as empty too.
        if values.is_empty() && !reported {
            self.diagnostics.push(
                Diagnostic::error(E0507, file, span, "this `for` makes no job")
                    .with_label("empty")
                    .with_help("give at least one value, or remove the job"),
            );
        }
        let mut seen: Vec<(String, Span)> = Vec::new();
        for (value, item_span) in values {
            if let Some((_, first)) = seen.iter().find(|(v, _)| v.eq_ignore_ascii_case(&value)) {
                self.diagnostics.push(
                    Diagnostic::error(E0508, file, item_span, format!("`{value}` appears twice in this `for`"))
                        .with_label("repeated here")
                        .with_secondary(file, *first, "first here")
                        .with_help("each value makes one job; remove the repeat"),
                );
                continue;
            }
            seen.push((value, item_span));
        }
        seen.into_iter().map(|(v, _)| v).collect()
    }

    fn job_instance(&mut self, file: FileId, block: &'a Block, scope: &Scope, name: String, at: Origin) -> Option<Job> {
        let ctx = self.body_of(block, TemplateKind::Job, file, scope)?;
        let job = self.job_body(name, at, &ctx);
        self.leave_template(block);
        Some(job)
    }

    fn job_body(&mut self, name: String, at: Origin, ctx: &Ctx<'a>) -> Job {
        let mut field_list = Vec::new();
        let mut env = Vec::new();
        let mut tasks = Vec::new();
        let mut artifacts: Vec<ArtifactDecl> = Vec::new();
        for member in ctx.members {
            match member {
                Member::Field(f) => field_list.push(&**f),
                Member::Block(b) if b.kind == BlockKind::Env => env.extend(self.env(ctx.file, b, &ctx.scope)),
                Member::Task(t) => tasks.extend(self.task(ctx.file, t, &ctx.scope)),
                Member::Artifact(a) => {
                    if let Some(artifact) = self.artifact(ctx.file, a, &ctx.scope) {
                        self.push_unique(&mut artifacts, artifact, "artifact", |a| (&a.name, a.origin), &name);
                    }
                }
                other => {
                    self.misplaced(ctx.file, other, "a job", "tasks (`run`, `fetch`), `artifact`, `env` and fields")
                }
            }
        }
        let never_times_out = take_never(&mut field_list);
        let mut eval = self.eval(ctx.file, &ctx.scope);
        let fields = fields::read(Owner::Job, &field_list, &mut eval, (at.file, at.name));
        let resources = fields.strings("resources", &mut eval).unwrap_or_default();
        let timeout_secs = fields.duration("timeout", &mut eval);
        let wait_limit_secs =
            fields.duration("wait_limit", &mut eval).unwrap_or(crate::plan::DEFAULT_WAIT_LIMIT_SECONDS);
        let estimate_secs = fields.duration("estimate", &mut eval);
        if !ctx.members.iter().any(|m| matches!(m, Member::Task(_)) || stands_in(m, BlockKind::Job)) {
            self.diagnostics.push(
                Diagnostic::error(E0206, at.file, at.name, format!("job `{name}` has no task"))
                    .with_label("a job runs its tasks in order, and this one has none")
                    .with_help("add `run \"command\"`"),
            );
        }
        Job {
            name,
            resources,
            timeout_secs,
            never_times_out,
            wait_limit_secs,
            estimate_secs,
            env,
            tasks: exact(tasks),
            artifacts,
            discover: None,
            instance_of: None,
            origin: at,
            template: ctx.template.clone(),
        }
    }

    fn task(&mut self, file: FileId, task: &'a ast::Task, scope: &Scope) -> Option<Task> {
        let at = origin(file, task.span, task.kind_span);
        let (action, dir) = match &task.kind {
            TaskKind::Run { command, dir } => {
                let dir = dir.as_ref().and_then(|d| self.run_dir(file, d, scope));
                (self.run(file, command, scope)?, dir)
            }
            TaskKind::Fetch { source, into } => {
                (self.fetch(file, source, into.as_ref(), scope, task.span.start)?, None)
            }
        };
        let option_fields: Vec<&ast::Field> = task.options.iter().collect();
        let mut eval = self.eval(file, scope);
        let fields = fields::read(Owner::Task, &option_fields, &mut eval, (file, task.kind_span));
        let when = match fields.word("when", &mut eval) {
            Some("failed") => When::Failed,
            Some("always") => When::Always,
            _ => When::Passed,
        };
        let estimate_secs = fields.duration("estimate", &mut eval);
        Some(Task { action, dir, when, estimate_secs, origin: at })
    }

    /// The folder of `run ... in "folder"`, normalised; `None` for the workspace itself.
    fn run_dir(&mut self, file: FileId, dir: &Expr, scope: &Scope) -> Option<String> {
        self.folder(file, dir, scope, PathUse::Dir).filter(|path| path != ".")
    }

    /// The folder an `into` or an `in` names, normalised ([`Self::workspace_path`]); `None` when it
    /// is not a string (reported).
    fn folder(&mut self, file: FileId, expr: &Expr, scope: &Scope, what: PathUse) -> Option<String> {
        match self.eval(file, scope).expr(expr) {
            Value::Str(s) => Some(self.workspace_path(file, expr.span, &s, what)),
            Value::Error => None,
            other => {
                let (keyword, example) = match what {
                    PathUse::Dir => ("in", "run \"command\" in \"folder\""),
                    _ => ("into", "into \"folder\""),
                };
                self.diagnostics.push(
                    Diagnostic::error(
                        E0202,
                        file,
                        expr.span,
                        format!("`{keyword}` takes a folder as a string, but this is {}", other.describe()),
                    )
                    .with_label("expected a string")
                    .with_help(format!("write `{example}`")),
                );
                None
            }
        }
    }

    fn run(&mut self, file: FileId, expr: &Expr, scope: &Scope) -> Option<Action> {
        match self.eval(file, scope).expr(expr) {
            Value::Str(s) if s.trim().is_empty() => {
                self.diagnostics.push(
                    Diagnostic::error(E0202, file, expr.span, "`run` has an empty command")
                        .with_label("nothing to run")
                        .with_help("write the command, or remove the task"),
                );
                None
            }
            Value::Str(s) => Some(Action::Shell(s)),
            Value::List(items) => self.argv(file, expr, items),
            Value::Error => None,
            other => {
                self.diagnostics.push(
                    Diagnostic::error(E0202, file, expr.span, format!("`run` takes a script or a list of strings, but this is {}", other.describe()))
                        .with_label("cannot run this")
                        .with_help("write `run \"script\"` to run through a shell, or `run [\"program\", \"arg\"]` to run without one"),
                );
                None
            }
        }
    }

    /// `run ["program", "arg", ...]`: a program and its arguments, each a string.
    fn argv(&mut self, file: FileId, expr: &Expr, items: Vec<Value>) -> Option<Action> {
        if items.is_empty() {
            self.diagnostics.push(
                Diagnostic::error(E0202, file, expr.span, "`run` has an empty list: no program to run")
                    .with_label("nothing to run")
                    .with_help("name the program and its arguments, as in `run [\"make\", \"test\"]`, or write a script: `run \"make test\"`"),
            );
            return None;
        }
        let spans: Vec<Span> = match &expr.kind {
            ExprKind::List(exprs) => exprs.iter().map(|e| e.span).collect(),
            _ => vec![expr.span; items.len()],
        };
        let count = items.len();
        let mut argv = Vec::with_capacity(count);
        for (i, (item, span)) in items.into_iter().zip(spans).enumerate() {
            match item {
                Value::Str(s) if i == 0 && s.trim().is_empty() => self.diagnostics.push(
                    Diagnostic::error(E0202, file, span, "the program of this `run` is empty")
                        .with_label("the first item is the program to run")
                        .with_help("name the program, as in `run [\"make\", \"test\"]`"),
                ),
                Value::Str(s) => argv.push(s),
                Value::Error => {}
                other => {
                    let mut d = Diagnostic::error(
                        E0202,
                        file,
                        span,
                        format!("`run` takes a list of strings, but this item is {}", other.describe()),
                    )
                    .with_label("expected a string")
                    .with_help("put the item in double quotes");
                    if let Value::Int(n) = other {
                        d = d.with_safe_replacement("quote it", format!("\"{n}\""));
                    }
                    self.diagnostics.push(d);
                }
            }
        }
        (argv.len() == count).then_some(Action::Exec(argv))
    }

    fn fetch(&mut self, file: FileId, source: &Expr, into: Option<&Expr>, scope: &Scope, key: usize) -> Option<Action> {
        let into = into.and_then(|expr| self.folder(file, expr, scope, PathUse::Into)).unwrap_or_else(|| ".".into());
        let ExprKind::Path(path) = &source.kind else {
            if source.kind != ExprKind::Error {
                self.diagnostics.push(
                    Diagnostic::error(
                        E0202,
                        file,
                        source.span,
                        format!("`fetch` takes a reference to an artifact, but this is {}", source.kind.describe()),
                    )
                    .with_label("expected `stage.job.artifact` or `pipeline.stage.job.artifact`")
                    .with_help("write the reference without quotes, as in `fetch compile.linux.webapp`"),
                );
            }
            return None;
        };
        let names: Vec<String> = path.iter().map(|i| i.name.clone()).collect();
        let (pipeline, rest) = match names.as_slice() {
            [s, j, a] => (self.pipeline.clone(), [s, j, a]),
            [p, s, j, a] => (p.clone(), [s, j, a]),
            _ => {
                self.diagnostics.push(
                    Diagnostic::error(E0202, file, source.span, format!("this reference has {} parts", names.len()))
                        .with_label("expected `stage.job.artifact` or `pipeline.stage.job.artifact`")
                        .with_help("name the stage, the job and the artifact it publishes; add the pipeline first to fetch from an upstream pipeline"),
                );
                return None;
            }
        };
        self.paths.insert((file, key), path.clone());
        Some(Action::Fetch(Box::new(Fetch {
            pipeline,
            stage: rest[0].clone(),
            job: rest[1].clone(),
            artifact: rest[2].clone(),
            into,
        })))
    }

    fn artifact(&mut self, file: FileId, a: &'a ast::Artifact, scope: &Scope) -> Option<ArtifactDecl> {
        let at = origin(file, a.span, a.name.span);
        let option_fields: Vec<&ast::Field> = a.options.iter().collect();
        let mut eval = self.eval(file, scope);
        let fields = fields::read(Owner::Artifact, &option_fields, &mut eval, (file, a.name.span));
        let kind = match fields.word("kind", &mut eval) {
            Some("report") => Some(ArtifactKind::Report),
            Some("deliverable") => Some(ArtifactKind::Deliverable),
            _ => None,
        };
        match eval.expr(&a.path) {
            Value::Str(p) => {
                let path = self.workspace_path(file, a.path.span, &p, PathUse::Artifact);
                Some(ArtifactDecl { name: a.name.name.clone(), path, kind, origin: at })
            }
            Value::Error => None,
            other => {
                self.diagnostics.push(
                    Diagnostic::error(
                        E0202,
                        file,
                        a.path.span,
                        format!("an artifact's path is a string, but this is {}", other.describe()),
                    )
                    .with_label("expected a path in the job's workspace")
                    .with_help("write `artifact NAME = \"path/to/file\"`"),
                );
                None
            }
        }
    }

    /// A path in a job's workspace, normalised: not empty, not absolute, and not leaving the
    /// workspace through `..` (the agent refuses such paths, so they are errors here already).
    /// An invalid path is reported and kept as written, so that nothing else fails because of it.
    fn workspace_path(&mut self, file: FileId, span: Span, path: &str, what: PathUse) -> String {
        let (subject, relative_to, example) = what.words();
        if path.trim().is_empty() {
            self.diagnostics.push(
                Diagnostic::error(E0202, file, span, format!("the {subject} is empty"))
                    .with_label(format!("expected a path relative to {relative_to}"))
                    .with_help(what.empty_help()),
            );
            return ".".to_string();
        }
        let trimmed = path.trim();
        let absolute = trimmed.starts_with('/');
        let up = trimmed.split('/').any(|c| c == "..");
        if !absolute && !up {
            return normalise_path(path);
        }
        let label = if absolute { "an absolute path".to_string() } else { format!("`..` leads out of {relative_to}") };
        self.diagnostics.push(
            Diagnostic::error(
                what.outside_code(),
                file,
                span,
                format!("{subject} `{trimmed}` is outside {relative_to}"),
            )
            .with_label(label)
            .with_note(format!(
                "{} is relative to {relative_to} and stays inside it: it is not absolute and has no `..`",
                what.a()
            ))
            .with_help(what.outside_help(example)),
        );
        trimmed.to_string()
    }

    fn env(&mut self, file: FileId, block: &'a Block, scope: &Scope) -> Vec<EnvVar> {
        let mut vars: Vec<EnvVar> = Vec::new();
        for member in block.body.members() {
            let Member::Field(f) = member else {
                self.misplaced(file, member, "an `env` block", "`NAME = \"value\"` lines");
                continue;
            };
            let value = match self.eval(file, scope).expr(&f.value) {
                Value::Str(s) => EnvValue::Literal(s),
                Value::Secret(s) => EnvValue::Secret(s),
                Value::Int(i) => EnvValue::Literal(i.to_string()),
                Value::Bool(b) => EnvValue::Literal(b.to_string()),
                Value::Error => continue,
                other => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            E0202,
                            file,
                            f.value.span,
                            format!(
                                "an environment variable takes a string or `secret(...)`, but this is {}",
                                other.describe()
                            ),
                        )
                        .with_label("expected a string")
                        .with_help("put the value in double quotes, or read it with `secret(\"name\")`"),
                    );
                    continue;
                }
            };
            let var = EnvVar {
                name: f.name.name.clone(),
                value,
                origin: origin(file, f.span, f.name.span),
                value_span: f.value.span,
            };
            self.push_unique(&mut vars, var, "environment variable", |v| (&v.name, v.origin), "this `env` block");
        }
        vars
    }

    /// Pushes `item` unless its name is taken in `list`, which is reported.
    fn push_unique<T>(
        &mut self,
        list: &mut Vec<T>,
        item: T,
        what: &str,
        key: impl Fn(&T) -> (&String, Origin),
        within: &str,
    ) {
        let (name, at) = key(&item);
        if let Some(first) = list.iter().find(|x| key(x).0.eq_ignore_ascii_case(name)) {
            let first = key(first).1;
            let ident = Ident { name: name.clone(), span: at.name };
            let within = if what == "environment variable" { within.to_string() } else { format!("`{within}`") };
            let mut d = duplicate(what, at.file, &ident, first.file, first.name, &within);
            if first.name == at.name && first.file == at.file {
                d = d.with_note("both come from the same definition: a `for` value or a template argument makes the same name twice");
            }
            self.diagnostics.push(d);
            return;
        }
        list.push(item);
    }

    fn only_fields<'m>(&mut self, file: FileId, members: &'m [Member], within: &str) -> Vec<&'m ast::Field> {
        let mut out = Vec::new();
        for member in members {
            match member {
                Member::Field(f) => out.push(&**f),
                other => self.misplaced(file, other, within, "fields"),
            }
        }
        out
    }

    fn misplaced(&mut self, file: FileId, member: &Member, within: &str, allowed: &str) {
        let what = match member {
            Member::Error(_) => return,
            Member::Field(_) => "a field".to_string(),
            Member::Task(_) => "a task".to_string(),
            Member::Artifact(_) => "an artifact".to_string(),
            Member::Block(b) if b.kind == BlockKind::Env => "an `env` block".to_string(),
            Member::Block(b) if b.kind == BlockKind::Template => "a template".to_string(),
            Member::Block(b) => format!("a {}", b.kind.keyword()),
        };
        let help = match member {
            Member::Task(_) | Member::Artifact(_) => "tasks and artifacts belong inside a job: `job NAME { ... }`",
            Member::Block(b) if b.kind == BlockKind::Job => "jobs belong inside a stage: `stage NAME { job ... }`",
            Member::Block(b) if b.kind == BlockKind::Stage => "stages belong inside a pipeline",
            Member::Block(b) if matches!(b.kind, BlockKind::Template | BlockKind::Material | BlockKind::Pipeline) => {
                "define it at the top level of a file"
            }
            _ => "move it to where it belongs, or remove it",
        };
        self.diagnostics.push(
            Diagnostic::error(E0207, file, header_span(member), format!("{what} cannot stand in {within}"))
                .with_label("misplaced")
                .with_note(format!("{within} holds {allowed}"))
                .with_help(help),
        );
    }

    /// Looks up the template a call names, checks its arguments, and returns its body in a scope of them.
    fn instantiate(
        &mut self,
        call: &'a TemplateCall,
        kind: TemplateKind,
        file: FileId,
        scope: &Scope,
    ) -> Option<Ctx<'a>> {
        let decl = *self.find_template(call, kind, file)?;
        let template_kind = template_kind(decl.block);
        if template_kind != Some(kind) {
            let made = template_kind.map_or("something else", TemplateKind::keyword);
            self.diagnostics.push(
                Diagnostic::error(
                    E0501,
                    file,
                    call.template.span,
                    format!("`{}` is a {made} template, not a {} template", decl.name.name, kind.keyword()),
                )
                .with_label(format!("used to make a {}", kind.keyword()))
                .with_secondary(decl.file, decl.name.span, format!("defined as `template {made}`"))
                .with_help(format!(
                    "use a `template {}`, or use `{}` where a {made} belongs",
                    kind.keyword(),
                    decl.name.name
                )),
            );
            return None;
        }
        self.refers.push(Use { file, span: call.template.span, symbol: decl.symbol });
        let key = decl.name.name.to_ascii_lowercase();
        if self.stack.len() >= MAX_TEMPLATE_DEPTH || self.stack.contains(&key) {
            let chain = self.stack.iter().chain(std::iter::once(&key)).cloned().collect::<Vec<_>>().join(" → ");
            self.diagnostics.push(
                Diagnostic::error(
                    E0505,
                    file,
                    call.template.span,
                    format!("template `{}` instantiates itself", decl.name.name),
                )
                .with_label("recursive use")
                .with_note(format!("the chain of templates is {chain}"))
                .with_help("a template cannot use itself, directly or through another template"),
            );
            return None;
        }
        let args = self.arguments(call, &decl, file, scope)?;
        *self.template_uses.entry(key.clone()).or_default() += 1;
        self.stack.push(key);
        let members = decl.block.body.members();
        Some(Ctx { file: decl.file, scope: args, template: Some(decl.name.name.clone()), members })
    }

    fn find_template(&mut self, call: &TemplateCall, kind: TemplateKind, file: FileId) -> Option<&'s Decl<'a>> {
        let found = self.declared.template(&call.template.name);
        if found.is_none() {
            let names: Vec<&str> = self.declared.templates.iter().map(|d| d.name.name.as_str()).collect();
            let mut d = Diagnostic::error(
                E0301,
                file,
                call.template.span,
                format!("no template named `{}`", call.template.name),
            )
            .with_label(format!("expected a {} template", kind.keyword()));
            if let Some(s) = did_you_mean(&call.template.name, names.iter().copied()) {
                d = d.with_suggestion(s);
            } else {
                d = d.with_help(format!(
                    "define it with `template {} {}(...) {{ ... }}`",
                    kind.keyword(),
                    call.template.name
                ));
            }
            self.diagnostics.push(d);
        }
        found
    }

    /// The template's parameters bound to the call's arguments (or their defaults).
    fn arguments(&mut self, call: &TemplateCall, decl: &Decl<'a>, file: FileId, scope: &Scope) -> Option<Scope> {
        let params = &decl.block.params;
        let mut bound = Scope { in_discover: scope.in_discover, ..Scope::default() };
        let mut ok = true;
        let mut given: Vec<&ast::Arg> = Vec::new();
        for arg in &call.args {
            let Some(param) = params.iter().find(|p| p.name.name.eq_ignore_ascii_case(&arg.name.name)) else {
                let names: Vec<&str> = params.iter().map(|p| p.name.name.as_str()).collect();
                let mut d = Diagnostic::error(
                    E0503,
                    file,
                    arg.name.span,
                    format!("template `{}` has no parameter `{}`", decl.name.name, arg.name.name),
                )
                .with_label("unknown argument")
                .with_note(format!("its parameters are {}", quote_list(&names)));
                if let Some(s) = did_you_mean(&arg.name.name, names.iter().copied()) {
                    d = d.with_suggestion(s);
                }
                self.diagnostics.push(d);
                ok = false;
                continue;
            };
            if let Some(first) = given.iter().find(|a| a.name.name.eq_ignore_ascii_case(&arg.name.name)) {
                // Two parameters of one name are reported at the template; arguments for both are
                // no further mistake.
                let declared_twice =
                    params.iter().filter(|p| p.name.name.eq_ignore_ascii_case(&arg.name.name)).count() > 1;
                if declared_twice {
                    continue;
                }
                self.diagnostics.push(
                    Diagnostic::error(
                        E0209,
                        file,
                        arg.name.span,
                        format!("argument `{}` is given twice", arg.name.name),
                    )
                    .with_label("given again here")
                    .with_secondary(file, first.name.span, "first given here")
                    .with_help("remove one of them"),
                );
                continue;
            }
            given.push(arg);
            let param_symbol = self.declared.symbol_at(decl.file, param.name.span);
            if let Some(sym) = param_symbol {
                self.refers.push(Use { file, span: arg.name.span, symbol: sym });
            }
            let value = self.eval(file, scope).expr(&arg.value);
            let Some(ty) = param_type(&param.ty) else {
                // The unknown type is reported at the template.
                bound = bound.with(&param.name.name, Binding::Unknown, param_symbol);
                continue;
            };
            if !value.has_type(ty) {
                self.diagnostics.push(
                    Diagnostic::error(
                        E0504,
                        file,
                        arg.value.span,
                        format!(
                            "`{}` is a {} parameter, but this argument is {}",
                            param.name.name,
                            ty.name(),
                            value.describe()
                        ),
                    )
                    .with_label(format!("expected {} {}", article(ty), ty.name()))
                    .with_secondary(decl.file, param.span, "declared here"),
                );
                ok = false;
                continue;
            }
            let binding = if scope.in_discover { Binding::Template(value) } else { Binding::Value(value) };
            bound = bound.with(&param.name.name, binding, param_symbol);
        }
        for param in params {
            if given.iter().any(|a| a.name.name.eq_ignore_ascii_case(&param.name.name)) {
                continue;
            }
            let symbol = self.declared.symbol_at(decl.file, param.name.span);
            match &param.default {
                Some(default) => {
                    let value = self.eval(decl.file, &Scope::default()).expr(default);
                    bound = bound.with(&param.name.name, Binding::Value(value), symbol);
                }
                None => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            E0502,
                            file,
                            call.template.span,
                            format!("template `{}` needs the argument `{}`", decl.name.name, param.name.name),
                        )
                        .with_label(format!("`{}` is missing", param.name.name))
                        .with_secondary(decl.file, param.span, "declared here without a default")
                        .with_help(format!("add `{} = ...` to the arguments", param.name.name)),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(bound)
    }

    /// Checks a template's own definition: parameter types and defaults, and its body with a
    /// placeholder for each parameter, so that a template nobody uses is checked too.
    pub(super) fn template(&mut self, decl: &Decl<'a>) {
        let mut scope = Scope::default();
        let mut seen: Vec<&Ident> = Vec::new();
        for param in &decl.block.params {
            if let Some(first) = seen.iter().find(|p| p.name.eq_ignore_ascii_case(&param.name.name)) {
                self.diagnostics.push(duplicate(
                    "parameter",
                    decl.file,
                    &param.name,
                    decl.file,
                    first.span,
                    &format!("template `{}`", decl.name.name),
                ));
                continue;
            }
            seen.push(&param.name);
            let symbol = self.declared.symbol_at(decl.file, param.name.span);
            let binding = match self.checked_param_type(decl.file, param) {
                Some(ty) => Binding::Value(Value::placeholder(ty, &param.name.name)),
                None => Binding::Unknown,
            };
            scope = scope.with(&param.name.name, binding, symbol);
        }
        let Some(kind) = template_kind(decl.block) else { return };
        let name = decl.name;
        let at = origin(decl.file, decl.block.span, name.span);
        let members = decl.block.body.members();
        let ctx = Ctx { file: decl.file, scope, template: Some(name.name.clone()), members };
        self.stack.push(name.name.to_ascii_lowercase());
        match kind {
            TemplateKind::Pipeline => {
                self.pipeline_body(name, at, ctx);
            }
            TemplateKind::Stage => {
                self.stage_body(name, at, ctx);
            }
            TemplateKind::Job => {
                self.job_body(name.name.clone(), at, &ctx);
            }
        }
        self.stack.pop();
    }

    fn checked_param_type(&mut self, file: FileId, param: &ast::Param) -> Option<ParamType> {
        let Some(ty) = param_type(&param.ty) else {
            let names = ["string", "int", "bool", "duration", "list"];
            let mut d =
                Diagnostic::error(E0202, file, param.ty.span, format!("unknown parameter type `{}`", param.ty.name))
                    .with_label("not a type")
                    .with_note(format!("the types are {}", quote_list(names)));
            if let Some(s) = did_you_mean(&param.ty.name, names) {
                d = d.with_suggestion(s);
            }
            self.diagnostics.push(d);
            return None;
        };
        if let Some(default) = &param.default {
            let value = self.eval(file, &Scope::default()).expr(default);
            if !value.has_type(ty) {
                self.diagnostics.push(
                    Diagnostic::error(
                        E0504,
                        file,
                        default.span,
                        format!(
                            "the default of `{}` is {}, but its type is {}",
                            param.name.name,
                            value.describe(),
                            ty.name()
                        ),
                    )
                    .with_label(format!("expected {} {}", article(ty), ty.name())),
                );
            }
        }
        Some(ty)
    }
}

/// Where a path is used: each is relative to a job's workspace.
#[derive(Clone, Copy)]
enum PathUse {
    /// `artifact NAME = "path"`
    Artifact,
    /// `fetch ... into "folder"`
    Into,
    /// A material's `path`, where it is checked out.
    Checkout,
    /// `run ... in "folder"`
    Dir,
}

impl PathUse {
    /// What the path is, what it is relative to, and an example of a good one.
    fn words(self) -> (&'static str, &'static str, &'static str) {
        match self {
            PathUse::Artifact => ("artifact path", "the job's workspace", "target/release/app"),
            PathUse::Into => ("`into` folder", "the job's workspace", "deps"),
            PathUse::Checkout => ("checkout path", "each job's workspace", "app"),
            PathUse::Dir => ("working folder", "the job's workspace", "services/api"),
        }
    }

    /// The code of a path outside the workspace: the working folder of a task has its own.
    fn outside_code(self) -> crate::codes::Code {
        match self {
            PathUse::Dir => E0210,
            _ => E0208,
        }
    }

    /// The kind of path with its article, for notes.
    fn a(self) -> &'static str {
        match self {
            PathUse::Artifact => "an artifact path",
            PathUse::Into => "an `into` folder",
            PathUse::Checkout => "a material's `path`",
            PathUse::Dir => "a task's working folder (`in`)",
        }
    }

    fn empty_help(self) -> String {
        match self {
            PathUse::Artifact => {
                "write the file or folder to publish, as in `artifact app = \"target/release/app\"`".into()
            }
            PathUse::Into => {
                "remove `into` to fetch into the workspace itself, or name a folder, as in `into \"deps\"`".into()
            }
            PathUse::Checkout => {
                "remove `path` to check out at the root of the workspace, or name a folder, as in `path = \"app\"`"
                    .into()
            }
            PathUse::Dir => {
                "remove `in` to run in the workspace itself, or name a folder, as in `in \"services/api\"`".into()
            }
        }
    }

    fn outside_help(self, example: &str) -> String {
        match self {
            PathUse::Artifact => format!(
                "publish a path inside the workspace, such as `\"{example}\"`; to publish a file from elsewhere, copy it into the workspace in a task first"
            ),
            PathUse::Into => format!(
                "fetch into a folder of the workspace, such as `into \"{example}\"`; to use the artifact elsewhere, copy it there in a task"
            ),
            PathUse::Checkout => format!("check out into a folder of the workspace, such as `path = \"{example}\"`"),
            PathUse::Dir => format!(
                "run in a folder of the workspace, such as `in \"{example}\"`; a program elsewhere on the agent is still reachable by its absolute path in the command"
            ),
        }
    }
}

/// A `timeout` that says the job never times out (GoCD's `timeout: 0`), taken out of the
/// fields: it is no duration, and only the GoCD front end writes it.
fn take_never(fields: &mut Vec<&ast::Field>) -> Option<Span> {
    let at = fields.iter().position(|f| f.name.name == "timeout" && f.value.kind == ExprKind::Never)?;
    Some(fields.remove(at).value.span)
}

/// `list` without room to grow: a program holds many small lists for as long as it lives.
fn exact<T>(mut list: Vec<T>) -> Vec<T> {
    list.shrink_to_fit();
    list
}

fn is_block(member: &Member, kind: BlockKind) -> bool {
    matches!(member, Member::Block(b) if b.kind == kind)
}

/// Whether a member of a `within` block, already reported, may stand for the stage, job or task
/// that seems to be missing, which is then not reported too: text the parser could not read (a
/// misspelt `stgae s { ... }`), or what belongs one level deeper (a task written in a stage, a job
/// in a pipeline).
fn stands_in(member: &Member, within: BlockKind) -> bool {
    match member {
        Member::Error(_) => true,
        Member::Task(_) | Member::Artifact(_) => matches!(within, BlockKind::Pipeline | BlockKind::Stage),
        Member::Block(b) => within == BlockKind::Pipeline && b.kind == BlockKind::Job,
        Member::Field(_) => false,
    }
}

fn article(ty: ParamType) -> &'static str {
    match ty {
        ParamType::Int => "an",
        _ => "a",
    }
}

pub(super) fn param_type(ty: &Ident) -> Option<ParamType> {
    match ty.name.to_ascii_lowercase().as_str() {
        "string" => Some(ParamType::String),
        "int" => Some(ParamType::Int),
        "bool" => Some(ParamType::Bool),
        "duration" => Some(ParamType::Duration),
        "list" => Some(ParamType::List),
        _ => None,
    }
}

pub(super) fn template_kind(block: &Block) -> Option<TemplateKind> {
    match block.template_of.map(|(k, _)| k) {
        Some(BlockKind::Pipeline) => Some(TemplateKind::Pipeline),
        Some(BlockKind::Stage) => Some(TemplateKind::Stage),
        Some(BlockKind::Job) => Some(TemplateKind::Job),
        _ => None,
    }
}

/// `4..1`: a range counts up, so this one would make no job.
fn reversed_range(file: FileId, span: Span, a: i64, b: i64) -> Diagnostic {
    let upward = format!("{b}..{a}");
    let fix = Fix {
        message: format!("write `{upward}`"),
        applicability: Applicability::Unsafe,
        edits: vec![Edit { file, span, replacement: upward.clone() }],
    };
    Diagnostic::error(E0510, file, span, format!("the range `{a}..{b}` counts down, so it makes no job"))
        .with_label(format!("{a} is past {b}"))
        .with_note("a range `a..b` counts up from `a` to `b`, both included")
        .with_help(format!("write `{upward}`, the same values counted up"))
        .with_fix(fix)
}

pub(super) fn origin(file: FileId, span: Span, name: Span) -> Origin {
    Origin { file, span, name }
}

/// `./bin/` → `bin`; the empty path and `./` → `.`.
pub(super) fn normalise_path(path: &str) -> String {
    let trimmed = path.trim().trim_start_matches("./").trim_end_matches('/');
    if trimmed.is_empty() {
        ".".to_string()
    } else {
        trimmed.to_string()
    }
}
