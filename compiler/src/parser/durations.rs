//! Durations such as `45s`, `20m` and `1h30m`: read into seconds (from a literal, or from a
//! setting of `pipewright.toml`), and written back the same way.

use crate::codes::Code::{E0104, E0108};
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
    /// A leading `-`.
    Negative,
    /// A number with a fraction, such as `1.5m`: its length in whole seconds, rounded down, and
    /// whether that is exact.
    Fraction { seconds: u64, exact: bool },
}

const UNITS: [(&str, u64); 4] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
/// Fractions are counted in units of 10^-18 of a second.
const SCALE: u128 = 1_000_000_000_000_000_000;
const SCALE_DIGITS: usize = 18;

/// The value in seconds of a duration literal.
pub(crate) fn seconds(literal: &str) -> Result<u64, DurationError> {
    if literal.starts_with('-') {
        return Err(DurationError::Negative);
    }
    let bytes = literal.as_bytes();
    let mut total: u128 = 0;
    let mut fraction = false;
    let mut exact = true;
    let mut last_rank = usize::MAX;
    let mut i = 0;
    while i < bytes.len() {
        let digits_end = i + bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let mut number_end = digits_end;
        if bytes.get(digits_end) == Some(&b'.') {
            number_end = digits_end + 1 + bytes[digits_end + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
            fraction = true;
        }
        let unit_end = number_end + bytes[number_end..].iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if number_end == unit_end {
            return Err(match &literal[number_end..] {
                "" => DurationError::MissingUnit,
                rest => DurationError::UnknownUnit(rest.to_string()),
            });
        }
        let unit = &literal[number_end..unit_end];
        let Some(rank) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(DurationError::UnknownUnit(unit.to_string()));
        };
        if last_rank != usize::MAX && rank <= last_rank {
            return Err(DurationError::OutOfOrder(unit.chars().next().unwrap_or('?')));
        }
        last_rank = rank;
        if number_end == i {
            // Only possible at the start, which the lexer rules out: letters after a unit belong to it.
            return Err(DurationError::UnknownUnit(unit.to_string()));
        }
        let (value, whole) = scaled(&literal[i..digits_end], literal.get(digits_end + 1..number_end))?;
        exact &= whole;
        let factor = u128::from(UNITS[rank].1);
        total = value.checked_mul(factor).and_then(|v| total.checked_add(v)).ok_or(DurationError::TooLarge)?;
        i = unit_end;
    }
    let secs = u64::try_from(total / SCALE).map_err(|_| DurationError::TooLarge)?;
    if fraction {
        return Err(DurationError::Fraction { seconds: secs, exact: exact && total % SCALE == 0 });
    }
    Ok(secs)
}

/// The seconds of a duration written as the language writes it (a setting of `pipewright.toml`,
/// say), or why it is not one, in words.
pub fn parse(text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err("it is empty".to_string());
    }
    seconds(text).map_err(|e| why(&e))
}

/// Why a duration is invalid, in words.
pub(crate) fn why(error: &DurationError) -> String {
    match error {
        DurationError::UnknownUnit(unit) => format!("`{unit}` is not a unit of time"),
        DurationError::OutOfOrder(unit) => format!("its unit `{unit}` comes after a smaller or equal one"),
        DurationError::MissingUnit => "its last number has no unit".to_string(),
        DurationError::TooLarge => "it is too large".to_string(),
        DurationError::Negative => "durations cannot be negative".to_string(),
        DurationError::Fraction { .. } => "durations are whole numbers of a unit".to_string(),
    }
}

/// Seconds the way durations are written: `1h30m`, `45s`, `0s`.
pub fn format(secs: u64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, size) in UNITS {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// `digits[.fraction]` in units of [`SCALE`], and whether no digit of the fraction was dropped.
fn scaled(digits: &str, fraction: Option<&str>) -> Result<(u128, bool), DurationError> {
    // `.5m` after another group reads as `0.5m`.
    let whole: u128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| DurationError::TooLarge)? };
    let mut value = whole.checked_mul(SCALE).ok_or(DurationError::TooLarge)?;
    let fraction = fraction.unwrap_or_default();
    let kept = &fraction[..fraction.len().min(SCALE_DIGITS)];
    if !kept.is_empty() {
        let part: u128 = kept.parse().map_err(|_| DurationError::TooLarge)?;
        value += part * 10u128.pow((SCALE_DIGITS - kept.len()) as u32);
    }
    Ok((value, fraction[kept.len()..].bytes().all(|b| b == b'0')))
}

/// A length of time as one number of the largest unit that divides it: `90s`, `90m`, `2d`.
fn in_one_unit(secs: u64) -> String {
    let (unit, size) = UNITS.iter().find(|(_, size)| secs % size == 0).copied().unwrap_or(("s", 1));
    format!("{}{unit}", secs / size)
}

/// The diagnostic for an invalid duration literal at `span`.
pub(crate) fn diagnostic(file: FileId, span: Span, literal: &str, error: &DurationError) -> Diagnostic {
    let invalid = format!("invalid duration `{literal}`");
    let (code, message, label) = match error {
        DurationError::UnknownUnit(unit) => (E0104, invalid, format!("`{unit}` is not a unit of time")),
        DurationError::OutOfOrder(unit) => {
            (E0104, invalid, format!("`{unit}` comes after a smaller or equal unit; write the largest unit first"))
        }
        DurationError::MissingUnit => (E0104, invalid, "the last number has no unit".to_string()),
        DurationError::TooLarge => {
            (E0108, format!("duration `{literal}` is too large"), "more seconds than fit in 64 bits".to_string())
        }
        DurationError::Negative => return negative(file, span, literal),
        DurationError::Fraction { seconds, exact } => return fraction(file, span, literal, *seconds, *exact),
    };
    Diagnostic::error(code, file, span, message).with_label(label).with_help(UNITS_HELP)
}

/// `-5m`: one error, with the positive duration as the fix when the rest is valid.
fn negative(file: FileId, span: Span, literal: &str) -> Diagnostic {
    let positive = &literal[1..];
    let d = Diagnostic::error(E0104, file, span, format!("duration `{literal}` is negative"))
        .with_label("durations cannot be negative");
    match seconds(positive) {
        Ok(_) => d.with_help(format!("a duration is a length of time: write `{positive}`")),
        Err(DurationError::Fraction { seconds, exact: true }) => {
            d.with_help(format!("a duration is a length of time: write `{}`", in_one_unit(seconds)))
        }
        Err(_) => d.with_help(UNITS_HELP),
    }
}

/// `1.5m`: durations are whole numbers of a unit; the exact equivalent when there is one.
fn fraction(file: FileId, span: Span, literal: &str, secs: u64, exact: bool) -> Diagnostic {
    let d = Diagnostic::error(E0104, file, span, format!("invalid duration `{literal}`"))
        .with_label("durations are whole numbers of a unit, without a fraction");
    if exact {
        let single = in_one_unit(secs);
        let mixed = format(secs);
        let help = if mixed == single {
            format!("write `{single}`, the same length of time")
        } else {
            format!("write `{single}` (or `{mixed}`), the same length of time")
        };
        return d.with_help(help).with_safe_replacement(format!("replace with `{single}`"), single);
    }
    let up = in_one_unit(secs.saturating_add(1));
    let help = match secs {
        0 => format!("`{literal}` is not a whole number of seconds, the smallest unit: write `{up}`"),
        _ => format!(
            "`{literal}` is not a whole number of seconds, the smallest unit: write `{}` or `{up}`",
            in_one_unit(secs)
        ),
    };
    d.with_help(help)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_as_they_are_read() {
        assert_eq!(format(5400), "1h30m");
        assert_eq!(format(45), "45s");
        assert_eq!(format(0), "0s");
        assert_eq!(format(90_061), "1d1h1m1s");
        for secs in [1, 59, 60, 3_600, 5_400, 86_400, 90_061] {
            assert_eq!(parse(&format(secs)), Ok(secs));
        }
    }

    #[test]
    fn settings_are_read_as_literals_are() {
        assert_eq!(parse("1h30m"), Ok(5400));
        assert_eq!(parse("1m1h"), Err("its unit `h` comes after a smaller or equal one".to_string()));
        assert_eq!(parse("5ms"), Err("`ms` is not a unit of time".to_string()));
        assert_eq!(parse("10"), Err("its last number has no unit".to_string()));
        assert_eq!(parse("1.5m"), Err("durations are whole numbers of a unit".to_string()));
        assert_eq!(parse(""), Err("it is empty".to_string()));
    }

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
    fn signs_and_fractions_are_invalid_with_their_value() {
        assert_eq!(seconds("-5m"), Err(DurationError::Negative));
        assert_eq!(seconds("1.5m"), Err(DurationError::Fraction { seconds: 90, exact: true }));
        assert_eq!(seconds("1h0.5m"), Err(DurationError::Fraction { seconds: 3630, exact: true }));
        assert_eq!(seconds("1.5s"), Err(DurationError::Fraction { seconds: 1, exact: false }));
        assert_eq!(seconds("0.25d"), Err(DurationError::Fraction { seconds: 21_600, exact: true }));
        assert_eq!(seconds("1.0000000000000000000001s"), Err(DurationError::Fraction { seconds: 1, exact: false }));
        assert_eq!(seconds("1.5x"), Err(DurationError::UnknownUnit("x".into())));
        assert_eq!(seconds("1h.5m"), Err(DurationError::Fraction { seconds: 3630, exact: true }));
    }

    #[test]
    fn fractions_suggest_the_same_length_in_one_unit() {
        let help = |literal: &str| {
            let error = seconds(literal).err().unwrap_or(DurationError::MissingUnit);
            diagnostic(FileId(0), Span::new(0, 1), literal, &error).help.unwrap_or_default()
        };
        assert_eq!(help("1.5m"), "write `90s` (or `1m30s`), the same length of time");
        assert_eq!(help("1.5h"), "write `90m` (or `1h30m`), the same length of time");
        assert_eq!(help("2.0h"), "write `2h`, the same length of time");
        assert_eq!(help("1.5s"), "`1.5s` is not a whole number of seconds, the smallest unit: write `1s` or `2s`");
        assert_eq!(help("-5m"), "a duration is a length of time: write `5m`");
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
