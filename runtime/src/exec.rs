//! Running one task's process on an agent: in its own process group, output streamed line by
//! line, stopped on cancel or timeout with SIGTERM to the group and SIGKILL after a grace period.

use std::collections::BTreeMap;
use std::path::Path;
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

/// Runs `argv` in `cwd` with `env` added, sending output lines to `out`. Stops when `stop`
/// turns true or at `deadline`. Returns the outcome and the process group id.
pub async fn run(
    argv: &[String],
    cwd: &Path,
    env: &BTreeMap<String, String>,
    out: mpsc::UnboundedSender<String>,
    mut stop: watch::Receiver<bool>,
    deadline: Option<Instant>,
    grace: Duration,
) -> (Outcome, Option<u32>) {
    let Some((program, args)) = argv.split_first() else {
        return (Outcome::FailedToStart("empty command".into()), None);
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (Outcome::FailedToStart(format!("cannot start `{program}`: {e}")), None),
    };
    let pgid = child.id();
    let readers = [
        child.stdout.take().map(|s| tokio::spawn(pump(s, out.clone()))),
        child.stderr.take().map(|s| tokio::spawn(pump(s, out.clone()))),
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

async fn pump(stream: impl AsyncRead + Unpin, out: mpsc::UnboundedSender<String>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let mut limited = (&mut reader).take_line(MAX_LINE);
        match limited.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let mut line = String::from_utf8_lossy(&buf).into_owned();
                if !line.ends_with('\n') {
                    line.push('\n');
                }
                if out.send(line).is_err() {
                    return;
                }
            }
        }
    }
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
        let (outcome, _) = run(&sh(script), dir.path(), &env, tx, stop_rx, deadline, Duration::from_millis(300)).await;
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
        let (o, _) = run(&argv, dir.path(), &BTreeMap::new(), tx, stop, None, Duration::from_millis(10)).await;
        assert!(matches!(o, Outcome::FailedToStart(m) if m.contains("/nonexistent/program")));
    }
}
