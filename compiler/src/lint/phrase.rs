//! How a finding's advice writes a setting: in the syntax of the file it is about, so that a
//! GoCD YAML or XML file is never told to write Pipewright.

use crate::export::gocd::{artifact_kind, Kind};
use crate::gocd::Syntax;

/// A task's condition (`always`, `failed` or `passed`), as written on a task.
pub(crate) fn when(syntax: Syntax, when: &str) -> String {
    let gocd = match when {
        "always" => "any",
        other => other,
    };
    match syntax {
        Syntax::Pipewright => format!("when = {when}"),
        Syntax::GocdYaml => format!("run_if: {gocd}"),
        Syntax::GocdXml => format!("<runif status=\"{gocd}\" />"),
    }
}

/// A job's timeout of `minutes`.
pub(crate) fn timeout(syntax: Syntax, minutes: u64) -> String {
    match syntax {
        Syntax::Pipewright => format!("timeout = {}", crate::parser::format_duration(minutes * 60)),
        Syntax::GocdYaml => format!("timeout: {minutes}"),
        Syntax::GocdXml => format!("timeout=\"{minutes}\""),
    }
}

/// A task that fetches `path`, published as `artifact` by job `job` of stage `stage`. GoCD
/// fetches a folder unless told that the path is a file (one with an extension, here).
pub(crate) fn fetch(syntax: Syntax, stage: &str, job: &str, artifact: &str, path: &str) -> String {
    let base = path.trim_end_matches('/').rsplit('/').next().unwrap_or(path);
    let is_file = artifact_kind(base) == Kind::File;
    match syntax {
        Syntax::Pipewright => format!("fetch {stage}.{job}.{artifact}"),
        Syntax::GocdYaml if is_file => {
            format!("fetch: {{ stage: {stage}, job: {job}, source: {path}, is_file: true }}")
        }
        Syntax::GocdYaml => format!("fetch: {{ stage: {stage}, job: {job}, source: {path} }}"),
        Syntax::GocdXml => {
            let src = if is_file { "srcfile" } else { "srcdir" };
            format!("<fetchartifact stage=\"{stage}\" job=\"{job}\" {src}=\"{path}\" />")
        }
    }
}

/// A job's artifact `artifact` of the file or folder `path`.
pub(crate) fn artifact(syntax: Syntax, artifact: &str, path: &str) -> String {
    match syntax {
        Syntax::Pipewright => format!("artifact {artifact} = \"{path}\""),
        Syntax::GocdYaml => format!("artifacts: [{{ build: {{ source: {path} }} }}]"),
        Syntax::GocdXml => format!("<artifact type=\"build\" src=\"{path}\" />"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_syntax_writes_its_own() {
        assert_eq!(when(Syntax::Pipewright, "always"), "when = always");
        assert_eq!(when(Syntax::GocdYaml, "always"), "run_if: any");
        assert_eq!(when(Syntax::GocdXml, "failed"), "<runif status=\"failed\" />");
        assert_eq!(timeout(Syntax::Pipewright, 90), "timeout = 1h30m");
        assert_eq!(timeout(Syntax::GocdYaml, 30), "timeout: 30");
        assert_eq!(fetch(Syntax::Pipewright, "build", "zip", "dist", "dist.zip"), "fetch build.zip.dist");
        let yaml = fetch(Syntax::GocdYaml, "build", "zip", "dist", "dist.zip");
        assert_eq!(yaml, "fetch: { stage: build, job: zip, source: dist.zip, is_file: true }");
        let xml = fetch(Syntax::GocdXml, "build", "deps", "vendor", "vendor/");
        assert_eq!(xml, "<fetchartifact stage=\"build\" job=\"deps\" srcdir=\"vendor/\" />");
        assert_eq!(artifact(Syntax::GocdXml, "dist", "dist.zip"), "<artifact type=\"build\" src=\"dist.zip\" />");
    }
}
