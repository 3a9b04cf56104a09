//! Fan-out expansion, the one owner of how a `for` value becomes a job: the job's name, and the
//! `#{var}` templates of a `discover` job, written by the checker and filled in by the runtime.
//!
//! In the text of a `discover` job, `#{var}` stands for the value the command prints, and `\#{`
//! is a literal `#{`, as in the language's strings. Backslashes just before a `#{` are doubled,
//! so that `\\#{var}` is a literal backslash and the value. Every other character stands for
//! itself, so the plan of a script without `#{` reads as it was written.

/// A name-safe form of a value: characters outside names become `-`
/// (`web-1.example.com` → `web-1-example-com`).
pub fn name_safe(value: &str) -> String {
    value.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' }).collect()
}

/// The name of the job a fan-out makes for one value: `NAME-VALUE`, the value made name-safe.
pub fn instance_name(base: &str, value: &str) -> String {
    format!("{base}-{}", name_safe(value))
}

/// Text built from literal pieces and placeholders: the literal pieces escaped when `escaped`
/// (the text of a `discover` job), as they are otherwise.
#[derive(Debug, Default)]
pub struct Template {
    escaped: bool,
    text: String,
    literal: String,
}

impl Template {
    pub fn new(escaped: bool) -> Self {
        Template { escaped, ..Default::default() }
    }

    pub fn literal(&mut self, text: &str) {
        self.literal.push_str(text);
    }

    /// The value of `var`, filled in by [`expand`].
    pub fn placeholder(&mut self, var: &str) {
        self.template(&format!("#{{{var}}}"));
    }

    /// Text already in template form, such as an argument made in the same `discover` job.
    pub fn template(&mut self, text: &str) {
        self.flush();
        if self.escaped && text.trim_start_matches('\\').starts_with("#{") {
            // The literal backslashes before it must not escape its first `#{`.
            self.text.extend(std::iter::repeat_n('\\', trailing_backslashes(&self.text)));
        }
        self.text.push_str(text);
    }

    pub fn finish(mut self) -> String {
        self.flush();
        self.text
    }

    fn flush(&mut self) {
        if self.escaped {
            self.text.push_str(&escape(&self.literal));
        } else {
            self.text.push_str(&self.literal);
        }
        self.literal.clear();
    }
}

/// Literal text as template text: every `#{` escaped, with the backslashes before it doubled.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#{") {
        let before = &rest[..at];
        out.push_str(before);
        out.extend(std::iter::repeat_n('\\', trailing_backslashes(before) + 1));
        out.push_str("#{");
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out
}

fn trailing_backslashes(text: &str) -> usize {
    text.len() - text.trim_end_matches('\\').len()
}

/// A template with `#{var}` (spaces inside the braces allowed, any case) replaced by `value` and
/// the escapes of [`escape`] undone. Another name in `#{...}` stays as written.
pub fn expand(template: &str, var: &str, value: &str) -> String {
    let mut out = String::with_capacity(template.len() + value.len());
    let mut rest = template;
    while let Some(at) = rest.find("#{") {
        let before = &rest[..at];
        let backslashes = trailing_backslashes(before);
        out.push_str(&before[..before.len() - backslashes]);
        out.extend(std::iter::repeat_n('\\', backslashes / 2));
        let after = &rest[at + 2..];
        if backslashes % 2 == 1 {
            out.push_str("#{");
            rest = after;
            continue;
        }
        match after.find('}') {
            Some(end) if after[..end].trim().eq_ignore_ascii_case(var) => {
                out.push_str(value);
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("#{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expanding_an_escaped_text_gives_it_back() {
        for text in ["plain", "a #{host} b", r"a \#{host}", r"\\#{x}\", "#{", r"\", "a\\b #{}#{"] {
            assert_eq!(expand(&escape(text), "host", "v"), text, "{text}");
            let mut t = Template::new(true);
            t.literal(text);
            t.placeholder("host");
            t.literal(text);
            assert_eq!(expand(&t.finish(), "host", "v"), format!("{text}v{text}"), "{text}");
        }
    }

    #[test]
    fn placeholders_take_the_value_and_escapes_stay_literal() {
        let mut t = Template::new(true);
        t.literal("echo literal=#{host} value=");
        t.placeholder("host");
        let template = t.finish();
        assert_eq!(template, r"echo literal=\#{host} value=#{host}");
        assert_eq!(expand(&template, "host", "a"), "echo literal=#{host} value=a");
        assert_eq!(expand(r"\\#{ HOST }", "host", "a"), r"\a");
        assert_eq!(expand("a #{x} #{ x } #{y} #{x", "x", "1"), "a 1 1 #{y} #{x");
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(instance_name("deploy", "web 1.example"), "deploy-web-1-example");
        assert_eq!(name_safe("web-1.example.com"), "web-1-example-com");
    }
}
