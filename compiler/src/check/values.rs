//! Values of expressions: evaluation under a scope of template parameters and `for` variables,
//! string interpolation, and the checks that a value has the type a field wants.

use crate::ast::{Expr, ExprKind, Ident, StrLit, StrPart};
use crate::codes::Code::{E0202, E0301, E0506};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::fan_out::Template;
use crate::model::ParamType;
use crate::source::{FileId, Span};
use crate::symbols::SymbolId;
use crate::words::quote_list;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    /// Seconds.
    Duration(u64),
    List(Vec<Value>),
    /// A dotted path or a single word, as written.
    Path(Vec<Ident>),
    Secret(String),
    Discover(String),
    Range(i64, i64),
    /// Already reported.
    Error,
}

impl Value {
    pub(super) fn describe(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Duration(_) => "a duration",
            Value::List(_) => "a list",
            Value::Path(p) if p.len() == 1 => "a word",
            Value::Path(_) => "a reference",
            Value::Secret(_) => "a secret",
            Value::Discover(_) => "a `discover(...)`",
            Value::Range(..) => "a range",
            Value::Error => "an invalid value",
        }
    }

    /// Whether the value is or holds an invalid value, already reported: a type error about it
    /// would only repeat that.
    pub(super) fn has_error(&self) -> bool {
        match self {
            Value::Error => true,
            Value::List(items) => items.iter().any(Value::has_error),
            _ => false,
        }
    }

    /// The value as it stands in the text of a `discover` job: its strings as literal template text.
    fn escaped(&self) -> Value {
        match self {
            Value::Str(s) => {
                let mut text = Template::new(true);
                text.literal(s);
                Value::Str(text.finish())
            }
            Value::List(items) => Value::List(items.iter().map(Value::escaped).collect()),
            other => other.clone(),
        }
    }

    /// The value as text for interpolation.
    pub(super) fn to_text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Duration(d) => format!("{d}s"),
            Value::List(items) => items.iter().map(Value::to_text).collect::<Vec<_>>().join(" "),
            Value::Path(p) => p.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join("."),
            Value::Secret(_) | Value::Discover(_) | Value::Range(..) | Value::Error => String::new(),
        }
    }

    pub(super) fn has_type(&self, ty: ParamType) -> bool {
        matches!(
            (self, ty),
            (Value::Str(_), ParamType::String)
                | (Value::Int(_), ParamType::Int)
                | (Value::Bool(_), ParamType::Bool)
                | (Value::Duration(_), ParamType::Duration)
                | (Value::List(_), ParamType::List)
                | (Value::Error, _)
        )
    }

    /// A value of the type, standing for any argument when a template is checked on its own.
    pub(super) fn placeholder(ty: ParamType, name: &str) -> Value {
        match ty {
            ParamType::String => Value::Str(name.to_string()),
            ParamType::Int => Value::Int(1),
            ParamType::Bool => Value::Bool(true),
            ParamType::Duration => Value::Duration(60),
            ParamType::List => Value::List(vec![Value::Str(name.to_string())]),
        }
    }
}

/// What a name in scope stands for.
#[derive(Clone, Debug)]
pub(super) enum Binding {
    Value(Value),
    /// A `discover(...)` variable: known only when the stage starts, so kept as `#{name}`.
    Dynamic,
    /// An argument given inside a `discover` job: its strings are already template text (see
    /// [`crate::fan_out`]), which may hold the variable.
    Template(Value),
    /// A template parameter whose type is unknown (reported): declared, so its uses are no
    /// error, but its value is nothing to check against.
    Unknown,
}

#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub name: String,
    pub binding: Binding,
    pub symbol: Option<SymbolId>,
}

/// Template parameters and `for` variables visible at a point of the source.
#[derive(Clone, Debug, Default)]
pub(super) struct Scope {
    pub entries: Vec<Entry>,
    /// Whether this is inside a `discover` job, directly or through a template it uses: the
    /// texts made here are templates.
    pub in_discover: bool,
}

impl Scope {
    pub(super) fn with(&self, name: &str, binding: Binding, symbol: Option<SymbolId>) -> Scope {
        let mut next = self.clone();
        next.in_discover |= matches!(binding, Binding::Dynamic);
        next.entries.push(Entry { name: name.to_string(), binding, symbol });
        next
    }

    pub(super) fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.name.eq_ignore_ascii_case(name))
    }
}

/// A use of a scope entry, for references and for counting parameter uses.
#[derive(Clone, Copy, Debug)]
pub(super) struct Use {
    pub file: FileId,
    pub span: Span,
    pub symbol: SymbolId,
}

/// Evaluates expressions of one file under one scope, collecting diagnostics and uses.
pub(super) struct Eval<'a> {
    pub file: FileId,
    pub scope: &'a Scope,
    pub diagnostics: &'a mut Vec<Diagnostic>,
    pub uses: &'a mut Vec<Use>,
}

impl Eval<'_> {
    pub(super) fn expr(&mut self, expr: &Expr) -> Value {
        match &expr.kind {
            ExprKind::Str(lit) => Value::Str(self.string(lit)),
            ExprKind::Int(i) => Value::Int(*i),
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Duration(d) => Value::Duration(*d),
            ExprKind::List(items) => Value::List(items.iter().map(|e| self.expr(e)).collect()),
            ExprKind::Path(path) => self.path(path),
            ExprKind::Call(call) => self.call(&call.name, &call.args, expr.span),
            ExprKind::Range(a, b) => Value::Range(*a, *b),
            // Taken out of a job's fields before they are read: it is no value of `.pw`.
            ExprKind::Never => Value::Error,
            ExprKind::Error => Value::Error,
        }
    }

    /// A single word naming a parameter or `for` variable stands for its value.
    fn path(&mut self, path: &[Ident]) -> Value {
        if let [word] = path {
            if let Some(entry) = self.scope.get(&word.name) {
                self.record(entry.symbol, word.span);
                return match &entry.binding {
                    Binding::Value(v) if self.scope.in_discover => v.escaped(),
                    Binding::Value(v) => v.clone(),
                    Binding::Dynamic => {
                        let mut text = Template::new(true);
                        text.placeholder(&entry.name);
                        Value::Str(text.finish())
                    }
                    Binding::Template(v) => v.clone(),
                    Binding::Unknown => Value::Error,
                };
            }
        }
        Value::Path(path.to_vec())
    }

    fn call(&mut self, name: &Ident, args: &[Expr], span: Span) -> Value {
        let known = ["secret", "discover"];
        let lower = name.name.to_ascii_lowercase();
        if !known.contains(&lower.as_str()) {
            let mut d = Diagnostic::error(E0301, self.file, name.span, format!("unknown function `{}`", name.name))
                .with_label("not a function")
                .with_note("the functions are `secret(\"name\")` and `discover(\"command\")`");
            if let Some(s) = did_you_mean(&name.name, known) {
                d = d.with_suggestion(s);
            }
            self.diagnostics.push(d);
            return Value::Error;
        }
        let values: Vec<Value> = args.iter().map(|a| self.expr(a)).collect();
        match values.as_slice() {
            [Value::Str(s)] if !s.trim().is_empty() => {
                if lower == "secret" {
                    Value::Secret(s.clone())
                } else {
                    Value::Discover(s.clone())
                }
            }
            [Value::Error] => Value::Error,
            _ => {
                let what = if lower == "secret" { "the secret's name" } else { "the command to run" };
                self.diagnostics.push(
                    Diagnostic::error(E0202, self.file, span, format!("`{lower}` takes one non-empty string"))
                        .with_label(format!("expected {what} as one string"))
                        .with_help(format!("write `{lower}(\"...\")`")),
                );
                Value::Error
            }
        }
    }

    /// The text of a string with its interpolations resolved; in a `discover` job, a template
    /// whose `#{var}` the runtime fills in (see [`crate::fan_out`]).
    pub(super) fn string(&mut self, lit: &StrLit) -> String {
        let mut out = Template::new(self.scope.in_discover);
        for part in &lit.parts {
            match part {
                StrPart::Text(t) => out.literal(t),
                StrPart::Interp(id) => self.interpolate(id, &mut out),
            }
        }
        out.finish()
    }

    fn interpolate(&mut self, id: &Ident, out: &mut Template) {
        let Some(entry) = self.scope.get(&id.name) else {
            self.unknown_interpolation(id);
            return;
        };
        self.record(entry.symbol, id.span);
        match &entry.binding {
            Binding::Value(v) => out.literal(&v.to_text()),
            Binding::Template(v) => out.template(&v.to_text()),
            Binding::Dynamic | Binding::Unknown => out.placeholder(&entry.name),
        }
    }

    fn unknown_interpolation(&mut self, id: &Ident) {
        let names: Vec<&str> = self.scope.entries.iter().map(|e| e.name.as_str()).collect();
        let mut d = Diagnostic::error(E0506, self.file, id.span, format!("unknown name `{}` in `#{{...}}`", id.name))
            .with_label("no template parameter or `for` variable has this name");
        d = match did_you_mean(&id.name, names.iter().copied()) {
            Some(s) => d.with_suggestion(s),
            None if names.is_empty() => d.with_help(format!(
                "`#{{...}}` reads template parameters and `for` variables; for a shell variable write `${{{}}}`",
                id.name
            )),
            None => d.with_help(format!("the names in scope here are {}", quote_list(&names))),
        };
        self.diagnostics.push(d);
    }

    fn record(&mut self, symbol: Option<SymbolId>, span: Span) {
        if let Some(symbol) = symbol {
            self.uses.push(Use { file: self.file, span, symbol });
        }
    }
}
