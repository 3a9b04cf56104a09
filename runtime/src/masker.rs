//! Masking secret values in a job's output as it streams, not line by line: one multi-pattern
//! matcher (aho-corasick) over the stream, holding back only text that could still become a
//! secret (at most the longest pattern's length minus one byte) until the next chunk shows
//! whether it does. The patterns of a value are the value, the value without its trailing
//! newlines, and each of its lines that is long enough to mask, so a PEM key is masked whole and
//! line by line.

use aho_corasick::{AhoCorasick, MatchKind};
use std::sync::Arc;

/// The shortest secret value that can be masked: masking every `a` of a log would reveal a
/// one-letter secret, so shorter values are refused.
pub const MIN_SECRET_LEN: usize = 6;

/// What a secret becomes in a log.
pub const MASK: &str = "****";

/// Refuses a value of secret `name` too short to be masked.
pub fn check_length(name: &str, value: &str) -> Result<(), String> {
    let len = value.trim_end_matches(['\n', '\r']).chars().count();
    if len < MIN_SECRET_LEN {
        return Err(format!(
            "secret `{name}` has {len} characters: a secret must have at least {MIN_SECRET_LEN} to be masked in \
             logs (masking every occurrence of a shorter value would reveal it); use a longer value"
        ));
    }
    Ok(())
}

/// The patterns of a job's secret values.
#[derive(Clone, Default)]
pub struct Patterns {
    matcher: Option<Arc<AhoCorasick>>,
    list: Arc<Vec<String>>,
    longest: usize,
}

impl Patterns {
    pub fn new(values: &[String]) -> Patterns {
        let mut list: Vec<String> = Vec::new();
        let long_enough = |s: &str| s.chars().count() >= MIN_SECRET_LEN;
        for value in values.iter().filter(|v| !v.is_empty()) {
            list.push(value.clone());
            let trimmed = value.trim_end_matches(['\n', '\r']);
            if long_enough(trimmed) {
                list.push(trimmed.to_string());
            }
            list.extend(value.lines().map(|l| l.trim_end_matches('\r')).filter(|l| long_enough(l)).map(String::from));
        }
        list.sort();
        list.dedup();
        let longest = list.iter().map(String::len).max().unwrap_or(0);
        let matcher = if list.is_empty() {
            None
        } else {
            AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&list).ok().map(Arc::new)
        };
        Patterns { matcher, list: Arc::new(list), longest }
    }

    /// `text` with every secret masked.
    pub fn mask(&self, text: &str) -> String {
        match &self.matcher {
            Some(m) => m.replace_all(text, &vec![MASK; self.list.len()]),
            None => text.to_string(),
        }
    }

    /// A masker for one stream of output.
    pub fn stream(&self) -> Masker {
        Masker { patterns: self.clone(), pending: String::new() }
    }

    /// Whether a secret could start at the start of `rest`: one is a prefix of the other.
    fn could_start(&self, rest: &[u8]) -> bool {
        self.list.iter().any(|p| p.as_bytes().starts_with(rest) || rest.starts_with(p.as_bytes()))
    }
}

/// Masks one stream chunk by chunk.
pub struct Masker {
    patterns: Patterns,
    /// Text held back: it may be the start of a secret.
    pending: String,
}

impl Masker {
    /// Takes the next chunk; returns the masked text that is settled.
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push_str(chunk);
        let Some(matcher) = self.patterns.matcher.clone() else { return std::mem::take(&mut self.pending) };
        let len = self.pending.len();
        // No secret starting before `settled` can reach past the end of what is here.
        let settled = len.saturating_sub(self.patterns.longest.saturating_sub(1));
        let mut out = String::with_capacity(len);
        let mut last = 0;
        for m in matcher.find_iter(&self.pending) {
            if m.start() >= settled {
                break;
            }
            out.push_str(&self.pending[last..m.start()]);
            out.push_str(MASK);
            last = m.end();
        }
        let bytes = self.pending.as_bytes();
        let keep = (last.max(settled)..len)
            .find(|&p| self.pending.is_char_boundary(p) && self.patterns.could_start(&bytes[p..]))
            .unwrap_or(len);
        out.push_str(&self.pending[last..keep]);
        self.pending.drain(..keep);
        out
    }

    /// The end of the stream: what was held back, masked.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        self.patterns.mask(&rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcN\nLYLInFEX6Ppy1tPf9Cnz\n-----END KEY-----\n";

    /// The stream cut into chunks of `size` bytes (on character boundaries), masked.
    fn streamed(p: &Patterns, text: &str, size: usize) -> String {
        let mut m = p.stream();
        let mut out = String::new();
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = size.min(rest.len());
            while !rest.is_char_boundary(cut) {
                cut += 1;
            }
            out.push_str(&m.push(&rest[..cut]));
            rest = &rest[cut..];
        }
        out + &m.finish()
    }

    #[test]
    fn a_secret_is_masked_whatever_the_chunks_it_arrives_in() {
        let p = Patterns::new(&["hunter2-long".to_string(), "s3cr3t-é-value".to_string()]);
        let text = "a hunter2-long b s3cr3t-é-value c hunter2-lon d";
        for size in 1..=text.len() {
            assert_eq!(streamed(&p, text, size), "a **** b **** c hunter2-lon d", "chunks of {size}");
        }
    }

    #[test]
    fn a_multi_line_secret_is_masked_whole_and_line_by_line_and_without_its_trailing_newline() {
        let p = Patterns::new(&[PEM.to_string()]);
        assert_eq!(streamed(&p, &format!("key: {PEM}done\n"), 7), "key: ****done\n");
        let trimmed = PEM.trim_end();
        assert_eq!(streamed(&p, &format!("[{trimmed}]"), 5), "[****]");
        assert_eq!(streamed(&p, "line MIIBOgIBAAJBAKj34GkxFhD90vcN alone\n", 3), "line **** alone\n");
        assert_eq!(p.mask("-----END KEY-----"), "****");
    }

    #[test]
    fn only_text_that_could_be_a_secret_is_held_back() {
        let p = Patterns::new(&["topsecret".to_string()]);
        let mut m = p.stream();
        assert_eq!(m.push("progress 1\n"), "progress 1\n", "unrelated output is not delayed");
        assert_eq!(m.push("now tops"), "now ");
        assert_eq!(m.push("ecret!"), "****!");
        assert_eq!(m.push("tops"), "");
        assert_eq!(m.finish(), "tops");
        let none = Patterns::new(&[]);
        assert_eq!(none.stream().push("anything"), "anything");
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(check_length("pin", "12345\n").unwrap_err().contains("secret `pin` has 5 characters"));
        assert!(check_length("pin", "123456").is_ok());
    }
}
