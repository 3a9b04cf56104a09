//! Git materials through the `git` command: finding a branch's current revision, checking a
//! material out at an exact revision on an agent, and running `discover` commands on the server.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// How long a `discover` command may run.
const DISCOVER_LIMIT: Duration = Duration::from_secs(300);

/// How long looking up a branch's revision may take.
const RESOLVE_LIMIT: Duration = Duration::from_secs(120);

fn git() -> Command {
    let mut c = Command::new("git");
    c.env("GIT_TERMINAL_PROMPT", "0").stdin(Stdio::null()).kill_on_drop(true);
    c
}

async fn output(mut cmd: Command, what: &str) -> Result<String, String> {
    let out = cmd.output().await.map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!("{what} failed: {}", err.trim()))
    }
}

/// The revision at the tip of `branch` in the repository at `url`.
pub async fn resolve(url: &str, branch: &str) -> Result<String, String> {
    let mut cmd = git();
    cmd.args(["ls-remote", "--", url, &format!("refs/heads/{branch}")]);
    let text = tokio::time::timeout(RESOLVE_LIMIT, output(cmd, &format!("git ls-remote {url}")))
        .await
        .map_err(|_| format!("git ls-remote {url} did not answer within {}s", RESOLVE_LIMIT.as_secs()))?
        .map_err(|e| e.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" "))?;
    text.split_whitespace().next().map(str::to_string).ok_or_else(|| format!("branch `{branch}` not found in {url}"))
}

/// Checks `url` out at `revision` into `dest`, through a bare cache clone under `cache` that is
/// fetched again only when it lacks the revision. Returns what was done, for the job's log.
pub async fn checkout(url: &str, branch: &str, revision: &str, cache: &Path, dest: &Path) -> Result<String, String> {
    if !revision.chars().all(|c| c.is_ascii_hexdigit()) || revision.is_empty() {
        return Err(format!("invalid revision `{revision}`"));
    }
    let mut log = String::new();
    if !cache.join("HEAD").exists() {
        if let Some(parent) = cache.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let mut cmd = git();
        cmd.arg("clone").arg("--bare").arg("--quiet").arg("--").arg(url).arg(cache);
        output(cmd, &format!("git clone {url}")).await?;
        log.push_str(&format!("cloned {url}\n"));
    }
    let has = |c: &Path| {
        let mut cmd = git();
        cmd.arg("-C").arg(c).args(["cat-file", "-e", &format!("{revision}^{{commit}}")]).stderr(Stdio::null());
        cmd
    };
    if !has(cache).status().await.is_ok_and(|s| s.success()) {
        let mut cmd = git();
        cmd.arg("-C").arg(cache).args([
            "fetch",
            "--quiet",
            "--",
            url,
            &format!("+refs/heads/{branch}:refs/heads/{branch}"),
        ]);
        output(cmd, &format!("git fetch {url}")).await?;
        if !has(cache).status().await.is_ok_and(|s| s.success()) {
            let mut cmd = git();
            cmd.arg("-C").arg(cache).args(["fetch", "--quiet", "--", url, "+refs/heads/*:refs/heads/*"]);
            output(cmd, &format!("git fetch {url}")).await?;
        }
    }
    std::fs::create_dir_all(dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    let mut cmd = git();
    cmd.arg("-C").arg(dest).args(["init", "--quiet"]);
    output(cmd, "git init").await?;
    let mut cmd = git();
    cmd.arg("-C").arg(dest).arg("fetch").arg("--quiet").arg("--").arg(cache).arg(revision);
    output(cmd, "git fetch").await?;
    let mut cmd = git();
    cmd.arg("-C").arg(dest).args(["checkout", "--quiet", "--force", "--detach", revision]);
    output(cmd, &format!("git checkout {revision}")).await?;
    log.push_str(&format!("checked out {url} at {revision}\n"));
    Ok(log)
}

/// Runs a `discover` command with `sh -c` and returns its output lines.
pub async fn discover(command: &str, dir: &Path, env: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    let _ = std::fs::create_dir_all(dir);
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command).current_dir(dir).envs(env).stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(DISCOVER_LIMIT, cmd.output())
        .await
        .map_err(|_| format!("`{command}` ran longer than {}s", DISCOVER_LIMIT.as_secs()))?
        .map_err(|e| format!("cannot run `{command}`: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(format!("`{command}` failed ({}): {}", out.status, tail.join(" / ")));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, script: &str) {
        let ok = std::process::Command::new("sh").arg("-c").arg(script).current_dir(dir).status().unwrap().success();
        assert!(ok, "{script}");
    }

    #[tokio::test]
    async fn resolves_and_checks_out_exact_revisions() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        sh(
            &repo,
            "git init -q -b main && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m one && echo a > f && git add f && git -c user.name=t -c user.email=t@t commit -q -m two",
        );
        let url = repo.to_string_lossy().to_string();
        let tip = resolve(&url, "main").await.unwrap();
        assert_eq!(tip.len(), 40);
        let first = String::from_utf8(
            std::process::Command::new("git").args(["-C", &url, "rev-parse", "HEAD~1"]).output().unwrap().stdout,
        )
        .unwrap();
        let cache = dir.path().join("cache");
        let dest = dir.path().join("ws");
        checkout(&url, "main", first.trim(), &cache, &dest).await.unwrap();
        assert!(!dest.join("f").exists(), "the first commit has no file");
        let dest2 = dir.path().join("ws2");
        checkout(&url, "main", &tip, &cache, &dest2).await.unwrap();
        assert_eq!(std::fs::read_to_string(dest2.join("f")).unwrap(), "a\n");
        let err = resolve(&url, "nope").await.unwrap_err();
        assert!(err.contains("branch `nope` not found"), "{err}");
        assert!(checkout(&url, "main", "zz; rm", &cache, &dest2).await.is_err());
    }

    #[tokio::test]
    async fn discover_returns_lines_or_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let env = BTreeMap::from([("X".to_string(), "b".to_string())]);
        assert_eq!(discover("echo a; echo $X", dir.path(), &env).await.unwrap(), vec!["a", "b"]);
        let err = discover("echo oops >&2; exit 3", dir.path(), &env).await.unwrap_err();
        assert!(err.contains("oops"), "{err}");
    }
}
