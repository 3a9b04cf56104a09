//! Durations the runtime recorded, for `pw lint --history`: a JSON export of the median time of
//! each job and task over its recent runs.
//!
//! The file is `durations.json` in the runtime's state folder (or any path given directly):
//!
//! ```json
//! {"version": 1,
//!  "jobs":  [{"pipeline": "build", "stage": "compile", "job": "linux", "median_seconds": 84, "runs": 12}],
//!  "tasks": [{"pipeline": "build", "stage": "compile", "job": "linux", "task": 0, "median_seconds": 80, "runs": 12}]}
//! ```
//! Names compare case-insensitively; `task` is the task's 0-based index in its job.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The file name looked for in a state folder.
pub const FILE_NAME: &str = "durations.json";

/// The version of the file's shape, written by the runtime and required by the reader.
pub(crate) const VERSION: u32 = 1;

/// A recorded median duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub median_secs: u64,
    pub runs: u32,
}

/// Recorded durations by job and by task.
#[derive(Clone, Debug, Default)]
pub struct History {
    jobs: HashMap<(String, String, String), Recorded>,
    tasks: HashMap<(String, String, String, usize), Recorded>,
}

/// The contents of `durations.json`: the one definition of its shape, used by the runtime that
/// writes it and by [`History::parse`] that reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationsFile {
    pub version: u32,
    #[serde(default)]
    pub jobs: Vec<JobDuration>,
    #[serde(default)]
    pub tasks: Vec<TaskDuration>,
}

/// The median duration of a job over its recent passed runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDuration {
    pub pipeline: String,
    pub stage: String,
    pub job: String,
    pub median_seconds: u64,
    pub runs: u32,
}

/// The median duration of a task (by its 0-based index in its job) over its recent passed runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDuration {
    pub pipeline: String,
    pub stage: String,
    pub job: String,
    pub task: usize,
    pub median_seconds: u64,
    pub runs: u32,
}

impl DurationsFile {
    /// A file of the current [`VERSION`].
    pub fn new(jobs: Vec<JobDuration>, tasks: Vec<TaskDuration>) -> Self {
        DurationsFile { version: VERSION, jobs, tasks }
    }
}

fn key(p: &str, s: &str, j: &str) -> (String, String, String) {
    (p.to_ascii_lowercase(), s.to_ascii_lowercase(), j.to_ascii_lowercase())
}

impl History {
    /// Reads `durations.json` from a state folder, or the file itself.
    pub fn load(path: &Path) -> Result<History, String> {
        let file: PathBuf = if path.is_dir() { path.join(FILE_NAME) } else { path.to_path_buf() };
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read the recorded durations in {}: {e}", file.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", file.display()))
    }

    /// Parses the JSON export.
    pub fn parse(text: &str) -> Result<History, String> {
        let export: DurationsFile = serde_json::from_str(text).map_err(|e| format!("invalid durations file: {e}"))?;
        if export.version != VERSION {
            return Err(format!("durations file version {} is not supported (expected {VERSION})", export.version));
        }
        let mut history = History::default();
        for j in export.jobs {
            history.add_job(&j.pipeline, &j.stage, &j.job, Recorded { median_secs: j.median_seconds, runs: j.runs });
        }
        for t in export.tasks {
            let (p, s, j) = key(&t.pipeline, &t.stage, &t.job);
            history.tasks.insert((p, s, j, t.task), Recorded { median_secs: t.median_seconds, runs: t.runs });
        }
        Ok(history)
    }

    pub(crate) fn add_job(&mut self, pipeline: &str, stage: &str, job: &str, recorded: Recorded) {
        self.jobs.insert(key(pipeline, stage, job), recorded);
    }

    pub fn job(&self, pipeline: &str, stage: &str, job: &str) -> Option<Recorded> {
        self.jobs.get(&key(pipeline, stage, job)).copied()
    }

    pub fn task(&self, pipeline: &str, stage: &str, job: &str, index: usize) -> Option<Recorded> {
        let (p, s, j) = key(pipeline, stage, job);
        self.tasks.get(&(p, s, j, index)).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty() && self.tasks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_export() {
        let h = History::parse(
            r#"{"version":1,"jobs":[{"pipeline":"Build","stage":"c","job":"l","median_seconds":84,"runs":12}],
                "tasks":[{"pipeline":"build","stage":"c","job":"l","task":1,"median_seconds":3,"runs":2}]}"#,
        )
        .unwrap_or_default();
        assert_eq!(h.job("build", "C", "l"), Some(Recorded { median_secs: 84, runs: 12 }));
        assert_eq!(h.task("build", "c", "l", 1), Some(Recorded { median_secs: 3, runs: 2 }));
        assert!(History::parse(r#"{"version":2}"#).is_err());
        assert!(History::parse(r#"{"version":1,"jobz":[]}"#).is_err());
    }

    #[test]
    fn the_shared_type_reads_back_what_it_writes() {
        let file = DurationsFile::new(
            vec![JobDuration { pipeline: "p".into(), stage: "s".into(), job: "J".into(), median_seconds: 9, runs: 3 }],
            vec![TaskDuration {
                pipeline: "p".into(),
                stage: "s".into(),
                job: "J".into(),
                task: 2,
                median_seconds: 4,
                runs: 3,
            }],
        );
        let text = serde_json::to_string_pretty(&file).unwrap_or_default();
        assert_eq!(serde_json::from_str::<DurationsFile>(&text).ok(), Some(file));
        let h = History::parse(&text).unwrap_or_default();
        assert_eq!(h.job("P", "s", "j"), Some(Recorded { median_secs: 9, runs: 3 }));
        assert_eq!(h.task("p", "s", "j", 2), Some(Recorded { median_secs: 4, runs: 3 }));
        assert_eq!(h.task("p", "s", "j", 1), None);
    }
}
