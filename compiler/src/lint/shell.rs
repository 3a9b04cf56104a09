//! A rough reading of shell scripts, enough to see which paths a job's scripts write and read,
//! what they wait for, and which commands they run. It never fails: what it cannot read, it
//! leaves out, so rules built on it miss findings rather than invent them.

/// One simple command: its words and the files its redirections name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    pub words: Vec<String>,
    /// `> file`, `>> file`
    pub writes: Vec<String>,
    /// `< file`
    pub reads: Vec<String>,
}

impl Command {
    /// The program's file name (`./ci/x.sh` → `x.sh`), after `sudo`, `env` and `VAR=value`.
    pub fn program(&self) -> Option<&str> {
        let mut words = self.words.iter().map(String::as_str).skip_while(|w| is_assignment(w));
        let mut first = words.next()?;
        while matches!(first, "sudo" | "env" | "exec" | "time" | "nice" | "command") {
            first = words.find(|w| !w.starts_with('-') && !is_assignment(w))?;
        }
        Some(first.rsplit('/').next().unwrap_or(first))
    }

    /// The words after the program.
    pub fn args(&self) -> &[String] {
        self.run().get(1..).unwrap_or(&[])
    }

    /// The program and its arguments: the words after the leading `NAME=value` assignments.
    pub fn run(&self) -> &[String] {
        let skip = self.words.iter().take_while(|w| is_assignment(w)).count();
        self.words.get(skip..).unwrap_or(&[])
    }
}

/// `NAME=value`: a name of letters, digits and `_`, then `=`. Stops at the first byte that
/// cannot be in a name, as most words are not assignments.
fn is_assignment(word: &str) -> bool {
    for (i, b) in word.bytes().enumerate() {
        match b {
            b'=' => return i > 0,
            b'_' => {}
            _ if b.is_ascii_alphanumeric() => {}
            _ => return false,
        }
    }
    false
}

/// Splits a script into simple commands at `;`, `|`, `&&`, `||`, `&`, newlines and `(`/`)`.
pub fn commands(script: &str) -> Vec<Command> {
    let mut out = Vec::new();
    let mut current = Command::default();
    let mut word = String::new();
    let mut in_word = false;
    let mut redirect: Option<char> = None;
    let mut chars = script.chars().peekable();
    let finish_word = |word: &mut String, in_word: &mut bool, current: &mut Command, redirect: &mut Option<char>| {
        if *in_word {
            let w = std::mem::take(word);
            match redirect.take() {
                Some('>') => current.writes.push(w),
                Some('<') => current.reads.push(w),
                _ => current.words.push(w),
            }
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    if n != '\n' {
                        word.push(n);
                        in_word = true;
                    }
                }
            }
            '\'' => {
                in_word = true;
                for n in chars.by_ref() {
                    if n == '\'' {
                        break;
                    }
                    word.push(n);
                }
            }
            '"' => {
                in_word = true;
                while let Some(n) = chars.next() {
                    match n {
                        '"' => break,
                        '\\' => {
                            if let Some(e) = chars.next() {
                                word.push(e);
                            }
                        }
                        _ => word.push(n),
                    }
                }
            }
            '#' if !in_word => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                finish_word(&mut word, &mut in_word, &mut current, &mut redirect);
                out.push(std::mem::take(&mut current));
            }
            '>' | '<' => {
                // `2>` and `&>`: the digit is part of the operator, not a word.
                if in_word && (word.chars().all(|c| c.is_ascii_digit()) || word == "&") {
                    word.clear();
                    in_word = false;
                }
                finish_word(&mut word, &mut in_word, &mut current, &mut redirect);
                if chars.peek() == Some(&'>') || chars.peek() == Some(&'&') {
                    chars.next();
                }
                // `>&2` and `2>&1` name no file.
                if chars.peek().is_some_and(|n| n.is_ascii_digit()) && c == '>' {
                    chars.next();
                    continue;
                }
                redirect = Some(c);
            }
            ';' | '|' | '&' | '\n' | '(' | ')' | '`' => {
                finish_word(&mut word, &mut in_word, &mut current, &mut redirect);
                if !current.words.is_empty() || !current.writes.is_empty() || !current.reads.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            '$' if chars.peek() == Some(&'(') => {
                chars.next();
                finish_word(&mut word, &mut in_word, &mut current, &mut redirect);
                if !current.words.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c if c.is_whitespace() => finish_word(&mut word, &mut in_word, &mut current, &mut redirect),
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    finish_word(&mut word, &mut in_word, &mut current, &mut redirect);
    if !current.words.is_empty() || !current.writes.is_empty() || !current.reads.is_empty() {
        out.push(current);
    }
    out
}

/// A path as a job's workspace knows it: `./` and a trailing `/` removed. `None` for what is
/// not a workspace path (flags, URLs, variables, `/dev/null`, `.`).
pub(crate) fn normalize(word: &str) -> Option<String> {
    let w = word.trim();
    if w.is_empty() || w.starts_with('-') || w.contains("://") || w.contains('$') || w.contains('=') {
        return None;
    }
    let mut w = w;
    while let Some(rest) = w.strip_prefix("./") {
        w = rest;
    }
    // A path names a folder or has an extension; a bare word is more often an argument.
    let path_like = w.contains('/') || w.contains('.');
    let w = w.trim_end_matches('/');
    if w.is_empty() || w == "." || w == ".." || w.starts_with("/dev/") || w == "/dev" || w == "/" || w == "~" {
        return None;
    }
    path_like.then(|| w.to_string())
}

/// Like [`normalize`], for a word that an option says is a path (`--out build`).
fn normalize_output(word: &str) -> Option<String> {
    normalize(word).or_else(|| {
        let w = word.trim();
        let plain = !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        (plain && !w.starts_with('-')).then(|| w.to_string())
    })
}

/// The paths a script creates or writes.
pub fn writes(script: &str) -> Vec<String> {
    writes_of(&commands(script))
}

/// The paths parsed commands create or write.
pub(crate) fn writes_of(cmds: &[Command]) -> Vec<String> {
    let mut out = Vec::new();
    for cmd in cmds {
        out.extend(cmd.writes.iter().filter_map(|w| normalize(w)));
        let args = cmd.args();
        let plain: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        match cmd.program() {
            Some("touch" | "mkdir" | "tee") => out.extend(plain.iter().filter_map(|a| normalize(a))),
            Some("cp" | "mv" | "ln" | "rsync" | "install") => out.extend(plain.last().and_then(|a| normalize(a))),
            Some("tar") => {
                if let Some(i) = args.iter().position(|a| a.starts_with('-') && a.contains('f') || a == "-f") {
                    out.extend(args.get(i + 1).and_then(|a| normalize(a)));
                } else if args.first().is_some_and(|a| a.contains('c') && a.contains('f')) {
                    out.extend(args.get(1).and_then(|a| normalize(a)));
                }
            }
            Some("zip") => out.extend(plain.first().and_then(|a| normalize(a))),
            // `docker cp container:/src dest` copies out of a container.
            Some("docker") if args.first().is_some_and(|a| a == "cp") => {
                out.extend(plain.last().filter(|a| !a.contains(':')).and_then(|a| normalize(a)))
            }
            _ => {}
        }
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if matches!(a.as_str(), "-o" | "--output" | "--out" | "--out-dir" | "--output-dir" | "--outdir") {
                out.extend(args.get(i + 1).and_then(|n| normalize_output(n)));
                i += 1;
            } else if let Some(v) = ["--output=", "--out=", "--out-dir=", "--output-dir=", "--outdir="]
                .iter()
                .find_map(|p| a.strip_prefix(p))
            {
                out.extend(normalize_output(v));
            }
            i += 1;
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The folders that well-known tools fill without naming them: `go mod vendor` makes
/// `vendor`, `npm ci` makes `node_modules`, `python -m build` makes `dist`, `gradle build`
/// makes `build`.
pub fn implicit_outputs(cmds: &[Command]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for cmd in cmds {
        let tools = [
            "go", "composer", "npm", "yarn", "pnpm", "python", "python3", "poetry", "hatch", "uv", "flit", "gradle",
            "gradlew",
        ];
        if !cmd.program().is_some_and(|p| tools.contains(&p)) {
            continue;
        }
        let args: Vec<&str> = cmd.args().iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect();
        let first = args.first().copied().unwrap_or("");
        let folder = match (cmd.program(), first) {
            (Some("go"), "mod") if args.get(1) == Some(&"vendor") => Some("vendor"),
            (Some("composer"), "install" | "update") => Some("vendor"),
            (Some("npm"), "ci" | "install") | (Some("yarn"), "install" | "") | (Some("pnpm"), "install") => {
                Some("node_modules")
            }
            (Some("npm" | "yarn" | "pnpm"), "run") if args.get(1) == Some(&"build") => Some("dist"),
            (Some("yarn" | "pnpm"), "build") => Some("dist"),
            (Some("python" | "python3"), "setup.py")
                if args.iter().any(|a| a.starts_with("sdist") || a.starts_with("bdist")) =>
            {
                Some("dist")
            }
            (Some("python" | "python3"), _) if cmd.args().windows(2).any(|w| w[0] == "-m" && w[1] == "build") => {
                Some("dist")
            }
            (Some("poetry" | "hatch" | "uv" | "flit"), "build") => Some("dist"),
            (Some("gradle" | "gradlew"), "build" | "assemble" | "jar") => Some("build"),
            _ => None,
        };
        out.extend(folder);
    }
    out.sort();
    out.dedup();
    out
}

/// The folders that well-known commands read without naming them: a package script (`npm
/// test`, `npm run build`, `yarn lint`, `pnpm run e2e`) runs the tools in `node_modules`, and
/// `go build -mod=vendor` reads `vendor`.
pub fn implicit_inputs(cmds: &[Command]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for cmd in cmds {
        let args: Vec<&str> = cmd.args().iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect();
        let first = args.first().copied().unwrap_or("");
        let folder = match cmd.program() {
            Some("npm") if matches!(first, "test" | "t" | "run" | "run-script" | "start") => Some("node_modules"),
            Some("pnpm") if matches!(first, "test" | "run" | "start") => Some("node_modules"),
            Some("yarn") if !matches!(first, "" | "install" | "add" | "remove" | "global" | "config" | "cache") => {
                Some("node_modules")
            }
            Some("go") if cmd.args().iter().any(|a| a == "-mod=vendor") => Some("vendor"),
            _ => None,
        };
        out.extend(folder);
    }
    out.sort();
    out.dedup();
    out
}

/// Every path a script names (what it reads, writes or runs).
#[cfg(test)]
pub(crate) fn mentions(script: &str) -> Vec<String> {
    mentions_of(&commands(script))
}

/// Every path parsed commands name.
pub(crate) fn mentions_of(cmds: &[Command]) -> Vec<String> {
    let mut out = Vec::new();
    for cmd in cmds {
        out.extend(cmd.reads.iter().filter_map(|w| normalize(w)));
        for w in &cmd.words {
            if let Some((_, value)) = w.split_once('=').filter(|_| w.starts_with("--") || is_assignment(w)) {
                out.extend(normalize(value));
            } else {
                out.extend(normalize(w));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The paths a script polls for in a `while`/`until` loop or waits for with a tool.
#[cfg(test)]
pub(crate) fn waits_for(script: &str) -> Vec<String> {
    waits_of(&commands(script))
}

/// The paths parsed commands poll or wait for.
pub(crate) fn waits_of(cmds: &[Command]) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_loop = false;
    for cmd in cmds {
        let words: Vec<&str> = cmd.words.iter().map(String::as_str).collect();
        if matches!(words.first(), Some(&"while") | Some(&"until")) {
            in_loop = true;
        }
        if matches!(words.first(), Some(&"done")) {
            in_loop = false;
        }
        if in_loop || matches!(cmd.program(), Some("inotifywait" | "wait-for-file" | "wait-for")) {
            for pair in words.windows(2) {
                if matches!(pair[0], "-f" | "-e" | "-d" | "-s") || !in_loop {
                    out.extend(normalize(pair[1]));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether a path a script names is `produced` or inside it, or matches it as a glob.
pub(crate) fn refers_to(mentioned: &str, produced: &str) -> bool {
    if mentioned.eq_ignore_ascii_case(produced) {
        return true;
    }
    if mentioned.len() > produced.len()
        && mentioned.starts_with(produced)
        && mentioned.as_bytes()[produced.len()] == b'/'
    {
        return true;
    }
    (mentioned.contains('*') || mentioned.contains('?'))
        && mentioned.matches('/').count() == produced.matches('/').count()
        && mentioned.split('/').zip(produced.split('/')).all(|(m, p)| super::glob::match_segment(m, p))
}

/// Where a download is piped into an interpreter (`curl ... | sh`): the text of the pipeline.
pub(crate) fn piped_downloads(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in script.lines() {
        let parts: Vec<&str> = line.split('|').collect();
        for pair in parts.windows(2) {
            let fetch = commands(pair[0]);
            let run = commands(pair[1]);
            let downloads =
                fetch.last().and_then(|c| c.program()).is_some_and(|p| matches!(p, "curl" | "wget" | "fetch"));
            let interprets = run.first().and_then(|c| c.program()).is_some_and(is_interpreter);
            if downloads && interprets {
                let run = pair[1].split("&&").next().unwrap_or("").split([';', '&']).next().unwrap_or("");
                let fetch = pair[0].rsplit("&&").next().unwrap_or("").rsplit([';', '&', '(']).next().unwrap_or("");
                out.push(format!("{}|{}", fetch.trim_start(), run.trim_end()).trim().to_string());
            }
        }
        // `sh -c "$(curl ...)"` and `bash <(curl ...)`
        for cmd in commands(line) {
            if cmd.program().is_some_and(is_interpreter)
                && (line.contains("$(curl")
                    || line.contains("$(wget")
                    || line.contains("<(curl")
                    || line.contains("<(wget"))
            {
                out.push(line.trim().to_string());
                break;
            }
        }
    }
    out.dedup();
    out
}

fn is_interpreter(program: &str) -> bool {
    matches!(
        program,
        "sh" | "bash" | "zsh" | "dash" | "ksh" | "fish" | "python" | "python3" | "perl" | "ruby" | "node" | "pwsh"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_commands_and_redirections() {
        let cmds = commands("cd app && make > build.log 2>&1; echo 'a b' | tee out/x.txt");
        assert_eq!(cmds.len(), 4);
        assert_eq!(cmds[1].words, vec!["make"]);
        assert_eq!(cmds[1].writes, vec!["build.log"]);
        assert_eq!(cmds[2].words, vec!["echo", "a b"]);
        assert_eq!(cmds[3].program(), Some("tee"));
    }

    #[test]
    fn finds_written_paths() {
        let w = writes("go build -o bin/app ./cmd\nmkdir -p dist && tar czf dist/app.tgz bin\ncp bin/app /srv/app\necho hi > ./report.txt");
        assert_eq!(w, vec!["/srv/app", "bin/app", "dist/app.tgz", "report.txt"]);
        assert!(writes("cargo build --release 2>&1 | tee /dev/null").is_empty());
        assert_eq!(writes("tool render --out rendered/ && mkdir build"), vec!["rendered"]);
        assert_eq!(mentions("tool apply rendered/ build"), vec!["rendered"]);
    }

    #[test]
    fn finds_folders_tools_fill() {
        assert_eq!(implicit_outputs(&commands("go mod vendor && npm ci")), vec!["node_modules", "vendor"]);
        assert_eq!(implicit_outputs(&commands("python -m build; ./gradlew assemble")), vec!["build", "dist"]);
        assert!(implicit_outputs(&commands("go build ./... && npm test")).is_empty());
        assert_eq!(
            implicit_inputs(&commands("npm test && yarn lint && go build -mod=vendor .")),
            vec!["node_modules", "vendor"]
        );
        assert!(implicit_inputs(&commands("npm ci && yarn && yarn add x && go build ./...")).is_empty());
        assert_eq!(writes("docker cp app:/srv/report.xml out/report.xml"), vec!["out/report.xml"]);
        assert!(writes("docker cp out/x app:/srv/x").is_empty());
    }

    #[test]
    fn finds_mentioned_and_polled_paths() {
        assert_eq!(
            mentions("./bin/app --config=conf/app.toml < input.txt"),
            vec!["bin/app", "conf/app.toml", "input.txt"]
        );
        assert_eq!(waits_for("while [ ! -f dist/ready.flag ]; do sleep 1; done"), vec!["dist/ready.flag"]);
        assert!(waits_for("test -f x.txt").is_empty());
        assert!(refers_to("target/release/app/bin", "target/release/app"));
        assert!(refers_to("dist/*.tgz", "dist/app.tgz"));
        assert!(!refers_to("target/release", "target/release/app"));
    }

    #[test]
    fn finds_piped_downloads() {
        assert_eq!(
            piped_downloads("curl -fsSL https://x.sh/install | sh -s -- -y"),
            vec!["curl -fsSL https://x.sh/install | sh -s -- -y"]
        );
        assert_eq!(piped_downloads("wget -qO- https://x | sudo bash").len(), 1);
        assert_eq!(piped_downloads("cd x && curl -s https://x | sh && make"), vec!["curl -s https://x | sh"]);
        assert_eq!(piped_downloads("bash -c \"$(curl -fsSL https://x)\"").len(), 1);
        assert!(piped_downloads("curl -o install.sh https://x && sha256sum -c sums && sh install.sh").is_empty());
        assert!(piped_downloads("curl https://x | tar xz").is_empty());
    }
}
