//! The frame every page shares (head, navigation, the API token box) and the small pieces pages
//! are built from: links, state badges, durations.

use maud::{html, Markup, DOCTYPE};
use serde::Serialize;

/// The stylesheet and script, embedded in the binary.
pub(crate) const CSS: &str = include_str!("assets/dashboard.css");
pub(crate) const JS: &str = include_str!("assets/dashboard.js");

/// A page: `watch` tells the script which pipeline's events refresh it (`*` for all, empty for
/// none).
pub(crate) fn page(title: &str, watch: &str, body: Markup) -> Markup {
    page_with(title, watch, 0, body)
}

/// A page that follows the events after `seq`.
pub(crate) fn page_with(title: &str, watch: &str, seq: u64, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Pipewright" }
                link rel="stylesheet" href="/dashboard/static/dashboard.css";
                script src="/dashboard/static/dashboard.js" defer {}
            }
            body data-watch=(watch) data-seq=(seq) {
                header.top {
                    nav {
                        a.brand href="/" { "Pipewright" }
                        a href="/" { "Overview" }
                        a href="/vsm" { "Value stream" }
                        a href="/agents" { "Agents" }
                    }
                    form #token-form {
                        label for="token" { "API token" }
                        input #token type="password" autocomplete="off" placeholder="paste to act";
                        button type="submit" { "Use" }
                        button #token-forget type="button" hidden { "Forget" }
                    }
                    span #live title="live updates" { "offline" }
                }
                p #token-why .hint { "Actions need the API token (the file the server printed at start): paste it above. It is kept in this tab only." }
                p #action-result .hint hidden {}
                main { (body) }
            }
        }
    }
}

/// A button that calls the API with the token: `method path`, with a JSON body when given.
pub(crate) fn action(label: &str, method: &str, path: &str, body: Option<&str>) -> Markup {
    html! {
        button.act type="button" disabled title="paste the API token at the top to act"
            data-method=(method) data-path=(path) data-body=[body] { (label) }
    }
}

/// One path segment, percent-encoded.
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn pipeline_url(p: &str) -> String {
    format!("/pipelines/{}", seg(p))
}

pub(crate) fn instance_url(p: &str, c: u32) -> String {
    format!("/pipelines/{}/{c}", seg(p))
}

pub(crate) fn job_url(p: &str, c: u32, stage: &str, job: &str) -> String {
    format!("/pipelines/{}/{c}/{}/{}", seg(p), seg(stage), seg(job))
}

/// The API path of an instance, for actions.
pub(crate) fn api_instance(p: &str, c: u32) -> String {
    format!("{}/instances/{}/{c}", crate::protocol::API, seg(p))
}

/// The key the script finds an element by: parts joined with `/` (names may hold `/` only in
/// tests of odd input; the script compares whole keys).
pub(crate) fn key(parts: &[&str]) -> String {
    parts.join("/")
}

/// A state's machine name (`awaiting_approval`), as its serde form.
pub(crate) fn state_name(state: impl Serialize) -> String {
    serde_json::to_value(state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// A duration in milliseconds, as people read it: `850ms`, `12s`, `3m 05s`, `2h 10m`.
pub(crate) fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms}ms"),
        1..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// How long ago `at_ms` was, at `now`.
pub(crate) fn ago(at_ms: u64, now: u64) -> String {
    format!("{} ago", duration(now.saturating_sub(at_ms)))
}

/// A moment as a `<time>` in UTC, to the minute: `2026-01-01 09:05 UTC`. (Not "5s ago": a page
/// whose text changes every second would never answer 304.)
pub(crate) fn at(ms: u64) -> Markup {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rest / 3600, (rest % 3600) / 60, rest % 60);
    let iso = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z");
    html! { time datetime=(iso) { (format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02} UTC")) } }
}

/// A byte count: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A state badge: its class is the state's machine name, its text the word people read.
pub(crate) fn badge(state: &str, word: &str) -> Markup {
    html! { span class={ "badge st-" (state) } data-state=(state) { (word) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded_and_sizes_read_well() {
        assert_eq!(seg("a b/<c>"), "a%20b%2F%3Cc%3E");
        assert_eq!(seg("build-1.x_y~"), "build-1.x_y~");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(12), "12 B");
        assert_eq!(duration(185_000), "3m 05s");
        assert_eq!(duration(7_800_000), "2h 10m");
        let t = |ms| at(ms).into_string();
        assert_eq!(t(0), "<time datetime=\"1970-01-01T00:00:00Z\">1970-01-01 00:00 UTC</time>");
        assert_eq!(
            t(1_767_225_600_000 + 3_723_000),
            "<time datetime=\"2026-01-01T01:02:03Z\">2026-01-01 01:02 UTC</time>"
        );
        assert_eq!(t(951_782_400_000), "<time datetime=\"2000-02-29T00:00:00Z\">2000-02-29 00:00 UTC</time>");
    }
}
