//! The recorded durations export, `durations.json` in the state folder, read by
//! `pw lint --history`: the median time of each job over its last passed attempts, and of each
//! task over its last passed runs. Its shape is the compiler's [`DurationsFile`], the type the
//! linter reads it with.

use crate::store::{JobDurations, Store, TaskDurations, RECENT_RUNS};
use pw_compiler::runtime_api::{DurationsFile, JobDuration, TaskDuration};
use std::path::{Path, PathBuf};

/// The file's name in the state folder (the name the linter looks for).
pub use pw_compiler::runtime_api::DURATIONS_FILE_NAME as FILE_NAME;

/// The median of some durations in milliseconds, rounded to whole seconds (0 when empty).
pub fn median_seconds(millis: &[u64]) -> u64 {
    if millis.is_empty() {
        return 0;
    }
    let mut sorted = millis.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let ms = if n % 2 == 1 { sorted[n / 2] } else { sorted[n / 2 - 1] / 2 + sorted[n / 2] / 2 };
    (ms + 500) / 1000
}

/// The export of recorded job and task durations.
pub fn export(jobs: &[JobDurations], tasks: &[TaskDurations]) -> DurationsFile {
    let jobs = jobs
        .iter()
        .map(|d| JobDuration {
            pipeline: d.pipeline.clone(),
            stage: d.stage.clone(),
            job: d.job.clone(),
            median_seconds: median_seconds(&d.millis),
            runs: d.millis.len() as u32,
        })
        .collect();
    let tasks = tasks
        .iter()
        .map(|d| TaskDuration {
            pipeline: d.pipeline.clone(),
            stage: d.stage.clone(),
            job: d.job.clone(),
            task: d.task,
            median_seconds: median_seconds(&d.millis),
            runs: d.millis.len() as u32,
        })
        .collect();
    DurationsFile::new(jobs, tasks)
}

/// The export's JSON text.
pub fn render(jobs: &[JobDurations], tasks: &[TaskDurations]) -> String {
    serde_json::to_string_pretty(&export(jobs, tasks)).unwrap_or_default()
}

/// Computes the export from the store and replaces `dir/durations.json` with it atomically
/// (written to a temporary file beside it, then renamed over it).
pub fn write(store: &Store, dir: &Path) -> Result<PathBuf, String> {
    let text = render(&store.job_durations(RECENT_RUNS)?, &store.task_durations(RECENT_RUNS)?);
    let path = dir.join(FILE_NAME);
    let tmp = dir.join(format!(".{FILE_NAME}.tmp"));
    std::fs::write(&tmp, text + "\n").map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
    Ok(path)
}

/// The last export written to `dir`, if there is a readable one.
pub(crate) fn read(dir: &Path) -> Option<DurationsFile> {
    serde_json::from_str(&std::fs::read_to_string(dir.join(FILE_NAME)).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_two_middle_ones() {
        assert_eq!(median_seconds(&[]), 0);
        assert_eq!(median_seconds(&[90_000, 1_000, 4_400]), 4);
        assert_eq!(median_seconds(&[2_000, 9_000, 1_000, 100_000]), 6);
        assert_eq!(median_seconds(&[499]), 0);
        assert_eq!(median_seconds(&[500]), 1);
    }

    #[test]
    fn the_export_has_the_documented_shape_and_reads_back_as_the_durations_file() {
        let j = JobDurations { pipeline: "p".into(), stage: "s".into(), job: "j".into(), millis: vec![3_000, 5_000] };
        let t =
            TaskDurations { pipeline: "p".into(), stage: "s".into(), job: "j".into(), task: 1, millis: vec![2_400] };
        let text = render(&[j], &[t]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"version": 1,
                "jobs": [{"pipeline": "p", "stage": "s", "job": "j", "median_seconds": 4, "runs": 2}],
                "tasks": [{"pipeline": "p", "stage": "s", "job": "j", "task": 1, "median_seconds": 2, "runs": 1}]})
        );
        let read: DurationsFile = serde_json::from_str(&text).unwrap();
        assert_eq!((read.tasks[0].median_seconds, read.tasks[0].runs), (2, 1));
        let dir = tempfile::tempdir().unwrap();
        assert!(super::read(dir.path()).is_none());
        std::fs::write(dir.path().join(FILE_NAME), &text).unwrap();
        assert_eq!(super::read(dir.path()), Some(read));
    }
}
