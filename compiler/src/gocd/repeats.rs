//! One `G0003` a key and file: GoCD ignores a key the same way wherever it stands, so the
//! first place is the finding and the others are its labels, rather than a finding each.

use super::codes::GoCode;
use crate::diagnostic::{Diagnostic, DiagnosticCode, Label};
use crate::words::plural;

/// Merges the `G0003` findings of one file that say the same (the same key on the same level).
pub(super) fn one_per_key(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let code = GoCode::G0003.as_str();
    let mut out: Vec<(Diagnostic, u64)> = Vec::with_capacity(diagnostics.len());
    for d in diagnostics {
        let first = out.iter_mut().find(|(o, _)| d.code == code && o.code == code && o.message == d.message);
        match first {
            Some((first, repeats)) => {
                first.labels.push(Label { file: d.file, span: d.span, message: "ignored here too".into() });
                *repeats += 1;
            }
            None => out.push((d, 0)),
        }
    }
    out.into_iter()
        .map(|(mut d, repeats)| {
            if repeats > 0 {
                d.message = format!("{}, here and in {}", d.message, plural(repeats, "more place"));
            }
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, Span};

    fn ignored(key: &str, at: usize) -> Diagnostic {
        let message = format!("GoCD ignores the key `{key}` on a job");
        Diagnostic::warning(GoCode::G0003, FileId(0), Span::new(at, at + 1), message)
    }

    #[test]
    fn a_key_ignored_in_three_places_is_one_finding_with_two_labels() {
        let all = vec![ignored("job_type", 1), ignored("other", 5), ignored("job_type", 9), ignored("job_type", 20)];
        let merged = one_per_key(all);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].message, "GoCD ignores the key `job_type` on a job, here and in 2 more places");
        assert_eq!(merged[0].labels.len(), 2);
        assert_eq!(merged[1].message, "GoCD ignores the key `other` on a job");
    }
}
