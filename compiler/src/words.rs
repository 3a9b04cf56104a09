//! Words for messages, written once: counted nouns and lists of names.

/// `1 job`, `3 jobs`, `2 fetches`.
pub fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        return format!("1 {word}");
    }
    let sibilant = ["s", "x", "ch", "sh"].iter().any(|end| word.ends_with(end));
    format!("{n} {word}{}", if sibilant { "es" } else { "s" })
}

/// `` `a`, `b` and `c` ``; `none` for no name.
pub fn quote_list<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    let quoted: Vec<String> = names.into_iter().map(|n| format!("`{}`", n.as_ref())).collect();
    match quoted.as_slice() {
        [] => "none".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_prose() {
        assert_eq!(plural(1, "job"), "1 job");
        assert_eq!(plural(0, "stage"), "0 stages");
        assert_eq!(plural(2, "fetch"), "2 fetches");
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(quote_list(["a", "b", "c"]), "`a`, `b` and `c`");
        assert_eq!(quote_list(["a"]), "`a`");
        assert_eq!(quote_list(Vec::<String>::new()), "none");
    }
}
