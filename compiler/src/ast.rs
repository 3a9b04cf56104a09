//! The syntax tree of one `.pw` file. Every node has a byte span; the parser builds it, the
//! checker, formatter, linter and language server read it.
//!
//! The tree is uniform: a file, a pipeline, a stage, a job, a material and an `env` block all hold
//! a list of [`Member`]s. Which members may stand where is the checker's business, so that a
//! misplaced one gets a message that says where it belongs instead of a bare syntax error.

use crate::source::Span;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct File {
    pub members: Vec<Member>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Member {
    /// `name = value`
    Field(Box<Field>),
    /// `material x { }`, `pipeline x { }`, `stage x = t(...)`, `env { }`, `template job t(...) { }`, ...
    /// Boxed, as the other members are far smaller: a body's vector of members holds each one
    /// at the size of the largest.
    Block(Box<Block>),
    /// `run ...` or `fetch ...`
    Task(Box<Task>),
    /// `artifact name = "path"`
    Artifact(Box<Artifact>),
    /// Text the parser skipped while recovering from a syntax error.
    Error(Span),
}

impl Member {
    pub fn block(block: Block) -> Member {
        Member::Block(Box::new(block))
    }

    pub fn task(task: Task) -> Member {
        Member::Task(Box::new(task))
    }

    pub fn field(field: Field) -> Member {
        Member::Field(Box::new(field))
    }

    pub fn artifact(artifact: Artifact) -> Member {
        Member::Artifact(Box::new(artifact))
    }

    pub fn span(&self) -> Span {
        match self {
            Member::Field(f) => f.span,
            Member::Block(b) => b.span,
            Member::Task(t) => t.span,
            Member::Artifact(a) => a.span,
            Member::Error(s) => *s,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockKind {
    Material,
    Pipeline,
    Stage,
    Job,
    Env,
    Template,
}

impl BlockKind {
    pub fn keyword(self) -> &'static str {
        match self {
            BlockKind::Material => "material",
            BlockKind::Pipeline => "pipeline",
            BlockKind::Stage => "stage",
            BlockKind::Job => "job",
            BlockKind::Env => "env",
            BlockKind::Template => "template",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub kind: BlockKind,
    pub kind_span: Span,
    /// For `template job t(...)`: the kind of entity the template makes (`job`), and its span.
    pub template_of: Option<(BlockKind, Span)>,
    /// Absent for `env` blocks, and where a syntax error left it out.
    pub name: Option<Ident>,
    /// Template parameters, for `template ... t(params)`.
    pub params: Vec<Param>,
    /// `for server in [...]` on a job.
    pub fan_out: Option<Box<ForClause>>,
    pub body: Body,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// `{ members }`; the span covers the braces.
    Members { members: Vec<Member>, span: Span },
    /// `= template(args)`
    Instance(Box<TemplateCall>),
    /// A syntax error left the body out.
    Missing,
}

impl Body {
    pub fn members(&self) -> &[Member] {
        match self {
            Body::Members { members, .. } => members,
            _ => &[],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TemplateCall {
    pub template: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

/// `name = value` in a template call.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `name: type` or `name: type = default` in a template's signature.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: Ident,
    pub default: Option<Expr>,
    pub span: Span,
}

/// `for var in source`
#[derive(Clone, Debug, PartialEq)]
pub struct ForClause {
    pub var: Ident,
    pub source: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub kind: TaskKind,
    pub kind_span: Span,
    /// `{ when = failed }` after the task; its fields.
    pub options: Vec<Field>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TaskKind {
    /// `run "script"` (through a shell) or `run ["argv", ...]` (no shell), and `in "folder"`: the
    /// folder of the workspace it runs in.
    Run { command: Expr, dir: Option<Expr> },
    /// `fetch stage.job.artifact [into "dir"]`
    Fetch { source: Expr, into: Option<Expr> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
    pub name: Ident,
    pub path: Expr,
    /// `{ kind = report }` after the path; its fields.
    pub options: Vec<Field>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Str(StrLit),
    Int(i64),
    Bool(bool),
    /// In seconds.
    Duration(u64),
    List(Vec<Expr>),
    /// `manual`, `build.compile.linux.webapp`: an enum word or a dotted reference.
    Path(Vec<Ident>),
    /// `secret("name")`, `discover("command")`
    Call(Box<Call>),
    /// `1..4`: from the first up to, not including, the second.
    Range(i64, i64),
    /// No limit, chosen explicitly: GoCD's `timeout: 0`. Only the GoCD front end writes it;
    /// `.pw` has no word for it (a `.pw` job without a `timeout` simply has none).
    Never,
    /// A value the parser could not read; already reported.
    Error,
}

impl ExprKind {
    /// What kind of value this is, in words, for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            ExprKind::Str(_) => "a string",
            ExprKind::Int(_) => "a number",
            ExprKind::Bool(_) => "a boolean",
            ExprKind::Duration(_) => "a duration",
            ExprKind::List(_) => "a list",
            ExprKind::Path(p) if p.len() == 1 => "a word",
            ExprKind::Path(_) => "a reference",
            ExprKind::Call(_) => "a call",
            ExprKind::Range(..) => "a range",
            ExprKind::Never => "no limit",
            ExprKind::Error => "an invalid value",
        }
    }
}

/// A string literal, escapes decoded, split at its `#{name}` interpolations.
/// A call: `secret("name")`.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub name: Ident,
    pub args: Vec<Expr>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct StrLit {
    pub parts: Vec<StrPart>,
    /// Written with `"""`.
    pub multiline: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StrPart {
    Text(String),
    /// `#{name}`: the span is the name's.
    Interp(Ident),
}

impl StrLit {
    pub fn plain(text: impl Into<String>) -> Self {
        StrLit { parts: vec![StrPart::Text(text.into())], multiline: false }
    }

    /// The text with each interpolation written back as `#{name}`.
    #[cfg(test)]
    pub(crate) fn template_text(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                StrPart::Text(t) => out.push_str(t),
                StrPart::Interp(id) => {
                    out.push_str("#{");
                    out.push_str(&id.name);
                    out.push('}');
                }
            }
        }
        out
    }
}
