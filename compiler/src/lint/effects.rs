//! What a stage does to the world outside its workspace (deploys, pushes, uploads...), whether it
//! verifies (tests, lints, scans), and whether its scripts can be read at all, from its names
//! and its commands. The rules that reason about stage order (L0003, L0004, L0005) use it so
//! that no advice merges a deploy with the tests before it or moves it beside them.
//!
//! The word lists are here, and only here; `[lint.effects]` in `pipewright.toml` extends them:
//!
//! ```toml
//! [lint.effects]
//! effects  = ["promote"]       # names and arguments that change the world (`promote-prod`, `./tasks promote`)
//! verifies = ["e2e"]           # names and arguments that verify (`e2e`, `make e2e`)
//! opaque   = ["bazel"]         # programs whose work the linter cannot read (`bazel run //x`)
//! ```
//!
//! - **Effects.** A stage has effects when its name or one of its jobs' names has a word that
//!   starts with one of [`EFFECT_WORDS`] or with `tag` (`deploy-dev`, `release`, `tag`), when
//!   one of its commands names one of [`EFFECT_WORDS`] as a plain argument or as its script's
//!   name (`make publish`, `./deploy.sh`, `git push`, `terraform apply`, `cargo publish`), or
//!   runs a command that acts on other machines: [`EFFECT_PROGRAMS`] with their effectful
//!   subcommands (`docker push`, `helm upgrade`, `kubectl apply`), `ssh`, `scp` or `rsync` to
//!   a `host:path`, or a command handed a credential (`-p $TSURU_PASSWORD`,
//!   `--token=${API_TOKEN}`): it logs in somewhere to act there.
//! - **Verifies.** A stage verifies when a name, a program or a plain argument starts or ends
//!   with one of [`VERIFY_WORDS`] (`test`, `pytest`, `eslint`, `spotlessCheck`).
//! - **Opaque.** A command is opaque when it runs a script of the workspace (`./tasks x`,
//!   `bin/helper y`, `sh ci/run.sh`) or a task runner of [`OPAQUE_PROGRAMS`] (`make target`):
//!   what it reads and writes cannot be known, so no rule asserts that it "uses nothing".

use super::facts::Facts;
use super::secrets::secret_name;
use super::shell::Command;
use super::Context;
use crate::model::Stage;
use std::ops::Range;

/// Words of names and arguments that say a stage changes something outside its workspace.
pub const EFFECT_WORDS: &[&str] = &[
    "deploy", "release", "publish", "push", "upload", "apply", "migrate", "cleanup", "rollout", "promote", "ship",
    "notify", "teardown", "destroy", "canary",
];

/// Words that are an effect in a stage or job name (`tag`, `tag-image`), where they name a
/// release step, but not as an argument (`git tag v1`, `docker tag a b` work on the agent).
const NAME_EFFECT_WORDS: &[&str] = &["tag"];

/// Words that are an effect beside a word naming a cluster tool (`helm-install`), but not alone
/// (`npm install` installs into the workspace).
const CLUSTER_EFFECT_WORDS: &[&str] = &["install", "uninstall", "upgrade"];
const CLUSTER_WORDS: &[&str] = &["helm", "k8s", "kubernetes", "kube", "cluster", "chart"];

/// Words of stage and job names that say a stage leaves something in the workspace or on the
/// agent for the stages after it.
const PREPARE_WORDS: &[&str] =
    &["build", "compile", "install", "deps", "dependencies", "bootstrap", "setup", "prepare", "package"];

/// Programs that act on other machines, with the subcommands that do (empty: every use).
pub const EFFECT_PROGRAMS: &[(&str, &[&str])] = &[
    ("docker", &["push", "login"]),
    ("podman", &["push"]),
    ("git", &["push"]),
    ("helm", &["install", "upgrade", "uninstall", "delete", "rollback", "push"]),
    (
        "kubectl",
        &["apply", "create", "delete", "replace", "patch", "rollout", "scale", "set", "edit", "run", "expose", "label"],
    ),
    ("terraform", &["apply", "destroy", "import"]),
    ("tofu", &["apply", "destroy", "import"]),
    ("pulumi", &["up", "destroy"]),
    ("ansible-playbook", &[]),
    ("twine", &["upload"]),
    ("gem", &["push"]),
    ("npm", &["publish"]),
    ("yarn", &["publish"]),
    ("cargo", &["publish"]),
    ("mvn", &["deploy"]),
    ("aws", &["s3", "deploy", "ecs", "lambda", "cloudformation"]),
    ("gsutil", &["cp", "rsync", "rm"]),
    ("ssh", &[]),
];

/// Words of names, programs and arguments that say a stage verifies.
pub const VERIFY_WORDS: &[&str] =
    &["test", "lint", "scan", "check", "verify", "audit", "spec", "clippy", "validate", "smoke"];

/// Task runners: what `make target` reads and writes is in a file the linter does not read.
pub const OPAQUE_PROGRAMS: &[&str] = &[
    "make", "gmake", "rake", "mvn", "just", "task", "invoke", "ant", "gradle", "gradlew", "mvnw", "bazel", "nox", "tox",
];

/// Programs whose arguments are text, not actions (`echo deploy done`).
const TEXT_PROGRAMS: &[&str] = &["echo", "printf", "cd", "ls", "cat", "mkdir", "grep", "test", "[", "find", "true"];

/// The bytes, in either case, that start or end the words of a list: most words of a script
/// are told apart from every word of a list by one look.
struct Ends([bool; 256]);

impl Ends {
    const fn of(words: &[&str], last: bool) -> Ends {
        let mut table = [false; 256];
        let mut i = 0;
        while i < words.len() {
            let w = words[i].as_bytes();
            let b = if last { w[w.len() - 1] } else { w[0] };
            table[b.to_ascii_lowercase() as usize] = true;
            table[b.to_ascii_uppercase() as usize] = true;
            i += 1;
        }
        Ends(table)
    }

    fn has(&self, b: Option<u8>) -> bool {
        b.is_some_and(|b| self.0[b as usize])
    }
}

static EFFECT_FIRST: Ends = Ends::of(EFFECT_WORDS, false);
static VERIFY_FIRST: Ends = Ends::of(VERIFY_WORDS, false);
static VERIFY_LAST: Ends = Ends::of(VERIFY_WORDS, true);

/// The words `[lint.effects]` adds to the built-in lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtraWords {
    pub effects: Vec<String>,
    pub verifies: Vec<String>,
    pub opaque: Vec<String>,
}

/// What a stage does, with the text that says so (`the name \`deploy-dev\``, `` `git push -f` ``).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageKind {
    pub effect: Option<String>,
    pub verifies: Option<String>,
    /// The first command whose work cannot be read.
    pub opaque: Option<String>,
}

/// The lists of one lint run: the built-in words and the configured ones.
pub struct Classifier<'a> {
    extra: &'a ExtraWords,
}

impl<'a> Classifier<'a> {
    pub fn new(extra: &'a ExtraWords) -> Self {
        Classifier { extra }
    }

    /// Whether a name or an argument holds a configured effect of several words
    /// (`sync-cdn` in `sync-cdn-prod`), which the comparison word by word cannot see.
    fn has_effect_phrase(&self, text: &str) -> bool {
        let mut phrases = self.extra.effects.iter().filter(|w| w.contains(['-', '_', '.', ':', ' '])).peekable();
        if phrases.peek().is_none() {
            return false;
        }
        let text = text.to_ascii_lowercase();
        phrases.any(|w| text.contains(&w.to_ascii_lowercase()))
    }

    fn is_effect_word(&self, word: &str) -> bool {
        let built_in = EFFECT_FIRST.has(word.bytes().next()) && EFFECT_WORDS.iter().any(|w| starts_with(word, w));
        built_in || self.extra.effects.iter().any(|w| starts_with(word, w))
    }

    fn is_verify_word(&self, word: &str) -> bool {
        let hit = |w: &str| starts_with(word, w) || ends_with(word, w);
        let may = VERIFY_FIRST.has(word.bytes().next()) || VERIFY_LAST.has(word.bytes().next_back());
        (may && VERIFY_WORDS.iter().any(|w| hit(w))) || self.extra.verifies.iter().any(|w| hit(w))
    }

    /// Whether a name says its stage or job verifies (`unit-test`, `itest_install_ubuntu`).
    pub fn name_verifies(&self, name: &str) -> bool {
        name_words(name).any(|w| self.is_verify_word(w))
    }

    fn is_opaque_program(&self, program: &str) -> bool {
        OPAQUE_PROGRAMS.contains(&program) || self.extra.opaque.iter().any(|p| p.eq_ignore_ascii_case(program))
    }

    /// What a stage does, from its name, its jobs' names and their commands.
    pub fn stage<'c>(&self, stage: &Stage, commands: impl IntoIterator<Item = &'c Command<'c>>) -> StageKind {
        let mut kind = StageKind::default();
        let mut names = vec![stage.name.as_str()];
        names.extend(stage.jobs.iter().map(|j| j.instance_of.as_ref().map_or(j.name.as_str(), |i| i.base.as_str())));
        for name in names {
            let one_of = |list: &[&str], w: &str| list.iter().any(|l| l.eq_ignore_ascii_case(w));
            let on_cluster = name_words(name).any(|w| one_of(CLUSTER_WORDS, w))
                && name_words(name).any(|w| one_of(CLUSTER_EFFECT_WORDS, w));
            let named = |w: &str| self.is_effect_word(w) || NAME_EFFECT_WORDS.iter().any(|n| starts_with(w, n));
            if kind.effect.is_none() && (on_cluster || name_words(name).any(named) || self.has_effect_phrase(name)) {
                kind.effect = Some(format!("the name `{name}`"));
            }
            if kind.verifies.is_none() && name_words(name).any(|w| self.is_verify_word(w)) {
                kind.verifies = Some(format!("the name `{name}`"));
            }
        }
        for cmd in commands {
            if kind.effect.is_some() && kind.verifies.is_some() && kind.opaque.is_some() {
                break;
            }
            self.command(cmd, &mut kind);
        }
        kind
    }

    fn command(&self, cmd: &Command, kind: &mut StageKind) {
        let Some(program) = cmd.program() else { return };
        let shown = || format!("`{}`", shown(cmd));
        if kind.effect.is_none() && self.has_effect(cmd, program) {
            kind.effect = Some(shown());
        }
        if kind.verifies.is_none() && self.verifies(cmd, program) {
            kind.verifies = Some(shown());
        }
        if kind.opaque.is_none() && self.opaque(cmd, program) {
            kind.opaque = Some(shown());
        }
    }

    fn has_effect(&self, cmd: &Command, program: &str) -> bool {
        if let Some((_, subs)) = EFFECT_PROGRAMS.iter().find(|(p, _)| *p == program) {
            if subs.is_empty() || plain_args(cmd).any(|a| subs.iter().any(|s| s.eq_ignore_ascii_case(a))) {
                return true;
            }
        }
        if matches!(program, "scp" | "rsync") && cmd.args().iter().any(|a| remote_path(a)) {
            return true;
        }
        if program == "curl" && cmd.args().iter().any(|a| matches!(&**a, "-T" | "--upload-file")) {
            return true;
        }
        if passes_credentials(cmd, program) {
            return true;
        }
        let stem = program.split('.').next().unwrap_or(program);
        if name_words(stem).any(|w| self.is_effect_word(w)) {
            return true;
        }
        // A script handed to another (`./k8s-executor.sh helm/020-deploy.sh`) is named for its work.
        let script_named = |a: &super::shell::Word| {
            let file = a.rsplit('/').next().unwrap_or(a);
            let stem = file.split('.').next().unwrap_or(file);
            is_script_file(file) && name_words(stem).any(|w| self.is_effect_word(w))
        };
        if cmd.args().iter().any(script_named) {
            return true;
        }
        !TEXT_PROGRAMS.contains(&program)
            && plain_args(cmd).any(|a| name_words(a).any(|w| self.is_effect_word(w)) || self.has_effect_phrase(a))
    }

    /// Whether one command verifies (`cargo test`, `eslint .`).
    pub fn verifies_command(&self, cmd: &Command) -> bool {
        cmd.program().is_some_and(|p| self.verifies(cmd, p))
    }

    fn verifies(&self, cmd: &Command, program: &str) -> bool {
        if TEXT_PROGRAMS.contains(&program) {
            return false;
        }
        let stem = program.split('.').next().unwrap_or(program);
        // The tool or its subcommand: `cargo test`, `npx eslint .`, `poetry run pytest`, not
        // `docker rm test-db`.
        let mut args = plain_args(cmd);
        let subcommand = match args.next() {
            Some(a) if ["run", "exec", "x"].iter().any(|r| r.eq_ignore_ascii_case(a)) => args.next(),
            first => first,
        };
        self.is_verify_word(stem) || subcommand.is_some_and(|a| name_words(a).any(|w| self.is_verify_word(w)))
    }

    /// Whether the command's work is in a file the linter does not read.
    pub fn opaque(&self, cmd: &Command, program: &str) -> bool {
        if self.is_opaque_program(program) {
            return true;
        }
        let first = cmd.words.iter().find(|w| !w.contains('=')).map(|w| &**w).unwrap_or("");
        let script = |w: &str| !w.starts_with('/') && !w.starts_with('-') && (w.contains('/') || is_script_file(w));
        if script(first) && first != program || first.starts_with("./") {
            return true;
        }
        if matches!(program, "sh" | "bash" | "python" | "python3" | "ruby" | "node" | "perl") {
            return cmd.args().first().is_some_and(|a| script(a));
        }
        matches!(program, "npm" | "yarn" | "pnpm") && cmd.args().first().is_some_and(|a| a == "run")
    }
}

/// The command's words as a reader would quote it, shortened, from the program on.
fn shown(cmd: &Command) -> String {
    const MAX: usize = 48;
    let mut text = String::with_capacity(MAX + 3);
    let mut chars = 0;
    for (i, word) in cmd.run().iter().enumerate() {
        for c in (if i == 0 { "" } else { " " }).chars().chain(word.chars()) {
            if chars == MAX {
                text.push_str("...");
                return text;
            }
            text.push(c);
            chars += 1;
        }
    }
    text
}

/// A name's words, compared without case: `deploy-dev` → `deploy`, `dev`; `spotlessCheck` is
/// one word.
fn name_words(name: &str) -> impl Iterator<Item = &str> {
    name.split(['-', '_', '.', ':', ' ']).filter(|w| !w.is_empty())
}

/// Whether `word` starts with `prefix`, whatever the case.
fn starts_with(word: &str, prefix: &str) -> bool {
    word.len() >= prefix.len() && word.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Whether `word` ends with `suffix`, whatever the case.
fn ends_with(word: &str, suffix: &str) -> bool {
    word.len() >= suffix.len() && word.as_bytes()[word.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// The arguments that are plain words: no flags, no paths, no variables.
fn plain_args<'c>(cmd: &'c Command) -> impl Iterator<Item = &'c str> {
    cmd.args()
        .iter()
        .map(|a| &**a)
        .filter(|a| !a.starts_with('-') && a.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':')))
}

/// Whether a command is handed a credential (`-p $TSURU_PASSWORD`, `--token=${API_TOKEN}`): it
/// logs in to a service outside the workspace, to act on it.
fn passes_credentials(cmd: &Command, program: &str) -> bool {
    if TEXT_PROGRAMS.contains(&program) || matches!(program, "export" | "unset" | "read" | "set") {
        return false;
    }
    cmd.args().iter().filter(|a| a.contains('$')).flat_map(|a| variables(a)).any(secret_name)
}

/// The names of the variables a word expands: `$A`, `${B}`, `${C:-x}`.
fn variables(word: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, _) in word.match_indices('$') {
        let rest = word[i + 1..].trim_start_matches('{');
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if end > 0 {
            out.push(&rest[..end]);
        }
    }
    out
}

/// `host:path` or `user@host:path`, as `scp` and `rsync` name another machine.
fn remote_path(arg: &str) -> bool {
    let Some((host, _)) = arg.split_once(':') else { return false };
    !host.is_empty() && !arg.contains("://") && !host.contains('/') && !arg.starts_with('-')
}

fn is_script_file(word: &str) -> bool {
    [".sh", ".py", ".rb", ".pl", ".ps1", ".bash"].iter().any(|e| word.ends_with(e))
}

/// Commands whose work is negligible: they print, report the environment or copy the workspace.
pub fn trivial(cmd: &Command) -> bool {
    match cmd.program() {
        None => true,
        Some("echo" | "printf" | "true" | "env" | "printenv" | "id" | "pwd" | "whoami" | "date" | "uname") => true,
        Some("cp" | "zip") => cmd.args().iter().all(|a| !a.contains("://") && !remote_path(a)),
        _ => false,
    }
}

/// Whether a command installs dependencies into the workspace or onto the agent (`npm ci`,
/// `bundle install`, `go mod download`, `./bootstrap.sh`).
pub fn installs_dependencies(cmd: &Command) -> bool {
    let sub = cmd.args().iter().find(|a| !a.starts_with('-')).map(|a| &**a).unwrap_or("");
    match cmd.program() {
        Some("npm" | "yarn" | "pnpm") => matches!(sub, "ci" | "install" | ""),
        Some("apt-get" | "apt") => matches!(sub, "install" | "update"),
        Some("bundle" | "composer" | "poetry" | "pip" | "pip3" | "yum" | "apk") => sub == "install",
        Some("go") => sub == "mod",
        Some(p) => ["bootstrap", "setup", "init", "install"].iter().any(|w| p.starts_with(w)),
        None => false,
    }
}

/// Whether a stage leaves something in the workspace or on the agent that a later stage may use
/// without fetching it: its name or a job's says it builds or installs (`build`, `install-deps`),
/// or a command installs dependencies, builds an image, or copies out of a container.
pub fn prepares(facts: &Facts, stage: &Stage) -> bool {
    let mut names = vec![stage.name.as_str()];
    names.extend(stage.jobs.iter().map(|j| j.instance_of.as_ref().map_or(j.name.as_str(), |i| i.base.as_str())));
    let named = names.iter().any(|n| name_words(n).any(|w| PREPARE_WORDS.iter().any(|p| starts_with(w, p))));
    named || stage.jobs.iter().any(|j| facts.job(j).flags.prepares)
}

/// Whether a command installs dependencies, builds an image, or copies out of a container.
pub fn prepares_command(c: &Command) -> bool {
    installs_dependencies(c)
        || (c.program() == Some("docker") && c.args().first().is_some_and(|a| matches!(&**a, "build" | "cp")))
}

/// The runs of at least two stages of `group` that hold no stage with effects, with their
/// positions in `group` and kinds: such a stage is never merged with the stages before it (it would run before they
/// passed) nor with those after it (they may check what it did).
pub fn without_effects(ctx: &Context, group: &[Stage]) -> Vec<(Range<usize>, Vec<StageKind>)> {
    let kinds: Vec<StageKind> = group.iter().map(|s| ctx.stage_kind(s).clone()).collect();
    let mut out = Vec::new();
    let mut start = 0;
    for end in 0..=group.len() {
        if end == group.len() || kinds[end].effect.is_some() {
            if end >= start + 2 {
                out.push((start..end, kinds[start..end].to_vec()));
            }
            start = end + 1;
        }
    }
    out
}

/// `` `a` `` for the first opaque command of stages, for a question such as "if `make x` uses nothing ...".
pub fn first_opaque<'s>(kinds: impl IntoIterator<Item = &'s StageKind>) -> Option<&'s str> {
    kinds.into_iter().find_map(|k| k.opaque.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::shell::commands;

    fn kinds(src: &str) -> Vec<StageKind> {
        let mut ws = crate::source::Workspace::new();
        ws.add("t.pw", src.to_string());
        let analysis = crate::analyze(&ws);
        assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
        let extra = ExtraWords {
            effects: vec!["promote".into(), "sync-cdn".into()],
            verifies: vec!["e2e".into()],
            opaque: vec!["pants".into()],
        };
        let program = super::super::facts::ProgramFacts::new(&analysis.program, &extra);
        let facts = Facts::of(&analysis.program.pipelines, &program);
        analysis.program.pipelines[0].stages.iter().map(|s| facts.stage(s).clone()).collect()
    }

    #[test]
    fn a_command_is_shown_up_to_48_characters() {
        let exactly = "make deploy ENVIRONMENT=production REGION=eu-wes";
        assert_eq!(exactly.len(), 48);
        assert_eq!(shown(&commands(exactly)[0]), exactly);
        let longer = format!("{exactly}t-1 VERBOSE=1");
        assert_eq!(shown(&commands(&longer)[0]), format!("{exactly}..."));
        assert_eq!(shown(&commands("A=1 kubectl  apply -f é.yaml")[0]), "kubectl apply -f é.yaml");
    }

    #[test]
    fn reads_effects_from_names_and_commands() {
        let k = kinds(
            r#"pipeline p {
  stage deploy-dev { job a { run "./up.sh" } }
  stage version { job a { run "git tag v1 && git push -f origin v1" } }
  stage image { job a { run ["docker", "push", "registry/x:1"] } }
  stage copy { job a { run "rsync -a dist/ web@host:/srv/" } }
  stage chart { job a { run "helm upgrade --install x ./chart" } }
  stage tf { job a { run "terraform plan && terraform apply -auto-approve" } }
  stage build { job a { run "cargo build && echo deploy later" } }
  stage local { job a { run "rsync -a dist/ out/" } }
  stage go { job a { run "./tasks promote" } }
  stage envs { job a { run "python /opt/paas/set_env.py -a app -u $PAAS_USER -p $PAAS_PASSWORD" } }
  stage tagging { job a { run "./tasks next-version" } }
  stage note { job a { run "echo $API_TOKEN is set" } }
  stage sync-cdn-prod { job a { run "true" } }
  stage cdn { job a { run "./tasks sync-cdn" } }
  stage sync { job a { run "./tasks sync cdn" } }
}"#,
        );
        let effects: Vec<bool> = k.iter().map(|k| k.effect.is_some()).collect();
        assert_eq!(
            effects,
            [true, true, true, true, true, true, false, false, true, true, true, false, true, true, false]
        );
        assert_eq!(k[0].effect.as_deref(), Some("the name `deploy-dev`"));
        assert_eq!(k[1].effect.as_deref(), Some("`git push -f origin v1`"));
    }

    #[test]
    fn reads_verification_and_opaque_scripts() {
        let k = kinds(
            r#"pipeline p {
  stage a { job unit { run "cargo build" } }
  stage b { job x { run "pytest -q" } }
  stage c { job x { run "./gradlew spotlessCheck" } }
  stage d { job x { run "make e2e" } }
  stage e { job x { run "cargo build --release" } }
  stage f { job x { run "pants package ::" } }
  stage g { job x { run "bin/helper y" } }
  stage h { job x { run "sh ci/run.sh" } }
}"#,
        );
        let verifies: Vec<bool> = k.iter().map(|k| k.verifies.is_some()).collect();
        assert_eq!(verifies, [false, true, true, true, false, false, false, false]);
        let opaque: Vec<bool> = k.iter().map(|k| k.opaque.is_some()).collect();
        assert_eq!(opaque, [false, false, true, true, false, true, true, true]);
    }

    #[test]
    fn knows_trivial_commands() {
        assert!(commands("echo hi; env; pwd; cp -r . /tmp/ws; zip -r ws.zip .").iter().all(trivial));
        assert!(!commands("cp app web@host:/srv/").iter().all(trivial));
        assert!(!commands("echo hi && make").iter().all(trivial));
    }
}
