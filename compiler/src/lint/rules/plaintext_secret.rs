//! L0009 `plaintext-secret`.

use super::super::{Context, Sink};
use crate::diagnostic::{Applicability, Edit, Fix};
use crate::model::{EnvValue, EnvVar};

declare_rule! {
    /// ## What it does
    /// Finds environment variables whose name says they hold a secret (a token, a password, a
    /// secret, a key or credentials: `CRED`, `CREDS`) or whose value is credentials
    /// (`user:password`), but which are given a literal value instead of `secret("...")`.
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
    /// A value that only refers to another variable (`"$CI_TOKEN"`) and names ending in `_ID`,
    /// `_FILE`, `_PATH`, `_NAME` or `_URL` are not reported.
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
}

const SECRET_WORDS: [&str; 11] =
    ["TOKEN", "PASSWORD", "PASSWD", "PASS", "SECRET", "KEY", "APIKEY", "CREDENTIALS", "CREDENTIAL", "CRED", "CREDS"];

/// Name words of values that are `name:tag` or `host:port`, not `user:password`.
const NOT_CREDENTIAL_WORDS: [&str; 10] =
    ["IMAGE", "TAG", "HOST", "ADDR", "ADDRESS", "PORT", "VERSION", "PLATFORM", "URL", "PATH"];
const NOT_SECRET_SUFFIXES: [&str; 6] = ["ID", "FILE", "PATH", "NAME", "URL", "USER"];

/// Whether a variable's name says it holds a secret.
pub(crate) fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split(['_', '-']).filter(|w| !w.is_empty()).collect();
    if words.last().is_some_and(|w| NOT_SECRET_SUFFIXES.contains(w)) {
        return false;
    }
    words.iter().any(|w| SECRET_WORDS.contains(w) || w.ends_with("TOKEN") || w.ends_with("PASSWORD"))
}

fn check(ctx: &Context, sink: &mut Sink) {
    let envs = ctx.program.pipelines.iter().flat_map(|p| {
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
    let trimmed = value.trim();
    if trimmed.is_empty() || refers_to_variable(trimmed) {
        return;
    }
    let by_value = !secret_name(&var.name) && credentials_in_value(&var.name, trimmed);
    if !secret_name(&var.name) && !by_value {
        return;
    }
    let why = if by_value {
        "the value has the shape `user:password`"
    } else {
        "the name says it is a token, password, secret, key or credential"
    };
    let secret = var.name.to_ascii_lowercase().replace('_', "-");
    let file = var.origin.file;
    sink.add_about(
        var.origin.span,
        RULE.at(file, var.value_span, format!("`{}` looks like a secret but is written in plain text", var.name))
            .with_label("this value is stored in the repository and the plan")
            .with_secondary(file, var.origin.name, why)
            .with_help(format!("store it in the runtime and write `{} = secret(\"{secret}\")`", var.name))
            .with_fix(Fix {
                message: format!("use `secret(\"{secret}\")`"),
                applicability: Applicability::Unsafe,
                edits: vec![Edit { file, span: var.value_span, replacement: format!("secret(\"{secret}\")") }],
            }),
    );
}

/// Whether a value holds credentials: `https://user:password@host/...`, or is `user:password`
/// itself (in a variable whose name does not say it is an image, a host or a version).
fn credentials_in_value(name: &str, value: &str) -> bool {
    let password_like = |p: &str| !p.is_empty() && !p.starts_with('$') && !p.chars().all(|c| c.is_ascii_digit());
    if let Some((_, rest)) = value.split_once("://") {
        let userinfo = rest.split(['/', '?', '#']).next().unwrap_or("");
        return userinfo
            .rsplit_once('@')
            .and_then(|(info, _)| info.split_once(':'))
            .is_some_and(|(user, password)| !user.is_empty() && password_like(password));
    }
    let upper = name.to_ascii_uppercase();
    if upper.split(['_', '-']).any(|w| NOT_CREDENTIAL_WORDS.contains(&w)) {
        return false;
    }
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| !c.is_whitespace() && !matches!(c, '/' | '@' | ':' | '.'));
    value.split_once(':').is_some_and(|(user, password)| {
        plain(user) && plain(password) && password_like(password) && password.len() >= 6
    })
}

/// `$X` or `${X}` alone: a reference to a variable the agent provides.
fn refers_to_variable(value: &str) -> bool {
    let inner = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')).or_else(|| value.strip_prefix('$'));
    inner.is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_secret_names() {
        for yes in ["DEPLOY_TOKEN", "GITHUB_TOKEN", "DB_PASSWORD", "api_key", "AWS_SECRET_ACCESS_KEY", "NPMTOKEN"] {
            assert!(secret_name(yes), "{yes}");
        }
        for no in ["KEYBOARD", "MONKEY", "AWS_ACCESS_KEY_ID", "SSH_KEY_PATH", "TOKEN_URL", "RUST_BACKTRACE"] {
            assert!(!secret_name(no), "{no}");
        }
        assert!(secret_name("AWS_CREDS") && secret_name("DOCKER_CRED") && secret_name("gcp-credential"));
        assert!(!secret_name("CREDIT_LIMIT"));
        assert!(credentials_in_value("REPO", "https://ci:hunter22@repo.example.com/x"));
        assert!(credentials_in_value("DOCKER_AUTH", "deployer:s3cr3t-pw"));
        assert!(!credentials_in_value("REPO", "https://ci@repo.example.com/x:1"));
        assert!(!credentials_in_value("REPO", "https://ci:$PW@repo.example.com"));
        assert!(!credentials_in_value("BASE_IMAGE", "node:20-alpine"));
        assert!(!credentials_in_value("DB", "localhost:5432"));
        assert!(!credentials_in_value("MODE", "a:b"));
        assert!(refers_to_variable("$CI_TOKEN"));
        assert!(refers_to_variable("${CI_TOKEN}"));
        assert!(!refers_to_variable("abc$"));
    }
}
