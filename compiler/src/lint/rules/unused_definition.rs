//! L0010 `unused-definition`.

use super::super::edit;
use super::super::{Context, Sink};
use crate::ast::{Body, Member};
use crate::diagnostic::{Applicability, Edit, Fix};
use crate::source::{FileId, SourceFile, Span};

declare_rule! {
    /// ## What it does
    /// Finds materials that no pipeline uses, templates that nothing instantiates, and
    /// template parameters that the template's body never uses.
    ///
    /// ## Why is this bad?
    /// An unused material is still polled by the server for new commits; an unused template or
    /// parameter is code that readers must understand and keep working for nothing. A parameter
    /// the body ignores is often a mistake: the caller thinks it changes something.
    ///
    /// ## Example
    /// ```pw
    /// material docs { git = "https://git.example.com/acme/docs.git" }
    ///
    /// template job cargo(cmd: string, toolchain: string = "stable") {
    ///   timeout = 20m
    ///   run "cargo #{cmd}"
    /// }
    ///
    /// pipeline build {
    ///   stage test {
    ///     job unit = cargo(cmd = "test")
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// template job cargo(cmd: string) {
    ///   timeout = 20m
    ///   run "cargo #{cmd}"
    /// }
    ///
    /// pipeline build {
    ///   stage test {
    ///     job unit = cargo(cmd = "test")
    ///   }
    /// }
    /// ```
    ///
    /// ## Fix
    /// Removing a parameter that no call passes is safe; removing it from calls too, or
    /// removing a material or a template, is unsafe.
    code: "L0010",
    name: "unused-definition",
    category: Maintainability,
    severity: Warning,
    fix: Mixed,
    summary: "material, template or template parameter that nothing uses",
    check: Some(check),
    scope: Program,
}

fn check(ctx: &Context, sink: &mut Sink) {
    for m in &ctx.program.materials {
        let used =
            ctx.program.pipelines.iter().any(|p| p.materials.iter().any(|r| r.name.eq_ignore_ascii_case(&m.name)));
        if used {
            continue;
        }
        let o = m.origin;
        let source = ctx.workspace.file(o.file);
        sink.add_about(
            o.span,
            RULE.at(o.file, o.name, format!("material `{}` is not used by any pipeline", m.name))
                .with_label("never used")
                .with_note("the server still polls it for new commits")
                .with_help("add it to a pipeline's `materials`, or remove it")
                .with_fix(removal_fix(source, o.file, o.span, format!("remove material `{}`", m.name))),
        );
    }
    for t in &ctx.program.templates {
        let o = t.origin;
        let source = ctx.workspace.file(o.file);
        if t.uses == 0 {
            sink.add_about(
                o.span,
                RULE.at(o.file, o.name, format!("{} template `{}` is never used", t.kind.keyword(), t.name))
                    .with_label("never instantiated")
                    .with_help(format!("use it as `{} NAME = {}(...)`, or remove it", t.kind.keyword(), t.name))
                    .with_fix(removal_fix(source, o.file, o.span, format!("remove template `{}`", t.name))),
            );
            continue;
        }
        for p in t.params.iter().filter(|p| p.uses == 0) {
            let mut d = RULE
                .at(o.file, p.span, format!("parameter `{}` of template `{}` is never used", p.name, t.name))
                .with_label("the template's body never uses it")
                .with_help(format!("use it as `#{{{}}}` in the body, or remove it", p.name));
            if let Some(fix) = param_fix(ctx, o.file, &t.name, p) {
                d = d.with_fix(fix);
            }
            sink.add_about(o.span, d);
        }
    }
}

/// Removes an entity and the comment lines right above it (its documentation).
fn removal_fix(source: &SourceFile, file: FileId, span: Span, message: String) -> Fix {
    let span = edit::entity_removal(source, span);
    Fix { message, applicability: Applicability::Unsafe, edits: vec![Edit { file, span, replacement: String::new() }] }
}

/// Removes a parameter, and the arguments that calls pass for it.
fn param_fix(ctx: &Context, file: FileId, template: &str, param: &crate::model::ParamInfo) -> Option<Fix> {
    let source = ctx.workspace.file(file);
    let mut edits = vec![Edit { file, span: list_item_removal(&source.text, param.span), replacement: String::new() }];
    for id in ctx.workspace.ids() {
        let Some(tree) = ctx.ast(id) else { continue };
        let mut calls = Vec::new();
        collect_calls(&tree.members, template, &mut calls);
        for call in calls {
            for arg in call.args.iter().filter(|a| a.name.name.eq_ignore_ascii_case(&param.name)) {
                edits.push(Edit {
                    file: id,
                    span: list_item_removal(&ctx.workspace.file(id).text, arg.span),
                    replacement: String::new(),
                });
            }
        }
    }
    let applicability = if edits.len() == 1 { Applicability::Safe } else { Applicability::Unsafe };
    Some(Fix { message: format!("remove parameter `{}`", param.name), applicability, edits })
}

fn collect_calls<'a>(members: &'a [Member], template: &str, out: &mut Vec<&'a crate::ast::TemplateCall>) {
    for m in members {
        if let Member::Block(b) = m {
            match &b.body {
                Body::Instance(call) if call.template.name.eq_ignore_ascii_case(template) => out.push(call),
                Body::Members { members, .. } => collect_calls(members, template, out),
                _ => {}
            }
        }
    }
}

/// The span that removes an item of a comma-separated list: with the comma after it, or, for
/// the last item, the comma before it.
pub(crate) fn list_item_removal(text: &str, item: Span) -> Span {
    let after = &text[item.end..];
    let skipped = after.len() - after.trim_start().len();
    if after.trim_start().starts_with(',') {
        let rest = &after[skipped + 1..];
        let spaces = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        return Span::new(item.start, item.end + skipped + 1 + spaces);
    }
    let before = &text[..item.start];
    let trimmed = before.trim_end();
    if trimmed.ends_with(',') {
        return Span::new(trimmed.len() - 1, item.end);
    }
    item
}

#[cfg(test)]
mod tests {
    use super::list_item_removal;
    use crate::source::Span;

    #[test]
    fn removes_list_items_with_their_comma() {
        let t = "t(a: string, b: int = 1)";
        assert_eq!(list_item_removal(t, Span::new(2, 11)), Span::new(2, 13));
        assert_eq!(list_item_removal(t, Span::new(13, 23)), Span::new(11, 23));
        assert_eq!(list_item_removal("t(a: int)", Span::new(2, 8)), Span::new(2, 8));
    }
}
