//! GoCD-specific findings that need the whole config: names only the GoCD server knows
//! (reported once, as information) and secrets written in plain text.

use super::index::Index;
use super::model::{Config, Var};
use crate::diagnostic::{Diagnostic, Severity};
use crate::gocd::codes::GoCode;
use crate::lint::secrets;
use crate::source::FileId;

/// The findings of one file of the workspace `index` describes.
pub(super) fn findings(file: FileId, config: &Config, index: &Index) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let refs: Vec<_> = config
        .server_refs
        .iter()
        .chain(&index.missing_upstreams(config))
        .filter(|r| index.is_first(file, r))
        .cloned()
        .collect();
    // A template on the server leaves its pipeline out of the lint: that says something on its
    // own. The other names are normal in a config repository and are listed once a file.
    let (templates, others): (Vec<_>, Vec<_>) = refs.into_iter().partition(|r| r.what.contains("template"));
    for r in &templates {
        out.push(
            Diagnostic::new(
                GoCode::G0005,
                Severity::Info,
                file,
                r.span,
                format!("{} `{}` is defined on the GoCD server, not in these files", r.what, r.name),
            )
            .with_label("not checked")
            .with_note("the pipeline's stages are in the template, so Pipewright checks and lints nothing of it"),
        );
    }
    if let Some((first, rest)) = others.split_first() {
        let names: Vec<String> = others.iter().map(|r| format!("{} `{}`", r.what, r.name)).collect();
        let message = match rest.len() {
            0 => format!("{} is defined on the GoCD server, not in these files", names[0]),
            n => format!("{} names are defined on the GoCD server, not in these files: {}", n + 1, names.join(", ")),
        };
        let mut d = Diagnostic::new(GoCode::G0005, Severity::Info, file, first.span, message)
            .with_label("not checked")
            .with_note("Pipewright checks what the files say; each such name is listed once, here");
        for r in rest {
            d = d.with_secondary(file, r.span, "not checked");
        }
        out.push(d);
    }
    let vars = config
        .pipelines
        .iter()
        .flat_map(|p| {
            p.vars.iter().chain(p.stages.iter().flat_map(|s| s.vars.iter().chain(s.jobs.iter().flat_map(|j| &j.vars))))
        })
        .chain(config.environments.iter().flat_map(|e| &e.vars));
    for v in vars {
        if let Some(why) = plain_secret(v) {
            out.push(
                Diagnostic::warning(GoCode::G0006, file, v.value.span, format!("`{}` holds a secret in plain text", v.name.value))
                    .with_label(why)
                    .with_help("make it a secure variable (`secure_variables` in YAML, `secure=\"true\"` in XML: encrypted by the GoCD server) or a `{{SECRET:[config][key]}}` reference, and rotate it: it is in the repository's history"),
            );
        }
    }
    out
}

/// Why a plain variable looks like a secret ([`secrets`]), if it does.
fn plain_secret(v: &Var) -> Option<&'static str> {
    if v.secure {
        return None;
    }
    secrets::plain_secret(&v.name.value, &v.value.value).map(secrets::Why::label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gocd::model::Text;

    fn var(name: &str, value: &str, secure: bool) -> Var {
        let t = |s: &str| Text { value: s.into(), span: Default::default() };
        Var { name: t(name), value: t(value), secure }
    }

    #[test]
    fn plain_secrets_are_found_and_references_are_not() {
        assert!(plain_secret(&var("DB_PASSWORD", "hunter2", false)).is_some());
        assert!(plain_secret(&var("ANY", "ghp_abcdef", false)).is_some());
        assert!(plain_secret(&var("DB_PASSWORD", "hunter2", true)).is_none());
        assert!(plain_secret(&var("DB_PASSWORD", "{{SECRET:[vault][db]}}", false)).is_none());
        assert!(plain_secret(&var("TOKEN_FILE", "/run/token", false)).is_none());
        assert!(plain_secret(&var("MODE", "release", false)).is_none());
        assert!(plain_secret(&var("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", false)).is_none());
        assert!(plain_secret(&var("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI", false)).is_some());
    }
}
