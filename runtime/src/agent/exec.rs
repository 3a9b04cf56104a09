//! Running one task's process on an agent: in its own process group, with exactly the
//! environment it is given (nothing inherited), optionally as another user, output streamed line
//! by line with secrets masked, stopped on cancel or timeout with SIGTERM to the group and SIGKILL after a grace
//! period, and never outliving the agent: the group is killed when the agent process ends, however
//! it ends (see [`lifeline`]).

use super::task_env::User;
use crate::masker::{Masker, Patterns};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Longest line passed on as one piece.
const MAX_LINE: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    /// Ended by a signal it did not get from us.
    Signalled(i32),
    Cancelled,
    TimedOut,
    FailedToStart(String),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

/// Sends `signal` to every process of the group `pgid`.
pub(crate) fn kill_group(pgid: u32, signal: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
        unsafe {
            libc::kill(-(pgid as i32), signal);
        }
    }
}

/// The folder a task runs in: the workspace, or its folder `dir`, which must exist and stay
/// inside the workspace once symbolic links are followed. The path returned is the resolved one,
/// so that the process starts in the folder that was checked.
pub fn task_dir(workspace: &Path, dir: Option<&str>) -> Result<PathBuf, String> {
    let Some(dir) = dir else { return Ok(workspace.to_path_buf()) };
    let relative = crate::artifacts::safe_relative(dir).map_err(|e| format!("working folder {e}"))?;
    let root = std::fs::canonicalize(workspace)
        .map_err(|e| format!("cannot read the workspace {}: {e}", workspace.display()))?;
    let real = std::fs::canonicalize(workspace.join(&relative))
        .map_err(|_| format!("working folder `{dir}` does not exist in the workspace"))?;
    if !real.starts_with(&root) {
        return Err(format!("working folder `{dir}` leads out of the workspace through a symbolic link"));
    }
    if !real.is_dir() {
        return Err(format!("working folder `{dir}` is not a folder"));
    }
    Ok(real)
}

/// What to run, where, with what environment (the whole of it) and as which user.
pub struct Spec<'a> {
    pub argv: &'a [String],
    pub cwd: &'a Path,
    pub env: &'a BTreeMap<String, String>,
    pub user: Option<&'a User>,
    /// The secrets to mask in the output.
    pub secrets: &'a Patterns,
}

/// Runs a task, sending output lines to `out`. Stops when `stop` turns true or at `deadline`.
/// Returns the outcome and the process group id.
pub async fn run(
    spec: Spec<'_>,
    out: mpsc::UnboundedSender<String>,
    mut stop: watch::Receiver<bool>,
    deadline: Option<Instant>,
    grace: Duration,
) -> (Outcome, Option<u32>) {
    let Some((program, args)) = spec.argv.split_first() else {
        return (Outcome::FailedToStart("empty command".into()), None);
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(spec.cwd)
        .env_clear()
        .envs(spec.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(user) = spec.user {
        cmd.uid(user.uid).gid(user.gid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (Outcome::FailedToStart(format!("cannot start `{program}`: {e}")), None),
    };
    let pgid = child.id();
    if let Some(pgid) = pgid {
        lifeline::watch_group(pgid);
    }
    let readers = [
        child.stdout.take().map(|s| tokio::spawn(pump(s, out.clone(), spec.secrets.stream()))),
        child.stderr.take().map(|s| tokio::spawn(pump(s, out.clone(), spec.secrets.stream()))),
    ];
    let far = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
    let outcome = tokio::select! {
        status = child.wait() => match status {
            Ok(s) => exit_outcome(s),
            Err(e) => Outcome::FailedToStart(e.to_string()),
        },
        _ = stopped(&mut stop) => {
            terminate(&mut child, pgid, grace).await;
            Outcome::Cancelled
        }
        _ = tokio::time::sleep_until(deadline.unwrap_or(far)) => {
            terminate(&mut child, pgid, grace).await;
            Outcome::TimedOut
        }
    };
    // Background processes may hold the pipes open: do not wait for them long.
    for r in readers.into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_millis(500), r).await;
    }
    (outcome, pgid)
}

/// How a task's process group dies with the agent: a watcher joins the task's group as soon as
/// it starts, a shell (`read`, then `kill -9 0`) whose standard input is a pipe only the agent
/// holds open. When the agent ends, however it ends (SIGKILL included), the read returns and the
/// watcher kills the whole group, children and grandchildren too. The agent kills the group,
/// watcher included, when the job ends. Only a process that leaves the group (`setsid`) escapes.
///
/// Both the task and its watcher are started with `posix_spawn` (no code runs between fork and
/// exec): forking the agent, a process of many threads, made every spawn copy pages and stop the
/// other cores, which halved the jobs an agent runs a second.
mod lifeline {
    use std::os::fd::{AsFd, BorrowedFd};
    use std::process::Stdio;
    use std::sync::OnceLock;

    /// The pipe's ends, opened once per agent process; both close on exec, and the write end
    /// stays open, unused, for the life of the process.
    fn read_end() -> Option<BorrowedFd<'static>> {
        static PIPE: OnceLock<Option<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)>> = OnceLock::new();
        PIPE.get_or_init(|| {
            let mut fds = [0 as libc::c_int; 2];
            // SAFETY: `fds` is a live array of two descriptors, as pipe2(2) needs.
            if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
                return None;
            }
            use std::os::fd::FromRawFd;
            // SAFETY: pipe2 just opened both descriptors; nothing else owns them.
            Some(unsafe { (std::os::fd::OwnedFd::from_raw_fd(fds[0]), std::os::fd::OwnedFd::from_raw_fd(fds[1])) })
        })
        .as_ref()
        .map(|(read, _)| read.as_fd())
    }

    /// Starts the watcher of the process group `pgid`. When the group is already gone (the task
    /// ended at once), there is nothing to watch.
    pub(super) fn watch_group(pgid: u32) {
        let Some(stdin) = read_end().and_then(|fd| fd.try_clone_to_owned().ok()) else { return };
        let watcher = tokio::process::Command::new("/bin/sh")
            .args(["-c", "read -r line; kill -9 0"])
            .env_clear()
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(pgid as i32)
            .spawn();
        if let Ok(mut watcher) = watcher {
            // Reaped when the agent kills the group at the end of the job.
            tokio::spawn(async move {
                let _ = watcher.wait().await;
            });
        }
    }
}

fn exit_outcome(s: std::process::ExitStatus) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => Outcome::Exited(c),
        (None, Some(sig)) => Outcome::Signalled(sig),
        _ => Outcome::Exited(-1),
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// SIGTERM to the group, then SIGKILL if it is still there after `grace`.
async fn terminate(child: &mut tokio::process::Child, pgid: Option<u32>, grace: Duration) {
    if let Some(pgid) = pgid {
        kill_group(pgid, libc::SIGTERM);
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            kill_group(pgid, libc::SIGKILL);
        }
        // Children of the group that ignored SIGTERM go too.
        kill_group(pgid, libc::SIGKILL);
    }
    let _ = child.kill().await;
}

/// Passes a stream on line by line (a longer line in pieces), masked as one stream, so that a
/// secret split between pieces is masked too. The output ends with a newline.
async fn pump(stream: impl AsyncRead + Unpin, out: mpsc::UnboundedSender<String>, mut masker: Masker) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    // Bytes of a character cut by the line limit, kept for the next piece.
    let mut carry = Vec::new();
    let mut ends_line = true;
    loop {
        buf.clear();
        buf.append(&mut carry);
        let mut limited = (&mut reader).take_line(MAX_LINE);
        let eof = matches!(limited.read_until(b'\n', &mut buf).await, Ok(0) | Err(_));
        let text = if eof {
            let mut text = masker.push(&String::from_utf8_lossy(&buf));
            text.push_str(&masker.finish());
            text
        } else {
            masker.push(&decode(&mut buf, &mut carry))
        };
        if !text.is_empty() {
            ends_line = text.ends_with('\n');
            if out.send(text).is_err() {
                return;
            }
        }
        if eof {
            if !ends_line {
                let _ = out.send("\n".into());
            }
            return;
        }
    }
}

/// The text of `buf`; the bytes of a character cut at its end go to `carry`.
fn decode(buf: &mut Vec<u8>, carry: &mut Vec<u8>) -> String {
    if let Err(e) = std::str::from_utf8(buf) {
        if e.error_len().is_none() {
            *carry = buf.split_off(e.valid_up_to());
        }
    }
    String::from_utf8_lossy(buf).into_owned()
}

trait TakeLine: Sized {
    fn take_line(self, limit: usize) -> tokio::io::Take<Self>;
}

impl<R: AsyncRead + Unpin> TakeLine for R {
    fn take_line(self, limit: usize) -> tokio::io::Take<Self> {
        tokio::io::AsyncReadExt::take(self, limit as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_runs_in_a_folder_of_its_workspace_and_nowhere_else() {
        let root = tempfile::tempdir().unwrap();
        let (ws, outside) = (root.path().join("ws"), root.path().join("outside"));
        std::fs::create_dir_all(ws.join("services/api")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(ws.join("README"), "").unwrap();
        std::os::unix::fs::symlink(&outside, ws.join("away")).unwrap();
        std::os::unix::fs::symlink("services", ws.join("inside")).unwrap();
        let real = std::fs::canonicalize(&ws).unwrap();
        assert_eq!(task_dir(&ws, None).unwrap(), ws);
        assert_eq!(task_dir(&ws, Some("services/api")).unwrap(), real.join("services/api"));
        assert_eq!(task_dir(&ws, Some("inside/api")).unwrap(), real.join("services/api"), "a link inside is fine");
        let refused = |dir: &str| task_dir(&ws, Some(dir)).unwrap_err();
        assert_eq!(refused("away"), "working folder `away` leads out of the workspace through a symbolic link");
        assert_eq!(refused("away/x"), "working folder `away/x` does not exist in the workspace");
        assert_eq!(refused("missing"), "working folder `missing` does not exist in the workspace");
        assert_eq!(refused("README"), "working folder `README` is not a folder");
        assert!(refused("../outside").contains("must be a relative path inside the workspace"), "{}", refused(".."));
        assert!(refused("/tmp").contains("must be a relative path inside the workspace"));
    }

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    async fn go(script: &str, deadline: Option<Instant>, stop_after: Option<Duration>) -> (Outcome, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = watch::channel(false);
        if let Some(after) = stop_after {
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let _ = stop_tx.send(true);
            });
        } else {
            std::mem::forget(stop_tx);
        }
        let env = BTreeMap::from([("GREETING".to_string(), "hello".to_string())]);
        let argv = sh(script);
        let spec = Spec { argv: &argv, cwd: dir.path(), env: &env, user: None, secrets: &Patterns::default() };
        let (outcome, _) = run(spec, tx, stop_rx, deadline, Duration::from_millis(300)).await;
        let mut lines = Vec::new();
        while let Ok(l) = rx.try_recv() {
            lines.push(l);
        }
        (outcome, lines)
    }

    #[tokio::test]
    async fn output_and_exit_codes() {
        let (o, lines) = go("echo $GREETING; echo err >&2; exit 3", None, None).await;
        assert_eq!(o, Outcome::Exited(3));
        let mut lines = lines;
        lines.sort();
        assert_eq!(lines, vec!["err\n", "hello\n"]);
        let (o, _) = go("true", None, None).await;
        assert!(o.passed());
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_group_even_when_sigterm_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script =
            format!("trap '' TERM; sh -c 'trap \"\" TERM; echo $$ > {}; sleep 30' & sleep 30", pidfile.display());
        let (o, _) = go(&script, Some(Instant::now() + Duration::from_millis(300)), None).await;
        assert_eq!(o, Outcome::TimedOut);
        let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_string();
        let mut gone = false;
        for _ in 0..40 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.is_empty() || stat.contains(") Z ") {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(gone, "the grandchild {pid} survived");
    }

    #[tokio::test]
    async fn cancel_stops_the_task() {
        let (o, _) = go("sleep 10", None, Some(Duration::from_millis(100))).await;
        assert_eq!(o, Outcome::Cancelled);
    }

    #[tokio::test]
    async fn a_missing_program_fails_to_start() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, _rx) = mpsc::unbounded_channel();
        let (_s, stop) = watch::channel(false);
        let argv = vec!["/nonexistent/program".to_string()];
        let spec =
            Spec { argv: &argv, cwd: dir.path(), env: &BTreeMap::new(), user: None, secrets: &Patterns::default() };
        let (o, _) = run(spec, tx, stop, None, Duration::from_millis(10)).await;
        assert!(matches!(o, Outcome::FailedToStart(m) if m.contains("/nonexistent/program")));
    }
}
