//! Path patterns for `per-path-ignores`: `*` and `?` within one path segment, `**` across
//! segments, matched against `/`-separated paths relative to the configuration's folder.

/// Whether `path` matches `pattern`. A pattern without `/` matches the file name in any folder.
pub fn matches(pattern: &str, path: &str) -> bool {
    let path = path.trim_start_matches("./");
    let pattern = pattern.trim_start_matches("./");
    let pattern = if pattern.contains('/') { pattern.to_string() } else { format!("**/{pattern}") };
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match_segments(&pat, &segs)
}

fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    // Iterative over `**` positions would be faster; patterns are short and paths shallow.
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|skip| match_segments(rest, &segs[skip..])),
        Some((first, rest)) => {
            // A pattern naming a folder also matches the files below it.
            if rest.is_empty() && segs.len() > 1 && match_segment(first, segs[0]) && !first.contains('.') {
                return true;
            }
            segs.split_first().is_some_and(|(s, tail)| match_segment(first, s) && match_segments(rest, tail))
        }
    }
}

/// `*` and `?` within one segment.
pub(crate) fn match_segment(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn matches_segments_and_double_stars() {
        assert!(matches("legacy/*.pw", "legacy/old.pw"));
        assert!(!matches("legacy/*.pw", "legacy/deep/old.pw"));
        assert!(matches("legacy/**/*.pw", "legacy/deep/old.pw"));
        assert!(matches("legacy/**", "legacy/deep/old.pw"));
        assert!(matches("legacy", "legacy/deep/old.pw"));
        assert!(matches("old.pw", "any/where/old.pw"));
        assert!(matches("*.pw", "top.pw"));
        assert!(matches("./ci/r?lease.pw", "ci/release.pw"));
        assert!(!matches("ci/*.pw", "other/ci.pw"));
        assert!(matches("dist/*.tar.gz", "dist/app-1.2.tar.gz"));
    }
}
