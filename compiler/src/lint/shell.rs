//! A rough reading of shell scripts, enough to see which paths a job's scripts write and read,
//! what they wait for, and which commands they run. It never fails: what it cannot read, it
//! leaves out, so rules built on it miss findings rather than invent them.

use std::borrow::Cow;

/// A word of a script: a slice of it when the script spells it plainly (`make`, `'a b'`), a
/// copy when quotes or escapes had to be taken out (`a'b'`, `a\ b`).
pub type Word<'s> = Cow<'s, str>;

/// One simple command: its words and the files its redirections name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command<'s> {
    pub words: Vec<Word<'s>>,
    /// `> file`, `>> file`
    pub writes: Vec<Word<'s>>,
    /// `< file`
    pub reads: Vec<Word<'s>>,
    /// Where the program's file name is: its word, and where the name starts in it.
    program_at: Option<(u32, u32)>,
}

impl<'s> Command<'s> {
    /// The command of an argv task: its words as written, which no shell reads.
    pub fn of_argv(argv: &'s [String]) -> Self {
        let mut cmd = Command { words: argv.iter().map(|a| Cow::Borrowed(a.as_str())).collect(), ..Command::default() };
        cmd.locate_program();
        cmd
    }

    /// Finds the program once: rules ask for it often.
    fn locate_program(&mut self) {
        let mut words = self.words.iter().enumerate().skip_while(|(_, w)| is_assignment(w));
        let Some(mut first) = words.next() else { return };
        while matches!(&**first.1, "sudo" | "env" | "exec" | "time" | "nice" | "command") {
            let Some(next) = words.find(|(_, w)| !w.starts_with('-') && !is_assignment(w)) else { return };
            first = next;
        }
        let (at, word) = first;
        let start = word.rfind('/').map_or(0, |slash| slash + 1);
        self.program_at = Some((at as u32, start as u32));
    }

    /// The program's file name (`./ci/x.sh` → `x.sh`), after `sudo`, `env` and `VAR=value`.
    pub fn program(&self) -> Option<&str> {
        let (word, start) = self.program_at?;
        self.words.get(word as usize)?.get(start as usize..)
    }

    /// The words after the program.
    pub fn args(&self) -> &[Word<'s>] {
        self.run().get(1..).unwrap_or(&[])
    }

    /// The program and its arguments: the words after the leading `NAME=value` assignments.
    pub fn run(&self) -> &[Word<'s>] {
        let skip = self.words.iter().take_while(|w| is_assignment(w)).count();
        self.words.get(skip..).unwrap_or(&[])
    }

    fn is_empty(&self) -> bool {
        self.words.is_empty() && self.writes.is_empty() && self.reads.is_empty()
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

/// The word being read: where it started and ended in the script while its pieces follow each
/// other there, a copy once they do not (a quote or an escape came between).
struct WordBuf<'s> {
    script: &'s str,
    started: bool,
    range: std::ops::Range<usize>,
    owned: Option<String>,
}

impl<'s> WordBuf<'s> {
    fn new(script: &'s str) -> Self {
        WordBuf { script, started: false, range: 0..0, owned: None }
    }

    /// Adds the script's text at `piece` to the word.
    fn push(&mut self, piece: std::ops::Range<usize>) {
        let text = &self.script[piece.clone()];
        if let Some(owned) = &mut self.owned {
            owned.push_str(text);
        } else if !self.started {
            self.range = piece;
        } else if self.range.end == piece.start {
            self.range.end = piece.end;
        } else {
            let mut owned = self.script[self.range.clone()].to_string();
            owned.push_str(text);
            self.owned = Some(owned);
        }
        self.started = true;
    }

    fn text(&self) -> &str {
        self.owned.as_deref().unwrap_or(&self.script[self.range.clone()])
    }

    fn clear(&mut self) {
        self.started = false;
        self.owned = None;
    }

    fn take(&mut self) -> Option<Word<'s>> {
        if !self.started {
            return None;
        }
        self.started = false;
        Some(match self.owned.take() {
            Some(owned) => Cow::Owned(owned),
            None => Cow::Borrowed(&self.script[self.range.clone()]),
        })
    }
}

/// The command being read, and where its next word goes.
struct Reader<'s> {
    out: Vec<Command<'s>>,
    current: Command<'s>,
    word: WordBuf<'s>,
    redirect: Option<char>,
}

impl<'s> Reader<'s> {
    fn finish_word(&mut self) {
        if let Some(w) = self.word.take() {
            match self.redirect.take() {
                Some('>') => self.current.writes.push(w),
                Some('<') => self.current.reads.push(w),
                _ => self.current.words.push(w),
            }
        }
    }

    /// Ends the command being read, when it has something.
    fn finish_command(&mut self) {
        self.finish_word();
        if !self.current.is_empty() {
            self.push_command();
        }
    }

    fn push_command(&mut self) {
        let mut cmd = std::mem::take(&mut self.current);
        cmd.locate_program();
        self.out.push(cmd);
    }
}

/// Splits a script into simple commands at `;`, `|`, `&&`, `||`, `&`, newlines and `(`/`)`.
/// Words borrow from the script where they can.
pub fn commands(script: &str) -> Vec<Command<'_>> {
    let b = script.as_bytes();
    let mut r = Reader { out: Vec::new(), current: Command::default(), word: WordBuf::new(script), redirect: None };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i = r.escaped(i + 1),
            b'\'' => {
                let end = find(b, i + 1, |c| c == b'\'');
                r.word.push(i + 1..end);
                i = end + 1;
            }
            b'"' => i = r.double_quoted(i + 1),
            b'#' if !r.word.started => {
                i = find(b, i, |c| c == b'\n') + 1;
                r.finish_word();
                r.push_command();
            }
            c @ (b'>' | b'<') => i = r.redirection(c, i + 1),
            b';' | b'|' | b'&' | b'\n' | b'(' | b')' | b'`' => {
                r.finish_command();
                i += 1;
            }
            b'$' if b.get(i + 1) == Some(&b'(') => {
                i += 2;
                r.finish_word();
                if !r.current.words.is_empty() {
                    r.push_command();
                }
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {
                r.finish_word();
                i += 1;
            }
            // A run of plain bytes: every byte that ends one is ASCII, so the run is text.
            _ => {
                let end = find(b, i + 1, |c| PLAIN_END[c as usize]);
                r.word.push(i..end);
                i = end;
            }
        }
    }
    r.finish_command();
    r.out
}

/// The bytes that end a run of plain text in a word (`#` does not: inside a word it is text).
static PLAIN_END: [bool; 256] = {
    let mut table = [false; 256];
    let ends = b"\\'\"><;|&\n()`$ \t\r\x0b\x0c";
    let mut i = 0;
    while i < ends.len() {
        table[ends[i] as usize] = true;
        i += 1;
    }
    table
};

/// The position of the first byte from `from` that `stop` accepts, or the end.
fn find(b: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> usize {
    b.get(from..).and_then(|rest| rest.iter().position(|&c| stop(c))).map_or(b.len(), |p| from + p)
}

impl Reader<'_> {
    /// After a `\\` at `at - 1`: the character at `at` is kept, a newline joins the lines.
    /// Returns where reading goes on.
    fn escaped(&mut self, at: usize) -> usize {
        let script = self.word.script;
        match script.get(at..).and_then(|rest| rest.chars().next()) {
            Some('\n') => at + 1,
            Some(c) => {
                self.word.push(at..at + c.len_utf8());
                at + c.len_utf8()
            }
            None => at,
        }
    }

    /// A double-quoted piece from `start` (after its `"`): an escaped character is kept.
    fn double_quoted(&mut self, mut start: usize) -> usize {
        let script = self.word.script;
        let b = script.as_bytes();
        // Marks the word begun, so that `""` is a word.
        self.word.push(start..start);
        let mut from = start;
        loop {
            let at = find(b, from, |c| c == b'"' || c == b'\\');
            self.word.push(start..at);
            if at >= b.len() || b[at] == b'"' {
                return at + 1;
            }
            let Some(c) = script.get(at + 1..).and_then(|rest| rest.chars().next()) else { return b.len() };
            start = at + 1;
            from = start + c.len_utf8();
        }
    }

    /// A `>` or `<` before `at`: the next word is the file it names (`2>&1` and `>&2` name none).
    fn redirection(&mut self, c: u8, mut at: usize) -> usize {
        let b = self.word.script.as_bytes();
        // `2>` and `&>`: the digit is part of the operator, not a word.
        if self.word.started && (self.word.text().bytes().all(|d| d.is_ascii_digit()) || self.word.text() == "&") {
            self.word.clear();
        }
        self.finish_word();
        if matches!(b.get(at), Some(b'>' | b'&')) {
            at += 1;
        }
        if c == b'>' && b.get(at).is_some_and(u8::is_ascii_digit) {
            return at + 1;
        }
        self.redirect = Some(c as char);
        at
    }
}

/// A path as a job's workspace knows it: `./` and a trailing `/` removed. `None` for what is
/// not a workspace path (flags, URLs, variables, `/dev/null`, `.`).
pub(crate) fn normalize(word: &str) -> Option<&str> {
    let mut w = word.trim();
    if w.starts_with('-') {
        return None;
    }
    while let Some(rest) = w.strip_prefix("./") {
        w = rest;
    }
    // One pass: a URL or a variable is no path; a path names a folder or has an extension, a
    // bare word is more often an argument.
    let mut path_like = false;
    for (i, b) in w.bytes().enumerate() {
        match b {
            b'$' | b'=' => return None,
            b':' if w[i..].starts_with("://") => return None,
            b'/' | b'.' => path_like = true,
            _ => {}
        }
    }
    let w = w.trim_end_matches('/');
    if w.is_empty() || w == "." || w == ".." || w.starts_with("/dev/") || w == "/dev" || w == "/" || w == "~" {
        return None;
    }
    path_like.then_some(w)
}

/// The part `find` finds of a word, borrowed from the script when the word is.
fn within<'s>(word: &Word<'s>, find: impl Fn(&str) -> Option<&str>) -> Option<Word<'s>> {
    match word {
        Cow::Borrowed(w) => find(w).map(Cow::Borrowed),
        Cow::Owned(w) => find(w).map(|part| Cow::Owned(part.to_string())),
    }
}

/// Like [`normalize`], for a word that an option says is a path (`--out build`).
fn normalize_output(word: &str) -> Option<&str> {
    normalize(word).or_else(|| {
        let w = word.trim();
        let plain = !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        (plain && !w.starts_with('-')).then_some(w)
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
        let plain = || args.iter().filter(|a| !a.starts_with('-'));
        match cmd.program() {
            Some("touch" | "mkdir" | "tee") => out.extend(plain().filter_map(|a| normalize(a))),
            Some("cp" | "mv" | "ln" | "rsync" | "install") => {
                out.extend(plain().next_back().and_then(|a| normalize(a)))
            }
            Some("tar") => {
                if let Some(i) = args.iter().position(|a| a.starts_with('-') && a.contains('f') || a == "-f") {
                    out.extend(args.get(i + 1).and_then(|a| normalize(a)));
                } else if args.first().is_some_and(|a| a.contains('c') && a.contains('f')) {
                    out.extend(args.get(1).and_then(|a| normalize(a)));
                }
            }
            Some("zip") => out.extend(plain().next().and_then(|a| normalize(a))),
            // `docker cp container:/src dest` copies out of a container.
            Some("docker") if args.first().is_some_and(|a| a == "cp") => {
                out.extend(plain().next_back().filter(|a| !a.contains(':')).and_then(|a| normalize(a)))
            }
            _ => {}
        }
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if matches!(&**a, "-o" | "--output" | "--out" | "--out-dir" | "--output-dir" | "--outdir") {
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
    out.into_iter().map(String::from).collect()
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
        let args: Vec<&str> = cmd.args().iter().map(|a| &**a).filter(|a| !a.starts_with('-')).collect();
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
        let program = cmd.program();
        if !matches!(program, Some("npm" | "pnpm" | "yarn" | "go")) {
            continue;
        }
        let first = cmd.args().iter().map(|a| &**a).find(|a| !a.starts_with('-')).unwrap_or("");
        let folder = match program {
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
    mentions_of(&commands(script)).into_iter().map(String::from).collect()
}

/// Every path parsed commands name.
pub(crate) fn mentions_of<'s>(cmds: &[Command<'s>]) -> Vec<Word<'s>> {
    let mut out = Vec::new();
    for cmd in cmds {
        out.extend(cmd.reads.iter().filter_map(|w| within(w, normalize)));
        for w in &cmd.words {
            out.extend(within(w, |w| match w.split_once('=').filter(|_| w.starts_with("--") || is_assignment(w)) {
                Some((_, value)) => normalize(value),
                None => normalize(w),
            }));
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
        match cmd.words.first().map(|w| &**w) {
            Some("while" | "until") => in_loop = true,
            Some("done") => in_loop = false,
            _ => {}
        }
        if in_loop || matches!(cmd.program(), Some("inotifywait" | "wait-for-file" | "wait-for")) {
            for pair in cmd.words.windows(2) {
                if matches!(&*pair[0], "-f" | "-e" | "-d" | "-s") || !in_loop {
                    out.extend(normalize(&pair[1]));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out.into_iter().map(String::from).collect()
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
    mentioned.bytes().any(|b| b == b'*' || b == b'?')
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
    fn words_borrow_from_the_script_unless_quotes_were_taken_out() {
        let cmds = commands(r#"make 'a b' "c d" e\ f g"h"i "" x"#);
        let words = &cmds[0].words;
        assert_eq!(words, &["make", "a b", "c d", "e f", "ghi", "", "x"]);
        let borrowed: Vec<bool> = words.iter().map(|w| matches!(w, Cow::Borrowed(_))).collect();
        assert_eq!(borrowed, [true, true, true, false, false, true, true]);
        assert_eq!(commands(r#"echo "a\"b" 'open"#)[0].words, ["echo", "a\"b", "open"]);
        assert_eq!(commands("echo \"open\\")[0].words, ["echo", "open"]);
        assert_eq!(commands("a\\\nb 2>&1 >out")[0].words, ["ab"]);
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
