//! Reading the fields of one block against the [`schema`](crate::schema): unknown fields, fields
//! given twice, missing required ones, and typed values.

use super::values::{Eval, Value};
use crate::ast::{Field, Ident};
use crate::codes::Code::{E0201, E0202, E0203, E0208, E0209};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::parser::format_duration;
use crate::schema::{self, FieldSpec, FieldType, Owner};
use crate::source::{FileId, Span};
use crate::words::plural;

/// The known fields of one block, each with its value.
pub(super) struct Fields<'f> {
    pub values: Vec<(&'static FieldSpec, &'f Field, Value)>,
}

/// Evaluates `fields` as fields of `owner`.
pub(super) fn read<'f>(owner: Owner, fields: &[&'f Field], eval: &mut Eval, head: (FileId, Span)) -> Fields<'f> {
    let mut values: Vec<(&'static FieldSpec, &'f Field, Value)> = Vec::new();
    for &field in fields {
        let Some(spec) = schema::lookup(owner, &field.name.name) else {
            eval.diagnostics.push(unknown(owner, eval.file, &field.name));
            continue;
        };
        if let Some((_, first, _)) = values.iter().find(|(s, _, _)| s.name == spec.name) {
            eval.diagnostics.push(
                Diagnostic::error(E0209, eval.file, field.name.span, format!("field `{}` is given twice", spec.name))
                    .with_label("given again here")
                    .with_secondary(eval.file, first.span, "first given here")
                    .with_help("remove one of them"),
            );
            continue;
        }
        let value = eval.expr(&field.value);
        values.push((spec, field, value));
    }
    for spec in schema::fields(owner).filter(|s| s.required) {
        if !values.iter().any(|(s, _, _)| s.name == spec.name) {
            eval.diagnostics.push(
                Diagnostic::error(
                    E0203,
                    head.0,
                    head.1,
                    format!("{} needs the field `{}`", owner.describe(), spec.name),
                )
                .with_label(format!("`{}` is missing", spec.name))
                .with_note(spec.doc)
                .with_help(format!("add `{} = ...`: {}", spec.name, spec.ty.describe())),
            );
        }
    }
    Fields { values }
}

fn unknown(owner: Owner, file: FileId, name: &Ident) -> Diagnostic {
    let known: Vec<&str> = schema::fields(owner).map(|s| s.name).collect();
    let mut d =
        Diagnostic::error(E0201, file, name.span, format!("unknown field `{}` in {}", name.name, owner.describe()))
            .with_label("not a field here");
    if let Some(s) = did_you_mean(&name.name, known.iter().copied()) {
        d = d.with_suggestion(s);
    } else if let Some(other) =
        [Owner::Material, Owner::Pipeline, Owner::Stage, Owner::Job, Owner::Task, Owner::Artifact]
            .into_iter()
            .find(|&o| o != owner && schema::lookup(o, &name.name).is_some())
    {
        d = d.with_help(format!("`{}` is a field of {}", name.name, other.describe()));
    }
    d.with_note(format!("the fields of {} are {}", owner.describe(), crate::words::quote_list(&known)))
}

impl<'f> Fields<'f> {
    fn get(&self, name: &str) -> Option<(&'static FieldSpec, &'f Field, &Value)> {
        self.values.iter().find(|(s, _, _)| s.name == name).map(|(s, f, v)| (*s, *f, v))
    }

    /// The span of a field's value, if given.
    pub(super) fn span(&self, name: &str) -> Option<Span> {
        self.get(name).map(|(_, f, _)| f.value.span)
    }

    pub(super) fn string(&self, name: &str, eval: &mut Eval) -> Option<String> {
        let (spec, field, value) = self.get(name)?;
        match value {
            Value::Str(s) => Some(s.clone()),
            other => mismatch(eval, spec, field, other),
        }
    }

    /// A string that means nothing when empty, such as `git` or `branch`: an empty one (or only
    /// spaces) is reported, with `what` saying what to write instead.
    pub(super) fn non_empty_string(&self, name: &str, eval: &mut Eval, what: &str) -> Option<String> {
        let value = self.string(name, eval)?;
        if !value.trim().is_empty() {
            return Some(value);
        }
        let (spec, field, _) = self.get(name)?;
        eval.diagnostics.push(
            Diagnostic::error(E0202, eval.file, field.value.span, format!("`{}` is empty", spec.name))
                .with_label(format!("expected {what}"))
                .with_note(spec.doc)
                .with_help(match spec.default {
                    Some(default) => format!("write {what}, or remove `{}` for the default `{default}`", spec.name),
                    None => format!("write {what}"),
                }),
        );
        None
    }

    pub(super) fn int(&self, name: &str, eval: &mut Eval) -> Option<(i64, Span)> {
        let (spec, field, value) = self.get(name)?;
        match value {
            Value::Int(i) => Some((*i, field.value.span)),
            other => mismatch(eval, spec, field, other),
        }
    }

    pub(super) fn bool(&self, name: &str, eval: &mut Eval) -> Option<bool> {
        let (spec, field, value) = self.get(name)?;
        match value {
            Value::Bool(b) => Some(*b),
            other => mismatch(eval, spec, field, other),
        }
    }

    /// A duration of at least one second.
    pub(super) fn duration(&self, name: &str, eval: &mut Eval) -> Option<u64> {
        let (spec, field, value) = self.get(name)?;
        match value {
            Value::Duration(0) => {
                eval.diagnostics.push(below_one(eval.file, field, "`1s`", "a duration of at least `1s`"));
                None
            }
            Value::Duration(d) => Some(*d),
            Value::Int(i) if *i > 0 => {
                eval.diagnostics.push(
                    Diagnostic::error(E0202, eval.file, field.value.span, format!("`{}` needs units", spec.name))
                        .with_label("a number without units")
                        .with_help(format!(
                            "write `{}` for {} or `{}` for {}",
                            format_duration(*i as u64),
                            plural(*i as u64, "second"),
                            format_duration(*i as u64 * 60),
                            plural(*i as u64, "minute"),
                        )),
                );
                None
            }
            other => mismatch(eval, spec, field, other),
        }
    }

    pub(super) fn strings(&self, name: &str, eval: &mut Eval) -> Option<Vec<String>> {
        let (spec, field, value) = self.get(name)?;
        let Value::List(items) = value else { return mismatch(eval, spec, field, value) };
        let mut out = Vec::new();
        for (item, expr) in items.iter().zip(list_items(field)) {
            match item {
                Value::Str(s) if s.trim().is_empty() => eval.diagnostics.push(
                    Diagnostic::error(E0202, eval.file, expr, format!("an entry of `{}` is empty", spec.name))
                        .with_label(if s.is_empty() { "an empty string" } else { "only spaces" })
                        .with_note(spec.doc)
                        .with_help("write a value, or remove the entry"),
                ),
                Value::Str(s) => out.push(s.clone()),
                other if other.has_error() => {}
                other => {
                    let mut d = Diagnostic::error(
                        E0202,
                        eval.file,
                        expr,
                        format!("`{}` takes strings, but this is {}", spec.name, other.describe()),
                    )
                    .with_label("expected a string")
                    .with_help("put the value in double quotes");
                    if let Value::Path(p) = other {
                        d = d.with_safe_replacement("quote it", format!("\"{}\"", path_text(p)));
                    }
                    eval.diagnostics.push(d);
                }
            }
        }
        Some(out)
    }

    /// One of the words of an enum field.
    pub(super) fn word(&self, name: &str, eval: &mut Eval) -> Option<&'static str> {
        let (spec, field, value) = self.get(name)?;
        let FieldType::Enum(words) = spec.ty else { return None };
        if let Value::Path(p) = value {
            if let [w] = p.as_slice() {
                if let Some(found) = words.iter().find(|x| x.eq_ignore_ascii_case(&w.name)) {
                    return Some(found);
                }
                let mut d = Diagnostic::error(
                    E0202,
                    eval.file,
                    w.span,
                    format!("`{}` is not a value of `{}`", w.name, spec.name),
                )
                .with_label(format!("expected {}", spec.ty.describe()))
                .with_note(spec.doc);
                if let Some(s) = did_you_mean(&w.name, words.iter().copied()) {
                    d = d.with_suggestion(s);
                }
                eval.diagnostics.push(d);
                return None;
            }
        }
        mismatch(eval, spec, field, value)
    }

    /// The items of a list field that must be references (single words or dotted paths).
    pub(super) fn paths(&self, name: &str, eval: &mut Eval) -> Vec<(Vec<Ident>, Span)> {
        let Some((spec, field, value)) = self.get(name) else { return Vec::new() };
        let Value::List(items) = value else {
            mismatch::<()>(eval, spec, field, value);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (item, span) in items.iter().zip(list_items(field)) {
            match item {
                Value::Path(p) => out.push((p.clone(), span)),
                other if other.has_error() => {}
                other => eval.diagnostics.push(
                    Diagnostic::error(
                        E0202,
                        eval.file,
                        span,
                        format!("`{}` takes names, but this is {}", spec.name, other.describe()),
                    )
                    .with_label(format!("expected {}", spec.ty.describe()))
                    .with_help("write the name without quotes"),
                ),
            }
        }
        out
    }
}

/// The span of each item of a list field: the item's own, or the whole value's where the list
/// came from a template parameter.
fn list_items(field: &Field) -> impl Iterator<Item = Span> + '_ {
    let items: &[crate::ast::Expr] = match &field.value.kind {
        crate::ast::ExprKind::List(items) => items,
        _ => &[],
    };
    items.iter().map(|e| e.span).chain(std::iter::repeat(field.value.span))
}

fn mismatch<T>(eval: &mut Eval, spec: &FieldSpec, field: &Field, value: &Value) -> Option<T> {
    if !value.has_error() {
        let mut d = Diagnostic::error(
            E0202,
            eval.file,
            field.value.span,
            format!("`{}` takes {}, but this is {}", spec.name, spec.ty.describe(), value.describe()),
        )
        .with_label(format!("expected {}", spec.ty.describe()));
        if let (FieldType::String, Value::Path(p)) = (spec.ty, value) {
            let quoted = format!("\"{}\"", path_text(p));
            d = d.with_help(format!("put it in double quotes: `{quoted}`")).with_safe_replacement("quote it", quoted);
        } else {
            d = d.with_note(spec.doc);
        }
        eval.diagnostics.push(d);
    }
    None
}

/// `max_instances = 0`, `timeout = 0s`: `least` is the smallest value as written (`1`, `` `1s` ``).
pub(super) fn below_one(file: FileId, field: &Field, least: &str, want: &str) -> Diagnostic {
    Diagnostic::error(E0208, file, field.value.span, format!("`{}` must be at least {least}", field.name.name))
        .with_label(format!("expected {want}"))
        .with_help(format!("remove `{}` for the default, or give {want}", field.name.name))
}

impl Fields<'_> {
    /// A positive number, such as `max_instances`.
    pub(super) fn positive(&self, name: &str, eval: &mut Eval) -> Option<u32> {
        let (value, _) = self.int(name, eval)?;
        if value >= 1 {
            return Some(value.min(u32::MAX as i64) as u32);
        }
        let (_, field, _) = self.get(name)?;
        eval.diagnostics.push(below_one(eval.file, field, "1", "a number of at least 1"));
        None
    }
}

fn path_text(path: &[Ident]) -> String {
    path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(".")
}
