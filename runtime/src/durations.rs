//! The recorded durations export, `durations.json` in the state folder, read by
//! `pw lint --history`: the median time of each job over its last passed attempts.
//!
//! Attempts record when they were assigned and when they ended, not when each task ran, so the
//! export lists jobs only and its `tasks` list is empty.

use crate::store::{JobDurations, Store};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The file's name in the state folder (the name the linter looks for).
pub const FILE_NAME: &str = "durations.json";

/// How many of a job's most recent passed attempts its median is taken over.
pub const RECENT_RUNS: usize = 20;

#[derive(Serialize)]
struct Export {
    version: u32,
    jobs: Vec<JobEntry>,
    /// Always empty: no task timings are recorded.
    tasks: Vec<serde_json::Value>,
}

#[derive(Serialize)]
struct JobEntry {
    pipeline: String,
    stage: String,
    job: String,
    median_seconds: u64,
    runs: u32,
}

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

/// The export's JSON text.
pub fn render(durations: &[JobDurations]) -> String {
    let jobs = durations
        .iter()
        .map(|d| JobEntry {
            pipeline: d.pipeline.clone(),
            stage: d.stage.clone(),
            job: d.job.clone(),
            median_seconds: median_seconds(&d.millis),
            runs: d.millis.len() as u32,
        })
        .collect();
    let export = Export { version: 1, jobs, tasks: Vec::new() };
    serde_json::to_string_pretty(&export).unwrap_or_default()
}

/// Computes the export from the store and replaces `dir/durations.json` with it atomically
/// (written to a temporary file beside it, then renamed over it).
pub fn write(store: &Store, dir: &Path) -> Result<PathBuf, String> {
    let text = render(&store.job_durations(RECENT_RUNS)?);
    let path = dir.join(FILE_NAME);
    let tmp = dir.join(format!(".{FILE_NAME}.tmp"));
    std::fs::write(&tmp, text + "\n").map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
    Ok(path)
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
    fn the_export_has_the_documented_shape() {
        let d = JobDurations { pipeline: "p".into(), stage: "s".into(), job: "j".into(), millis: vec![3_000, 5_000] };
        let v: serde_json::Value = serde_json::from_str(&render(&[d])).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"version": 1, "tasks": [],
                "jobs": [{"pipeline": "p", "stage": "s", "job": "j", "median_seconds": 4, "runs": 2}]})
        );
    }
}
