//! Duration literals such as `45s`, `20m` and `1h30m`, read into seconds.

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};

const UNITS_HELP: &str = "a duration is a number and a unit, largest unit first, each unit at most once: \
                          `d` (days), `h` (hours), `m` (minutes), `s` (seconds), as in `45s`, `20m` or `1h30m`";

/// Why a duration literal is invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// A unit that is not `d`, `h`, `m` or `s`.
    UnknownUnit(String),
    /// A unit after a smaller one, or given twice.
    OutOfOrder(char),
    /// Digits at the end with no unit.
    MissingUnit,
    /// More seconds than fit.
    TooLarge,
}

/// The value in seconds of a duration literal.
pub(crate) fn seconds(literal: &str) -> Result<u64, DurationError> {
    let bytes = literal.as_bytes();
    let mut total: u64 = 0;
    let mut last_rank = usize::MAX;
    let mut i = 0;
    while i < bytes.len() {
        let digits_end = i + bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let unit_end = digits_end + bytes[digits_end..].iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if digits_end == unit_end {
            return Err(match &literal[digits_end..] {
                "" => DurationError::MissingUnit,
                rest => DurationError::UnknownUnit(rest.to_string()),
            });
        }
        let unit = &literal[digits_end..unit_end];
        let (rank, factor) = match unit {
            "d" => (0, 86_400),
            "h" => (1, 3_600),
            "m" => (2, 60),
            "s" => (3, 1),
            _ => return Err(DurationError::UnknownUnit(unit.to_string())),
        };
        if last_rank != usize::MAX && rank <= last_rank {
            return Err(DurationError::OutOfOrder(unit.chars().next().unwrap_or('?')));
        }
        last_rank = rank;
        if digits_end == i {
            // Only possible at the start, which the lexer rules out: letters after a unit belong to it.
            return Err(DurationError::UnknownUnit(unit.to_string()));
        }
        let number: u64 = literal[i..digits_end].parse().map_err(|_| DurationError::TooLarge)?;
        total = number.checked_mul(factor).and_then(|v| total.checked_add(v)).ok_or(DurationError::TooLarge)?;
        i = unit_end;
    }
    Ok(total)
}

/// The diagnostic for an invalid duration literal at `span`.
pub(crate) fn diagnostic(file: FileId, span: Span, literal: &str, error: &DurationError) -> Diagnostic {
    let (code, message, label) = match error {
        DurationError::UnknownUnit(unit) => {
            ("E0104", format!("invalid duration `{literal}`"), format!("`{unit}` is not a unit of time"))
        }
        DurationError::OutOfOrder(unit) => (
            "E0104",
            format!("invalid duration `{literal}`"),
            format!("`{unit}` comes after a smaller or equal unit; write the largest unit first"),
        ),
        DurationError::MissingUnit => {
            ("E0104", format!("invalid duration `{literal}`"), "the last number has no unit".to_string())
        }
        DurationError::TooLarge => {
            ("E0108", format!("duration `{literal}` is too large"), "more seconds than fit in 64 bits".to_string())
        }
    };
    Diagnostic::error(code, file, span, message).with_label(label).with_help(UNITS_HELP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_durations() {
        assert_eq!(seconds("45s"), Ok(45));
        assert_eq!(seconds("20m"), Ok(1200));
        assert_eq!(seconds("1h30m"), Ok(5400));
        assert_eq!(seconds("2d"), Ok(172_800));
        assert_eq!(seconds("1d2h3m4s"), Ok(93_784));
        assert_eq!(seconds("0s"), Ok(0));
        assert_eq!(seconds("90m"), Ok(5400));
    }

    #[test]
    fn invalid_durations() {
        assert_eq!(seconds("20x"), Err(DurationError::UnknownUnit("x".into())));
        assert_eq!(seconds("5ms"), Err(DurationError::UnknownUnit("ms".into())));
        assert_eq!(seconds("1m1h"), Err(DurationError::OutOfOrder('h')));
        assert_eq!(seconds("1m1m"), Err(DurationError::OutOfOrder('m')));
        assert_eq!(seconds("1H"), Err(DurationError::UnknownUnit("H".into())));
        assert_eq!(seconds("1h30"), Err(DurationError::MissingUnit));
        assert_eq!(seconds("1h3x0m"), Err(DurationError::UnknownUnit("x".into())));
    }

    #[test]
    fn overflow_is_too_large() {
        assert_eq!(seconds("99999999999999999999s"), Err(DurationError::TooLarge));
        assert_eq!(seconds("300000000000000d"), Err(DurationError::TooLarge));
        assert_eq!(seconds("18446744073709551615s"), Ok(u64::MAX));
        assert_eq!(seconds("1m18446744073709551615s"), Err(DurationError::TooLarge));
    }

    #[test]
    fn diagnostics_name_the_units() {
        let d = diagnostic(FileId(0), Span::new(3, 6), "20x", &DurationError::UnknownUnit("x".into()));
        assert_eq!(d.code, "E0104");
        assert!(d.help.as_deref().unwrap_or_default().contains("`d` (days), `h` (hours), `m` (minutes), `s`"));
    }
}
