//! Every checker code: its title, and its long explanation with an example (one Markdown file a
//! code, `codes/E0401.md`), for `pw explain CODE`, the SARIF output and the language server's
//! hovers.
//!
//! The lexer, the parser and the checker name a code only by its [`Code`], so the compiler
//! checks that every code they report is declared here, and that each declared code has exactly
//! one explanation: the file named after it.

/// Declares [`Code`]: one variant a code, with its title; its explanation is `codes/<CODE>.md`.
macro_rules! declare_codes {
    ($($code:ident: $title:literal,)*) => {
        /// A checker code, written `E0401` in every output and explained by `pw explain E0401`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(
                #[doc = $title]
                $code,
            )*
        }

        impl Code {
            /// Every code, in the order declared.
            pub const ALL: &[Code] = &[$(Code::$code),*];

            /// The code as diagnostics write it: `E0401`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)*
                }
            }

            /// One line: what is wrong.
            pub fn title(self) -> &'static str {
                match self {
                    $(Code::$code => $title,)*
                }
            }

            /// Markdown: why it is an error, an erroneous example, and the fix.
            pub fn text(self) -> &'static str {
                match self {
                    $(Code::$code => include_str!(concat!("codes/", stringify!($code), ".md")),)*
                }
            }
        }
    };
}

declare_codes! {
    E0101: "unexpected character",
    E0102: "unterminated string",
    E0103: "invalid escape in a string",
    E0104: "invalid duration",
    E0105: "syntax error",
    E0106: "nesting too deep",
    E0107: "invalid interpolation",
    E0108: "number out of range",
    E0201: "unknown field",
    E0202: "wrong value type",
    E0203: "missing required field",
    E0204: "pipeline without a stage",
    E0205: "stage without a job",
    E0206: "job without a task",
    E0207: "misplaced member",
    E0208: "value out of range",
    E0209: "field given twice",
    E0210: "working folder outside the workspace",
    E0301: "unresolved reference",
    E0302: "invalid name",
    E0303: "duplicate name",
    E0401: "fetch from a job of the same stage",
    E0402: "fetch from a stage that has not run",
    E0403: "artifact not published",
    E0404: "fetch from a pipeline that is not upstream",
    E0405: "cycle among pipelines",
    E0406: "named twice in a list",
    E0407: "materials checked out at the same path",
    E0408: "fetch from a fanned-out job",
    E0501: "template of the wrong kind",
    E0502: "missing template argument",
    E0503: "unknown template argument",
    E0504: "wrong argument type",
    E0505: "recursive template (cannot occur)",
    E0506: "unknown name in an interpolation",
    E0507: "empty fan-out",
    E0508: "repeated fan-out value",
    E0509: "invalid fan-out source",
    E0510: "range that counts down",
}

impl Code {
    /// The code written `code` (any case).
    pub fn parse(code: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(code.trim()))
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The explanation of `code` (any case), for checker and lint codes alike.
pub fn explain(code: &str) -> Option<String> {
    match Code::parse(code) {
        Some(c) => Some(format!("# {}: {}\n\n{}\n", c.as_str(), c.title(), c.text().trim())),
        None => crate::gocd::codes::explain(code)
            .or_else(|| crate::export::codes::explain(code))
            .or_else(|| crate::lint::registry::explain(code.trim())),
    }
}

/// The one-line title of a checker code.
pub fn title(code: &str) -> Option<&'static str> {
    Code::parse(code)
        .map(Code::title)
        .or_else(|| crate::gocd::codes::title(code))
        .or_else(|| crate::export::codes::title(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_a_code_in_any_case() {
        let text = explain("e0401").unwrap_or_default();
        assert!(text.starts_with("# E0401: fetch from a job of the same stage\n\n"), "{text}");
        assert!(text.contains("same stage"), "{text}");
        assert_eq!(title(" E0509 "), Some("invalid fan-out source"));
        assert!(explain("E9999").is_none());
    }
}
