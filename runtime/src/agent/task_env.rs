//! What a task runs with: an environment built from an allow-list (never the agent's own), and
//! optionally an unprivileged user (`pw agent --run-as USER`) who cannot read the agent's files.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

/// The variables of the agent's own environment a task gets: where programs are, and the
/// locale and time zone. Nothing else of the agent's environment (its token, the server's
/// secrets under `pw run`) reaches a task.
const PASSED_ON: &[&str] = &["PATH", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TERM", "TMPDIR"];

/// A user tasks run as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: String,
}

impl User {
    /// Looks a user up by name in the system's user database.
    pub fn lookup(name: &str) -> Result<User, String> {
        let c_name = CString::new(name).map_err(|_| format!("`{name}` is not a user name"))?;
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is to a live local of the right size; the strings `pwd` points
        // to live in `buf`, read before it is dropped.
        let rc = unsafe { libc::getpwnam_r(c_name.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
        if rc != 0 || found.is_null() {
            return Err(format!("no user named `{name}` on this machine"));
        }
        // SAFETY: getpwnam_r filled these fields with NUL-terminated strings inside `buf`.
        let text = |p: *const libc::c_char| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        Ok(User {
            name: name.to_string(),
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
            home: PathBuf::from(text(pwd.pw_dir)),
            shell: text(pwd.pw_shell),
        })
    }

    /// The user `pw agent --run-as NAME` asks for: only root may run tasks as another user.
    pub fn for_run_as(name: &str) -> Result<User, String> {
        let user = User::lookup(name)?;
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        if euid != 0 && euid != user.uid {
            return Err(format!("--run-as {name} needs the agent to run as root (it runs as user id {euid})"));
        }
        if user.uid == 0 {
            return Err(format!("--run-as {name}: tasks must run as an unprivileged user, not as root"));
        }
        Ok(user)
    }
}

/// The environment of a task: the allowed variables of the agent's environment, the user's
/// identity, then `job` (the plan's env, the job's declared secrets, the `PW_*` job facts).
pub fn task_env(job: &BTreeMap<String, String>, user: Option<&User>) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> =
        PASSED_ON.iter().filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v))).collect();
    match user {
        Some(u) => {
            env.insert("HOME".into(), u.home.to_string_lossy().into_owned());
            env.insert("USER".into(), u.name.clone());
            env.insert("LOGNAME".into(), u.name.clone());
            env.insert("SHELL".into(), u.shell.clone());
        }
        None => {
            for k in ["HOME", "USER", "LOGNAME", "SHELL"] {
                if let Ok(v) = std::env::var(k) {
                    env.insert(k.into(), v);
                }
            }
        }
    }
    env.extend(job.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Gives `path` and everything under it to `user`, so that tasks running as the user can write
/// their workspace (checked out and fetched into by the agent). Symbolic links are not followed.
pub fn give_to(path: &Path, user: &User) -> Result<(), String> {
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        std::os::unix::fs::lchown(&p, Some(user.uid), Some(user.gid))
            .map_err(|e| format!("cannot give {} to user {}: {e}", p.display(), user.name))?;
        let meta = std::fs::symlink_metadata(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        if meta.is_dir() {
            let entries = std::fs::read_dir(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            stack.extend(entries.flatten().map(|e| e.path()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_gets_the_allowed_variables_and_its_job_s_but_nothing_else_of_the_agent_s() {
        std::env::set_var("PW_TASK_ENV_TEST_TOKEN", "agent-only");
        let job = BTreeMap::from([("PW_JOB".to_string(), "j".to_string()), ("PATH".to_string(), "/x".to_string())]);
        let env = task_env(&job, None);
        assert!(!env.contains_key("PW_TASK_ENV_TEST_TOKEN"), "{env:?}");
        assert_eq!(env["PW_JOB"], "j");
        assert_eq!(env["PATH"], "/x", "the plan's env wins");
        let root = User::lookup("root").expect("every system has root");
        assert_eq!(root.uid, 0);
        let env = task_env(&BTreeMap::new(), Some(&root));
        assert_eq!(env["USER"], "root");
        assert!(User::lookup("no-such-user-here").unwrap_err().contains("no user named"));
    }
}
