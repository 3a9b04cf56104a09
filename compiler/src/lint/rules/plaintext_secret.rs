//! L0009 `plaintext-secret`.

use super::super::{secrets, Context, Sink};
use crate::diagnostic::{Applicability, Edit, Fix};
use crate::model::{EnvValue, EnvVar};

declare_rule! {
    /// ## What it does
    /// Finds environment variables whose name says they hold a secret (a token, a password, a
    /// secret, a key or credentials: `CRED`, `CREDS`) or whose value is credentials
    /// (`user:password`, a URL with a password, or the shape of a known credential: `ghp_...`,
    /// `glpat-...`, a private key), but which are given a literal value instead of
    /// `secret("...")`. GoCD files have the same check, in GoCD's terms, as `G0006`.
    ///
    /// ## Why is this bad?
    /// A literal is in the repository, in every clone and fork, in the plan and in the runtime's
    /// records, readable by everyone who can read the pipeline. `secret("name")` is resolved by
    /// the runtime when the job starts and never stored in the plan.
    ///
    /// ## Example
    /// ```pw
    /// pipeline deploy {
    ///   env { DEPLOY_TOKEN = "d41d8cd98f00b204" }
    ///   stage ship {
    ///     job ship {
    ///       timeout = 10m
    ///       run "./deploy.sh"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline deploy {
    ///   env { DEPLOY_TOKEN = secret("deploy-token") }
    ///   stage ship {
    ///     job ship {
    ///       timeout = 10m
    ///       run "./deploy.sh"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// A value given as `user:password`, alone or in a URL (`https://ci:hunter22@repo.example.com`),
    /// is reported whatever the name, unless the name says it is an image, a tag, a host, a
    /// port or a version (`BASE_IMAGE = "node:20-alpine"`).
    ///
    /// A value taken from elsewhere when the job runs (`"$CI_TOKEN"`, `"${CI_TOKEN}"`,
    /// `"%CI_TOKEN%"`, GoCD's `{{SECRET:[config][key]}}`) and names ending in `_ID`, `_FILE`,
    /// `_PATH`, `_NAME`, `_URL` or `_USER` are not reported.
    ///
    /// ## Fix
    /// An unsafe fix replaces the value with `secret("<name>")`; the secret must then be
    /// stored in the runtime under that name.
    code: "L0009",
    name: "plaintext-secret",
    category: Security,
    severity: Error,
    fix: Unsafe,
    summary: "secret given as a literal environment value",
    check: Some(check),
    scope: Pipelines,
}

fn check(ctx: &Context, sink: &mut Sink) {
    let envs = ctx.pipelines.iter().flat_map(|p| {
        p.env.iter().chain(p.stages.iter().flat_map(|s| s.env.iter().chain(s.jobs.iter().flat_map(|j| j.env.iter()))))
    });
    // In a GoCD file, `G0006` reports plain-text secrets in GoCD's own terms (`secure_variables`).
    let in_gocd = |var: &&EnvVar| crate::gocd::is_gocd_path(&ctx.workspace.file(var.origin.file).path);
    for var in envs.filter(|v| !in_gocd(v)) {
        check_var(var, sink);
    }
}

fn check_var(var: &EnvVar, sink: &mut Sink) {
    let EnvValue::Literal(value) = &var.value else { return };
    let Some(why) = secrets::plain_secret(&var.name, value) else { return };
    let secret = var.name.to_ascii_lowercase().replace('_', "-");
    let file = var.origin.file;
    sink.add_about(
        var.origin.span,
        RULE.at(file, var.value_span, format!("`{}` looks like a secret but is written in plain text", var.name))
            .with_label("this value is stored in the repository and the plan")
            .with_secondary(file, var.origin.name, why.label())
            .with_help(format!("store it in the runtime and write `{} = secret(\"{secret}\")`", var.name))
            .with_fix(Fix {
                message: format!("use `secret(\"{secret}\")`"),
                applicability: Applicability::Unsafe,
                edits: vec![Edit { file, span: var.value_span, replacement: format!("secret(\"{secret}\")") }],
            }),
    );
}
