//! L0016 `shell-syntax-in-argv`.

use super::super::{Context, Sink};
use crate::diagnostic::{Applicability, Edit, Fix};
use crate::gocd::Syntax;
use crate::model::Action;
use crate::source::Span;

declare_rule! {
    /// ## What it does
    /// Finds argv tasks (`run ["prog", "arg"]`) with words that only a shell understands: a
    /// glob (`dir/*.jar`) given to a program that works on files, a variable (`$TOKEN`,
    /// `${HOME}`), an operator (`&&`, `||`, `|`, `;`, `>`, `>>`, `<`, `2>&1`), a program
    /// name with spaces (`["gradle clean build"]`, GoCD's `command: gradle clean build`), or a
    /// subcommand packed with its arguments into one word (`["apt", "install -qy git make"]`,
    /// for well-known tools whose subcommands have no spaces; that case has no fix, as the
    /// words are split by hand).
    ///
    /// ## Why is this bad?
    /// An argv task runs its program directly, with no shell: nothing expands the glob, the
    /// variable or the operator, and the program receives them as they are written. `rm -rf
    /// dir/*.jar` looks for a file literally named `*.jar`, finds none, and deletes nothing,
    /// successfully; `["docker", "login", "-p", "$TOKEN"]` logs in with the password `$TOKEN`.
    ///
    /// ## Example
    /// ```pw
    /// pipeline build {
    ///   stage clean {
    ///     job jars {
    ///       timeout = 5m
    ///       run ["rm", "-rf", "dist/*.jar"]
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```pw
    /// pipeline build {
    ///   stage clean {
    ///     job jars {
    ///       timeout = 5m
    ///       run "rm -rf dist/*.jar"
    ///     }
    ///   }
    /// }
    /// ```
    ///
    /// A pattern given to a program that matches patterns itself (`find . -name "*.jar"`,
    /// `grep`, `git`, `--include`), the script of `sh -c`, and a `$name` given to a program
    /// that reads it in its own language (`jq`, `yq`, `awk`, `sed`, `perl`, `envsubst`, the
    /// interpreters of `-e`/`-c` scripts) are not reported.
    ///
    /// ## Fix
    /// An unsafe fix writes the task in the shell form, the words joined with spaces (words
    /// with spaces in single quotes): the shell then expands what was meant to be expanded.
    code: "L0016",
    name: "shell-syntax-in-argv",
    category: Correctness,
    severity: Error,
    fix: Unsafe,
    summary: "argv task with a glob, a variable, an operator or spaces that no shell will read",
    check: Some(check),
    scope: Pipelines,
}

/// Programs that work on the files they are given: a glob there is meant for a shell.
const FILE_PROGRAMS: &[&str] = &[
    "rm",
    "cp",
    "mv",
    "ls",
    "cat",
    "chmod",
    "chown",
    "tar",
    "zip",
    "du",
    "touch",
    "scp",
    "rsync",
    "ln",
    "mkdir",
    "stat",
    "head",
    "tail",
    "wc",
    "sha256sum",
    "md5sum",
    "gzip",
    "gunzip",
    "unzip",
    "file",
    "install",
    "rmdir",
];

/// Options whose value is a pattern the program matches itself.
const PATTERN_OPTIONS: &[&str] =
    &["-name", "-iname", "-path", "-ipath", "--include", "--exclude", "--glob", "-g", "--filter", "-x", "--wildcards"];

/// Programs with a language of their own in which `$name` means something (a `jq` or `awk`
/// variable, `sed`'s last line, `envsubst`'s list of variables, a script given to `-e`/`-c`):
/// a `$` in their arguments is for them, not for a shell.
const OWN_VARIABLES: &[&str] = &[
    "jq", "gojq", "yq", "awk", "gawk", "mawk", "sed", "perl", "envsubst", "python", "python3", "node", "ruby", "php",
    "psql", "mysql",
];

const OPERATORS: &[&str] = &["&&", "||", "|", ";", ">", ">>", "<", "2>", "2>&1", "&>", "&"];

/// What shell syntax a word holds, in words, or `None`.
fn shell_syntax(program: &str, previous: &str, word: &str) -> Option<&'static str> {
    if OPERATORS.contains(&word) || word.starts_with(">>") || (word.starts_with('>') && word.len() > 1) {
        return Some("an operator");
    }
    let variable = !OWN_VARIABLES.contains(&program)
        && word.char_indices().any(|(i, c)| {
            c == '$' && word[i + 1..].chars().next().is_some_and(|n| n == '{' || n == '_' || n.is_ascii_alphabetic())
        });
    if variable {
        return Some("a variable");
    }
    let pattern_option = PATTERN_OPTIONS.contains(&previous) || word.starts_with('-');
    if FILE_PROGRAMS.contains(&program) && !pattern_option && (word.contains('*') || word.contains('?')) {
        return Some("a glob");
    }
    None
}

/// Whether a task is an argv with shell syntax in it. The job facts ask while they read each
/// task, so that this rule reads only the jobs that have one.
pub(crate) fn may_misuse(action: &Action) -> bool {
    matches!(action, Action::Exec(argv) if problem(argv).is_some())
}

fn check(ctx: &Context, sink: &mut Sink) {
    for (_, _, job) in super::jobs(ctx.pipelines) {
        if !ctx.facts.job(job).flags.shell_in_argv {
            continue;
        }
        for task in &job.tasks {
            let Action::Exec(argv) = &task.action else { continue };
            let Some(Problem { message, label, fixable }) = problem(argv) else { continue };
            let o = task.origin;
            let (note, help) = advice(ctx.syntax(o.file));
            let mut d = RULE.at(o.file, o.span, message).with_label(label).with_note(note).with_help(help);
            if let Some(fix) = fix(ctx, o.file, o.span).filter(|_| fixable) {
                d = d.with_fix(fix);
            }
            sink.add(d);
        }
    }
}

/// Why no shell reads the words, and what to write instead, in the terms of the file: `.pw`'s
/// `run [...]`, or GoCD's `exec`.
fn advice(syntax: Syntax) -> (&'static str, &'static str) {
    match syntax {
        Syntax::GocdYaml => (
            "an `exec` task runs its `command` with its `arguments` as they are: nothing splits words or expands globs and variables, and operators are plain words",
            "give the program alone as `command` and each word as an item of `arguments`, or make it a `script:` task so that a shell reads it",
        ),
        Syntax::GocdXml => (
            "an `<exec>` task runs its `command` with its `<arg>`s as they are: nothing splits words or expands globs and variables, and operators are plain words",
            "give the program alone as `command` and each word as an `<arg>`, or let a shell read the line: `<exec command=\"sh\"><arg>-c</arg><arg>...</arg></exec>`",
        ),
        Syntax::Pipewright => (
            "a list after `run` is the program and its arguments, passed as they are: nothing splits words or expands globs and variables, and operators are plain words",
            "write the task as a script, `run \"...\"`, so that a shell reads it",
        ),
    }
}

/// What of an argv only a shell would understand.
struct Problem {
    message: String,
    label: String,
    /// Whether writing the words as a script mends it (a packed argument, quoted, stays one word).
    fixable: bool,
}

fn problem(argv: &[String]) -> Option<Problem> {
    let first = argv.first()?;
    if first.trim().contains(char::is_whitespace) {
        return Some(Problem {
            message: format!("`{first}` is one program name with spaces, but this task runs it without a shell"),
            label: "no shell splits it into a program and its arguments: no program has this name".to_string(),
            fixable: true,
        });
    }
    let program = first.rsplit('/').next().unwrap_or(first);
    if matches!(program, "sh" | "bash" | "zsh" | "dash") && argv.iter().any(|a| a == "-c") {
        return None;
    }
    if let Some(packed) = packed_subcommand(program, argv) {
        return Some(Problem {
            message: format!(
                "`{packed}` is several words in one argument, but this task runs `{first}` without a shell"
            ),
            label: format!("`{program}` receives `{packed}` as one word: no subcommand has this name"),
            fixable: false,
        });
    }
    let (word, what) = argv.iter().enumerate().skip(1).find_map(|(i, w)| {
        shell_syntax(program, argv.get(i - 1).map_or("", String::as_str), w).map(|what| (w, what))
    })?;
    Some(Problem {
        message: format!("`{word}` is {what}, but this task runs `{first}` without a shell"),
        label: format!("`{program}` receives `{word}` as it is written"),
        fixable: true,
    })
}

/// Programs with subcommands, and the subcommands that a first argument with spaces
/// (`["apt", "install -qy git make"]`) evidently starts: no subcommand has a space in its name.
const SUBCOMMANDS: &[(&str, &[&str])] = &[
    ("apt", &["install", "update", "upgrade", "remove"]),
    ("apt-get", &["install", "update", "upgrade", "remove"]),
    ("yum", &["install", "update", "remove"]),
    ("dnf", &["install", "update", "remove"]),
    ("apk", &["add", "update"]),
    ("pip", &["install"]),
    ("pip3", &["install"]),
    ("npm", &["install", "ci", "run", "test"]),
    ("yarn", &["install", "run", "test"]),
    ("git", &["clone", "checkout", "fetch", "pull", "push", "commit", "tag"]),
    ("docker", &["build", "run", "push", "pull", "login", "tag"]),
    ("cargo", &["build", "test", "run", "install"]),
    ("go", &["build", "test", "run", "mod", "install"]),
];

/// The first argument, when it packs a subcommand and its arguments into one word.
fn packed_subcommand<'a>(program: &str, argv: &'a [String]) -> Option<&'a str> {
    let (_, subcommands) = SUBCOMMANDS.iter().find(|(p, _)| *p == program)?;
    let first = argv.get(1)?.trim();
    let (word, _) = first.split_once(char::is_whitespace)?;
    subcommands.contains(&word).then_some(first)
}

/// `run ["rm", "-rf", "dir/*.jar"]` → `run "rm -rf dir/*.jar"`, from the words as written.
fn fix(ctx: &Context, file: crate::source::FileId, task: Span) -> Option<Fix> {
    let text = ctx.text(file, task);
    let open = text.find('[')?;
    let (words, close) = list_words(&text[open + 1..])?;
    let joined: Vec<String> = words
        .iter()
        .map(|w| if w.contains(char::is_whitespace) && !w.contains('\'') { format!("'{w}'") } else { w.to_string() })
        .collect();
    let start = task.start + open;
    let end = start + 1 + close + 1;
    Some(Fix {
        message: "write it as a shell script".into(),
        applicability: Applicability::Unsafe,
        edits: vec![Edit { file, span: Span::new(start, end), replacement: format!("\"{}\"", joined.join(" ")) }],
    })
}

/// The raw contents of the string literals of a list, up to its `]` (its offset), when the
/// list holds nothing else.
fn list_words(text: &str) -> Option<(Vec<&str>, usize)> {
    let mut words = Vec::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            ']' => return Some((words, i)),
            ',' => {}
            c if c.is_whitespace() => {}
            '"' => {
                let start = i + 1;
                let mut end = None;
                while let Some((j, n)) = chars.next() {
                    match n {
                        '\\' => {
                            chars.next();
                        }
                        '"' => {
                            end = Some(j);
                            break;
                        }
                        '\n' => return None,
                        _ => {}
                    }
                }
                words.push(text.get(start..end?)?);
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_shell_syntax_from_arguments() {
        assert_eq!(shell_syntax("rm", "-rf", "dist/*.jar"), Some("a glob"));
        assert_eq!(shell_syntax("find", "-name", "*.jar"), None);
        assert_eq!(shell_syntax("cp", "--include", "*.jar"), None);
        assert_eq!(shell_syntax("tar", "--exclude=*.o", "--exclude=*.o"), None);
        assert_eq!(shell_syntax("docker", "-p", "$TOKEN"), Some("a variable"));
        assert_eq!(shell_syntax("echo", "x", "${HOME}/x"), Some("a variable"));
        assert_eq!(shell_syntax("echo", "x", "costs $5"), None);
        assert_eq!(shell_syntax("make", "x", "&&"), Some("an operator"));
        assert_eq!(shell_syntax("make", "x", ">out.log"), Some("an operator"));
        assert_eq!(shell_syntax("curl", "x", "https://x/?a=1"), None);
        // A `$name` that the program reads in its own language.
        assert_eq!(shell_syntax("jq", "--arg", "$foo"), None);
        assert_eq!(shell_syntax("awk", "x", "{ print $NF }"), None);
        assert_eq!(shell_syntax("sed", "-n", "$p"), None);
        assert_eq!(shell_syntax("envsubst", "x", "$HOST $PORT"), None);
        // Its operators and globs are still a shell's.
        assert_eq!(shell_syntax("jq", "x", "|"), Some("an operator"));
    }

    #[test]
    fn a_program_name_with_spaces_is_words_for_a_shell() {
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert!(problem(&argv(&["gradle clean test build"])).is_some());
        assert!(problem(&argv(&["git", "commit", "-m", "a message"])).is_none());
        assert!(problem(&argv(&["bash", "-c", "make && make test"])).is_none());
    }

    #[test]
    fn reads_the_words_of_a_list() {
        assert_eq!(list_words(r#""rm", "-rf",  "a b" ] x"#), Some((vec!["rm", "-rf", "a b"], 20)));
        assert_eq!(list_words(r#""say \"hi\""]"#), Some((vec![r#"say \"hi\""#], 12)));
        assert_eq!(list_words(r#""a", x]"#), None);
    }
}
