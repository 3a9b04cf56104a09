//! Whether an environment variable holds a secret written in plain text: the one classifier of
//! `plaintext-secret` (L0009, in `.pw` files) and of GoCD's `G0006` (plain `environment_variables`),
//! with its word lists in one place.

/// Words of a name that say it holds a secret (compared with the name's words, upper-case).
const SECRET_WORDS: [&str; 11] =
    ["TOKEN", "PASSWORD", "PASSWD", "PASS", "SECRET", "KEY", "APIKEY", "CREDENTIALS", "CREDENTIAL", "CRED", "CREDS"];

/// Last words of names that identify or locate a secret rather than hold it (`AWS_ACCESS_KEY_ID`,
/// `TOKEN_FILE`).
const NOT_SECRET_SUFFIXES: [&str; 6] = ["ID", "FILE", "PATH", "NAME", "URL", "USER"];

/// Name words of values that are `name:tag` or `host:port`, not `user:password`.
const NOT_CREDENTIAL_WORDS: [&str; 10] =
    ["IMAGE", "TAG", "HOST", "ADDR", "ADDRESS", "PORT", "VERSION", "PLATFORM", "URL", "PATH"];

/// Beginnings of values that are credentials whatever their name. An AWS access key ID (`AKIA...`)
/// is not one: it names a key, as a user name names an account; its secret is the secret access
/// key.
const SECRET_PREFIXES: [&str; 8] =
    ["ghp_", "gho_", "github_pat_", "glpat-", "xoxb-", "xoxp-", "-----BEGIN", "sk_live_"];

/// Why a value looks like a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// The name says it is a token, a password, a secret, a key or credentials.
    Name,
    /// The value has the shape of a known kind of credential (`ghp_...`, a private key).
    Shape,
    /// The value is `user:password`, or a URL with a password in it.
    UserPassword,
}

impl Why {
    /// The label that says why, under the value.
    pub fn label(self) -> &'static str {
        match self {
            Why::Name => "the name says it is a token, password, secret, key or credential",
            Why::Shape => "this value has the shape of a credential",
            Why::UserPassword => "the value has the shape `user:password`",
        }
    }
}

/// Why the plain value `value` of the variable `name` looks like a secret, if it does. A value
/// that refers to another variable (`$X`, `${X}`, `%X%`) or to GoCD's secret store
/// (`{{SECRET:[config][key]}}`) is not written out.
pub fn plain_secret(name: &str, value: &str) -> Option<Why> {
    let value = value.trim();
    if value.is_empty() || is_reference(value) {
        return None;
    }
    if SECRET_PREFIXES.iter().any(|p| value.starts_with(p)) {
        return Some(Why::Shape);
    }
    if secret_name(name) {
        return Some(Why::Name);
    }
    credentials_in_value(name, value).then_some(Why::UserPassword)
}

/// Whether a variable's name says it holds a secret.
pub fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split(['_', '-']).filter(|w| !w.is_empty()).collect();
    if words.last().is_some_and(|w| NOT_SECRET_SUFFIXES.contains(w)) {
        return false;
    }
    words.iter().any(|w| SECRET_WORDS.contains(w) || w.ends_with("TOKEN") || w.ends_with("PASSWORD"))
}

/// Whether a value is taken from elsewhere when the job runs: a variable of the agent (`$X`,
/// `${X}...`, `%X%` on Windows) or GoCD's secret store.
fn is_reference(value: &str) -> bool {
    value.starts_with('$') || value.starts_with('%') || value.contains("${") || value.contains("{{SECRET:")
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
        assert!(!secret_name("CREDIT_LIMIT") && !secret_name("SECRETARY"));
    }

    #[test]
    fn plain_secrets_are_found_and_references_are_not() {
        assert_eq!(plain_secret("DB_PASSWORD", "hunter2"), Some(Why::Name));
        assert_eq!(plain_secret("ANY", "ghp_abcdef"), Some(Why::Shape));
        assert_eq!(plain_secret("REGISTRY", "deploy:s3cr3tpw"), Some(Why::UserPassword));
        assert_eq!(plain_secret("REPO", "https://bot:s3cr3t@git.example.com/a.git"), Some(Why::UserPassword));
        for (name, value) in [
            ("DB_PASSWORD", "{{SECRET:[vault][db]}}"),
            ("DB_PASSWORD", "$VAULT_DB"),
            ("DB_PASSWORD", "${VAULT_DB}"),
            ("DB_PASSWORD", "%VAULT_DB%"),
            ("DB_PASSWORD", "  "),
            ("TOKEN_FILE", "/run/token"),
            ("MODE", "release"),
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
            ("IMAGE", "postgres:16.2-alpine"),
            ("DB_HOST", "db.internal:5432"),
        ] {
            assert_eq!(plain_secret(name, value), None, "{name} = {value}");
        }
    }
}
