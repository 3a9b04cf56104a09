//! The GoCD front end's diagnostic codes (`G0xxx`), each explained in a Markdown file beside
//! this one, for `pw explain`.

/// A code of the GoCD front end, written `G0003` and explained by `pw explain G0003`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoCode {
    /// the GoCD file is not valid YAML or XML
    G0001,
    /// a GoCD value has the wrong shape or is missing
    G0002,
    /// GoCD ignores this key
    G0003,
    /// this key reads as something GoCD does not do
    G0004,
    /// a name only the GoCD server knows
    G0005,
    /// a secret in plain text
    G0006,
    /// no equivalent in Pipewright (import)
    G0007,
    /// two GoCD names become one `.pw` name (import)
    G0008,
}

impl crate::diagnostic::DiagnosticCode for GoCode {
    fn as_str(self) -> &'static str {
        match self {
            GoCode::G0001 => "G0001",
            GoCode::G0002 => "G0002",
            GoCode::G0003 => "G0003",
            GoCode::G0004 => "G0004",
            GoCode::G0005 => "G0005",
            GoCode::G0006 => "G0006",
            GoCode::G0007 => "G0007",
            GoCode::G0008 => "G0008",
        }
    }
}

/// (code, title, explanation in Markdown).
pub static CODES: &[(&str, &str, &str)] = &[
    ("G0001", "the GoCD file is not valid YAML or XML", include_str!("codes/G0001.md")),
    ("G0002", "a GoCD value has the wrong shape or is missing", include_str!("codes/G0002.md")),
    ("G0003", "GoCD ignores this key", include_str!("codes/G0003.md")),
    ("G0004", "this key reads as something GoCD does not do", include_str!("codes/G0004.md")),
    ("G0005", "a name only the GoCD server knows", include_str!("codes/G0005.md")),
    ("G0006", "a secret in plain text", include_str!("codes/G0006.md")),
    ("G0007", "no equivalent in Pipewright (import)", include_str!("codes/G0007.md")),
    ("G0008", "two GoCD names become one `.pw` name (import)", include_str!("codes/G0008.md")),
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

#[cfg(test)]
mod code_tests {
    use super::*;
    use crate::diagnostic::DiagnosticCode;

    #[test]
    fn every_code_is_explained_once() {
        let all = [
            GoCode::G0001,
            GoCode::G0002,
            GoCode::G0003,
            GoCode::G0004,
            GoCode::G0005,
            GoCode::G0006,
            GoCode::G0007,
            GoCode::G0008,
        ];
        assert_eq!(all.len(), CODES.len());
        for (code, (name, ..)) in all.into_iter().zip(CODES) {
            assert_eq!(code.as_str(), *name);
        }
    }
}
