//! A small YAML writer for generated configuration: block style, two spaces of indentation, and
//! every scalar that a YAML 1.1 or 1.2 reader could take for something else double-quoted.
//!
//! Written here rather than taken from a YAML library's emitter because the readers of the output
//! are YAML 1.1 ones (GoCD's plugin reads `y`, `n`, `on` and `off` as booleans, which YAML 1.2
//! emitters leave bare) and because scripts should stay readable as literal blocks.

use std::fmt::Write;

/// A YAML document's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Str(String),
    Int(u64),
    Bool(bool),
    List(Vec<Node>),
    /// Keys in the order written.
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn str(text: impl Into<String>) -> Node {
        Node::Str(text.into())
    }

    /// A map of the pairs, in order.
    pub fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Node)>) -> Node {
        Node::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    fn is_collection(&self) -> bool {
        matches!(self, Node::List(items) if !items.is_empty()) || matches!(self, Node::Map(pairs) if !pairs.is_empty())
    }
}

/// The document as text, ending with a line feed.
pub fn to_string(root: &Node) -> String {
    let mut out = String::new();
    match root {
        Node::Map(pairs) if !pairs.is_empty() => map(&mut out, pairs, 0),
        Node::List(items) if !items.is_empty() => list(&mut out, items, 0),
        scalar => {
            inline(&mut out, scalar, 0);
            out.push('\n');
        }
    }
    out
}

fn map(out: &mut String, pairs: &[(String, Node)], indent: usize) {
    for (i, (key, value)) in pairs.iter().enumerate() {
        // The first pair of a map that is a list item follows its `- ` on the same line.
        if i > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        out.push_str(&quoted_if_needed(key));
        out.push(':');
        value_after(out, value, indent);
    }
}

fn list(out: &mut String, items: &[Node], indent: usize) {
    for item in items {
        pad(out, indent);
        out.push('-');
        match item {
            Node::Map(pairs) if !pairs.is_empty() => {
                out.push(' ');
                map(out, pairs, indent + 2);
            }
            Node::List(inner) if !inner.is_empty() => {
                out.push('\n');
                list(out, inner, indent + 2);
            }
            scalar => {
                out.push(' ');
                inline(out, scalar, indent);
                out.push('\n');
            }
        }
    }
}

/// A value after `key:`: nested collections on the next lines, scalars on the same line.
fn value_after(out: &mut String, value: &Node, indent: usize) {
    if value.is_collection() {
        out.push('\n');
        match value {
            Node::Map(pairs) => map(out, pairs, indent + 2),
            Node::List(items) => list(out, items, indent + 2),
            _ => {}
        }
    } else {
        out.push(' ');
        inline(out, value, indent);
        out.push('\n');
    }
}

/// A scalar or an empty collection, at the current position; a literal block's lines are
/// indented two spaces past `indent`.
fn inline(out: &mut String, node: &Node, indent: usize) {
    match node {
        Node::Str(s) if literal_block_fits(s) => {
            out.push_str("|-");
            for line in s.split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    pad(out, indent + 2);
                    out.push_str(line);
                }
            }
        }
        Node::Str(s) => out.push_str(&quoted_if_needed(s)),
        Node::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::List(_) => out.push_str("[]"),
        Node::Map(_) => out.push_str("{}"),
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Whether a string of several lines can be a `|-` block and read back the same: printable
/// characters only, no line starting with a space (the reader would take it for indentation),
/// and no line break at either end (`|-` drops the final one).
fn literal_block_fits(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with('\n')
        && !s.ends_with('\n')
        && s.split('\n').all(|line| !line.starts_with(' ') && !line.ends_with(' '))
        && s.chars().all(|c| c == '\n' || !needs_escape(c))
}

/// The scalar as written: bare when no reader can mistake it, double-quoted otherwise.
pub fn quoted_if_needed(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_string()
    } else {
        double_quoted(s)
    }
}

/// Words YAML 1.1 reads as booleans or null, in the forms its specification lists.
const SPECIAL_WORDS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on",
    "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
];

/// A bare scalar that every reader takes for this string: it starts with a letter, `_` or `/`,
/// holds only letters, digits, single inner spaces and `_ . / @ + -`, and is no special word.
/// Numbers, dates and anything else starting with a digit are therefore quoted.
fn is_plain_safe(s: &str) -> bool {
    let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/');
    first_ok
        && !s.ends_with(' ')
        && !s.contains("  ")
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | '/' | '@' | '+' | '-'))
        && !SPECIAL_WORDS.contains(&s)
}

/// Characters a double-quoted scalar writes as an escape: controls, YAML's own line breaks
/// (NEL, LS, PS), and the byte order mark.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reading back what was written, for tests: a YAML 1.2 reader's document in the shape of
/// [`Node`], and paths into it.
#[cfg(test)]
pub(crate) mod read_back {
    use super::Node;
    use saphyr::{LoadableYamlNode, Scalar, Yaml};

    /// Parses `text`, which must hold one document.
    pub(crate) fn read(text: &str) -> Node {
        let docs = Yaml::load_from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(docs.len(), 1, "{text}");
        from_yaml(&docs[0])
    }

    fn from_yaml(y: &Yaml) -> Node {
        match y {
            Yaml::Sequence(items) => Node::List(items.iter().map(from_yaml).collect()),
            Yaml::Mapping(pairs) => Node::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.as_str().map(str::to_string).unwrap_or_else(|| format!("{k:?}")), from_yaml(v)))
                    .collect(),
            ),
            Yaml::Value(Scalar::String(s)) => Node::Str(s.to_string()),
            Yaml::Value(Scalar::Integer(n)) => Node::Int(u64::try_from(*n).unwrap_or(u64::MAX)),
            Yaml::Value(Scalar::Boolean(b)) => Node::Bool(*b),
            other => Node::Str(format!("not a string: {other:?}")),
        }
    }

    impl Node {
        /// The value at a `.`-separated path of map keys and list indexes, if there is one.
        pub fn at(&self, path: &str) -> Option<&Node> {
            path.split('.').try_fold(self, |node, key| match node {
                Node::Map(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                Node::List(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            })
        }

        /// The string at `path`, or a panic that names the path.
        pub fn text_at(&self, path: &str) -> &str {
            match self.at(path) {
                Some(Node::Str(s)) => s,
                other => panic!("no string at `{path}`: {other:?}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::read_back::read;
    use super::*;

    /// Strings that a careless writer would let a reader take for something else.
    const TRICKY: &[&str] = &[
        "a: b",
        "a:b",
        "key:",
        "# not a comment",
        "a #b",
        "\"quoted\"",
        "'single'",
        "line\nbreak",
        "-leading",
        "- item",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "N",
        "True",
        "null",
        "~",
        "",
        " ",
        " padded ",
        "12",
        "1.5",
        "0x1F",
        "1e3",
        "2024-01-01",
        ".inf",
        "1:20",
        "@at",
        "`tick`",
        "!tag",
        "&anchor",
        "*alias",
        "%x",
        "{a}",
        "[a]",
        "a, b",
        "tab\there",
        "cr\rhere",
        "nul\u{0}",
        "bell\u{7}",
        "nel\u{85}",
        "ls\u{2028}",
        "\u{feff}bom",
        "back\\slash",
        "?",
        "|",
        ">",
        "<<",
        "=",
        "ünïcödé",
        "a\n b",
        "a\n\nb",
        "a\n",
        "\na",
        "trail \nx",
        "echo \"$HOME\" && ls -la | grep '#'",
    ];

    #[test]
    fn every_tricky_string_reads_back_as_itself_as_value_key_and_list_item() {
        for s in TRICKY {
            let doc = Node::map([
                (s.to_string(), Node::str(*s)),
                ("list".to_string(), Node::List(vec![Node::str(*s), Node::map([("k", Node::str(*s))])])),
            ]);
            let text = to_string(&doc);
            assert_eq!(read(&text), doc, "{s:?} written as:\n{text}");
        }
    }

    #[test]
    fn plain_words_stay_bare_and_special_ones_are_quoted() {
        assert_eq!(quoted_if_needed("cargo build --release"), "cargo build --release");
        assert_eq!(quoted_if_needed("https://x"), "\"https://x\"");
        assert_eq!(quoted_if_needed("off"), "\"off\"");
        assert_eq!(quoted_if_needed("-c"), "\"-c\"");
        assert_eq!(quoted_if_needed("19000"), "\"19000\"");
        assert_eq!(quoted_if_needed("a\u{85}"), "\"a\\u0085\"");
    }

    #[test]
    fn scripts_of_several_lines_are_literal_blocks() {
        let doc = Node::map([("tasks", Node::List(vec![Node::map([("script", Node::str("make\n\nmake test"))])]))]);
        let text = to_string(&doc);
        assert_eq!(text, "tasks:\n  - script: |-\n      make\n\n      make test\n");
        assert_eq!(read(&text), doc);
    }

    #[test]
    fn nested_lists_ints_bools_and_empty_collections_read_back() {
        let doc = Node::map([
            ("n", Node::Int(10)),
            ("b", Node::Bool(false)),
            ("empty", Node::List(vec![])),
            ("none", Node::Map(vec![])),
            ("nested", Node::List(vec![Node::List(vec![Node::str("a"), Node::List(vec![Node::str("b")])])])),
        ]);
        assert_eq!(read(&to_string(&doc)), doc);
    }
}
