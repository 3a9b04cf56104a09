//! Reading YAML as the GoCD plugin does: every scalar a string, anchors and aliases (redefined
//! anchors included), `<<` merge keys, duplicate keys an error; each node with its byte span.

use crate::source::Span;
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// Nodes nested deeper than this are an error, so nothing downstream recurses without bound.
pub const MAX_DEPTH: usize = 128;
/// Nodes an alias may copy in total, so a few aliases cannot blow a file up to gigabytes.
const MAX_ALIAS_NODES: usize = 1_000_000;

/// A YAML node; scalars keep their text untyped.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    /// Where it is written (for an alias's copy: the alias).
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// `plain` is false for quoted and block scalars: `"~"` is text, `~` is null.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in the order written; merged (`<<`) entries after the explicit ones.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar's text; `None` for collections.
    pub fn str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// An empty value, `~` or `null`, as the plugin reads them.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn entries(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of `key` in a map.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?.iter().find(|(k, _)| k.str() == Some(key)).map(|(_, v)| v)
    }

    /// What kind of node this is, in words, for messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } if self.is_null() => "an empty value",
            NodeKind::Scalar { .. } => "a text value",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a map",
        }
    }
}

/// A document that could not be read, with where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub span: Span,
    pub message: String,
    pub help: &'static str,
    /// Another place the error involves (the first of two duplicate keys).
    pub first: Option<Span>,
}

/// A file read: its first document (`None` when empty) and its comments' spans.
#[derive(Clone, Debug, Default)]
pub struct Document {
    pub root: Option<Node>,
    pub comments: Vec<Span>,
}

/// Reads the first document of `text`.
pub fn read(text: &str) -> Result<Document, YamlError> {
    let offsets = Offsets::new(text);
    let mut builder = Builder { stack: Vec::new(), anchors: HashMap::new(), copied: 0, root: None };
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            let at = offsets.byte(e.marker().index());
            let message = if e.info().contains("recursion limit") {
                "this value is nested too deeply".to_string()
            } else {
                e.info().to_string()
            };
            YamlError { span: Span::new(at, at), message, help: syntax_help(e.info()), first: None }
        })?;
        let mut span = Span::new(offsets.byte(span.start.index()), offsets.byte(span.end.index()));
        if let Event::Scalar(_, style @ (ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted), ..) = &event {
            span.end = quoted_end(text, span.start, *style == ScalarStyle::DoubleQuoted).unwrap_or(span.end);
        }
        if builder.event(event, span)? {
            break;
        }
    }
    let root = builder.root;
    let comments = comments(text, root.as_ref());
    Ok(Document { root, comments })
}

/// Where the quoted scalar starting at `start` ends (after its closing quote).
fn quoted_end(text: &str, start: usize, double: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let quote = if double { b'"' } else { b'\'' };
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if double => i += 2,
            b if b == quote && !double && bytes.get(i + 1) == Some(&quote) => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn syntax_help(info: &str) -> &'static str {
    if info.contains("recursion limit") {
        "GoCD configurations need a handful of levels: flatten this structure"
    } else if info.contains("tab") {
        "indent with spaces: YAML does not allow tabs in indentation"
    } else if info.contains("indent") || info.contains("mapping values") {
        "check the indentation of this line against the lines above"
    } else {
        "fix the YAML syntax here"
    }
}

/// Character index to byte offset (the parser counts characters).
struct Offsets {
    /// Byte offset of every character, or empty when the text is ASCII.
    bytes: Vec<u32>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Self {
        let bytes = if text.is_ascii() { Vec::new() } else { text.char_indices().map(|(i, _)| i as u32).collect() };
        Offsets { bytes, len: text.len() }
    }

    fn byte(&self, index: usize) -> usize {
        if self.bytes.is_empty() {
            index.min(self.len)
        } else {
            self.bytes.get(index).map_or(self.len, |&b| b as usize)
        }
    }
}

enum Open {
    Seq {
        items: Vec<Node>,
        anchor: usize,
        start: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        /// The keys of `entries` and where each is, to find a duplicate at once in large maps.
        seen: HashMap<String, Span>,
        merged: Vec<(Node, Node)>,
        key: Option<Node>,
        anchor: usize,
        start: usize,
    },
}

struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    copied: usize,
    root: Option<Node>,
}

impl Builder {
    /// Handles one event; true once the first document is complete.
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<bool, YamlError> {
        match event {
            Event::Scalar(text, style, anchor, _) => {
                let plain = style == ScalarStyle::Plain;
                let node = Node { kind: NodeKind::Scalar { text: text.into_owned(), plain }, span };
                self.remember(anchor, &node);
                self.push(node)
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id) else {
                    return Err(YamlError {
                        span,
                        message: "this alias names no anchor".into(),
                        help: "define the anchor (`&name`) before its alias (`*name`)",
                        first: None,
                    });
                };
                self.copied += count(node);
                if self.copied > MAX_ALIAS_NODES {
                    return Err(YamlError {
                        span,
                        message: format!("aliases copy more than {MAX_ALIAS_NODES} nodes"),
                        help: "aliases of aliases multiply: write the repeated part fewer times",
                        first: None,
                    });
                }
                let mut node = node.clone();
                node.span = span;
                self.push(node)
            }
            Event::SequenceStart(anchor, _) => {
                self.open(Open::Seq { items: Vec::new(), anchor, start: span.start }, span)
            }
            Event::MappingStart(anchor, _) => self.open(
                Open::Map {
                    entries: Vec::new(),
                    seen: HashMap::new(),
                    merged: Vec::new(),
                    key: None,
                    anchor,
                    start: span.start,
                },
                span,
            ),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.stack.pop() else { return Ok(false) };
                let node = self.close(open, span);
                self.push(node)
            }
            Event::DocumentEnd => Ok(self.root.is_some() || self.stack.is_empty()),
            _ => Ok(false),
        }
    }

    fn open(&mut self, open: Open, span: Span) -> Result<bool, YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                span,
                message: format!("this value is nested more than {MAX_DEPTH} levels deep"),
                help: "GoCD configurations need a handful of levels: flatten this structure",
                first: None,
            });
        }
        self.stack.push(open);
        Ok(false)
    }

    fn close(&mut self, open: Open, span: Span) -> Node {
        let (node, anchor) = match open {
            Open::Seq { items, anchor, start } => {
                let end = items.last().map_or(span.end, |n| n.span.end);
                (Node { kind: NodeKind::Seq(items), span: Span::new(start, end) }, anchor)
            }
            Open::Map { mut entries, seen, merged, anchor, start, .. } => {
                let end = entries.last().map_or(span.end, |(_, v)| v.span.end);
                for (k, v) in merged {
                    if !seen.contains_key(k.str().unwrap_or_default()) {
                        entries.push((k, v));
                    }
                }
                (Node { kind: NodeKind::Map(entries), span: Span::new(start, end) }, anchor)
            }
        };
        self.remember(anchor, &node);
        node
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    /// Adds a complete node to the open collection, or makes it the root.
    fn push(&mut self, node: Node) -> Result<bool, YamlError> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(true)
            }
            Some(Open::Seq { items, .. }) => {
                items.push(node);
                Ok(false)
            }
            Some(Open::Map { entries, seen, merged, key, .. }) => {
                let Some(k) = key.take() else {
                    if !matches!(node.kind, NodeKind::Scalar { .. }) {
                        return Err(YamlError {
                            span: node.span,
                            message: format!("a map key must be a text value, not {}", node.describe()),
                            help: "write the key as plain text",
                            first: None,
                        });
                    }
                    *key = Some(node);
                    return Ok(false);
                };
                if k.str() == Some("<<") && matches!(&k.kind, NodeKind::Scalar { plain: true, .. }) {
                    merge(merged, node)?;
                    return Ok(false);
                }
                let text = k.str().unwrap_or_default().to_string();
                if let Some(first) = seen.get(&text) {
                    return Err(YamlError {
                        span: k.span,
                        message: format!("the key `{text}` is given twice in this map"),
                        help: "GoCD rejects duplicate keys: remove one, or merge the two",
                        first: Some(*first),
                    });
                }
                seen.insert(text, k.span);
                entries.push((k, node));
                Ok(false)
            }
        }
    }
}

/// `<<: *map` or `<<: [*a, *b]`: entries not yet present are added (earlier sources win).
fn merge(merged: &mut Vec<(Node, Node)>, value: Node) -> Result<(), YamlError> {
    let sources = match value.kind {
        NodeKind::Map(_) => vec![value],
        NodeKind::Seq(items) => items,
        NodeKind::Scalar { .. } => {
            return Err(YamlError {
                span: value.span,
                message: "a merge key `<<` takes a map or a list of maps".into(),
                help: "merge an alias of a map, as in `<<: *defaults`",
                first: None,
            })
        }
    };
    for source in sources {
        let NodeKind::Map(entries) = source.kind else {
            return Err(YamlError {
                span: source.span,
                message: "a merge key `<<` takes a map or a list of maps".into(),
                help: "merge an alias of a map, as in `<<: *defaults`",
                first: None,
            });
        };
        for (k, v) in entries {
            if !merged.iter().any(|(e, _)| e.str() == k.str()) {
                merged.push((k, v));
            }
        }
    }
    Ok(())
}

/// Nodes in a tree, counted without recursion.
fn count(node: &Node) -> usize {
    let mut total = 0;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        total += 1;
        match &n.kind {
            NodeKind::Seq(items) => todo.extend(items),
            NodeKind::Map(entries) => todo.extend(entries.iter().flat_map(|(k, v)| [k, v])),
            NodeKind::Scalar { .. } => {}
        }
    }
    total
}

/// The spans of the comments: a `#` at a line's start or after a blank, outside every scalar.
fn comments(text: &str, root: Option<&Node>) -> Vec<Span> {
    let mut scalars = Vec::new();
    let mut todo: Vec<&Node> = root.into_iter().collect();
    while let Some(n) = todo.pop() {
        match &n.kind {
            NodeKind::Scalar { .. } => scalars.push(n.span),
            NodeKind::Seq(items) => todo.extend(items),
            NodeKind::Map(entries) => todo.extend(entries.iter().flat_map(|(k, v)| [k, v])),
        }
    }
    scalars.sort_by_key(|s| s.start);
    let mut found = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b != b'#' || (i > 0 && !matches!(bytes[i - 1], b' ' | b'\t')) {
                continue;
            }
            let at = line_start + i;
            let k = scalars.partition_point(|s| s.start <= at);
            let inside = k > 0 && scalars[k - 1].end > at;
            if !inside {
                let end = line_start + line.trim_end_matches(['\n', '\r']).len();
                found.push(Span::new(at, end));
                break;
            }
        }
        line_start += line.len();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        read(text).ok().and_then(|d| d.root).unwrap_or(Node { kind: NodeKind::Seq(Vec::new()), span: Span::default() })
    }

    #[test]
    fn scalars_stay_text() {
        let n = root("a: 19000\nb: false\nc: ~\nd: \"~\"\n");
        assert_eq!(n.get("a").and_then(Node::str), Some("19000"));
        assert_eq!(n.get("b").and_then(Node::str), Some("false"));
        assert!(n.get("c").is_some_and(Node::is_null));
        assert!(n.get("d").is_some_and(|d| !d.is_null()));
    }

    #[test]
    fn spans_are_bytes() {
        let text = "é: x\nkey: value\n";
        let n = root(text);
        let v = n.get("key").map(|v| v.span).unwrap_or_default();
        assert_eq!(&text[v.range()], "value");
    }

    #[test]
    fn anchors_aliases_merges_and_redefinitions() {
        let text = "a: &x {k: 1, j: 2}\nb:\n  <<: *x\n  k: 3\nc: &x [9]\nd: *x\n";
        let n = root(text);
        let b = n.get("b");
        assert_eq!(b.and_then(|b| b.get("k")).and_then(Node::str), Some("3"));
        assert_eq!(b.and_then(|b| b.get("j")).and_then(Node::str), Some("2"));
        assert!(matches!(n.get("d").map(|d| &d.kind), Some(NodeKind::Seq(items)) if items.len() == 1));
    }

    #[test]
    fn duplicate_keys_tabs_and_depth_are_errors_at_their_place() {
        let dup = read("a: 1\nb: 2\na: 3\n").err().map(|e| e.span.start);
        assert_eq!(dup, Some(10));
        assert!(read("a:\n\tb: 1\n").is_err());
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let deep = read(&deep);
        assert!(deep.as_ref().err().is_some_and(|e| e.message.contains("nested")), "{deep:?}");
        let block_deep: String = (0..10_000).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        assert!(read(&block_deep).is_err());
    }

    #[test]
    fn comments_skip_hashes_inside_values() {
        let text = "# top\na: \"x # y\" # end\nb: |\n  echo # not\n";
        let found: Vec<&str> =
            read(text).map(|d| d.comments).unwrap_or_default().iter().map(|s| &text[s.range()]).collect();
        assert_eq!(found, vec!["# top", "# end"]);
    }
}
