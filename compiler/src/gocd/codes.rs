//! The GoCD front end's diagnostic codes (`G0xxx`), each explained in a Markdown file beside
//! this one, for `pw explain`.

/// (code, title, explanation in Markdown).
pub static CODES: &[(&str, &str, &str)] = &[
    ("G0001", "the GoCD file is not valid YAML", include_str!("codes/G0001.md")),
    ("G0002", "a GoCD value has the wrong shape or is missing", include_str!("codes/G0002.md")),
    ("G0003", "GoCD ignores this key", include_str!("codes/G0003.md")),
    ("G0004", "this key reads as something GoCD does not do", include_str!("codes/G0004.md")),
    ("G0005", "a name only the GoCD server knows", include_str!("codes/G0005.md")),
    ("G0006", "a secret in plain text", include_str!("codes/G0006.md")),
    ("G0007", "no equivalent in Pipewright (import)", include_str!("codes/G0007.md")),
];

/// The explanation of a `G` code (any case).
pub fn explain(code: &str) -> Option<String> {
    let upper = code.trim().to_ascii_uppercase();
    CODES.iter().find(|(c, ..)| *c == upper).map(|(_, _, text)| text.to_string())
}

/// The one-line title of a `G` code.
pub fn title(code: &str) -> Option<&'static str> {
    CODES.iter().find(|(c, ..)| c.eq_ignore_ascii_case(code.trim())).map(|(_, title, _)| *title)
}
