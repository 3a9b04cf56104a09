//! SQLite persistence. One writer thread owns the writing connection and commits whatever is
//! queued in one transaction (group commit), acknowledging each batch once it is on disk; reads use
//! their own connection. The database runs in WAL mode, read back to confirm it took, and its
//! schema is brought up to date by numbered migrations.

use crate::scheduler::AgentInfo;
use crate::state::{Instance, JobRun};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// The schema, one step per version. Never edit a released step: add one.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE instances (
        id INTEGER PRIMARY KEY,
        pipeline TEXT NOT NULL,
        counter INTEGER NOT NULL,
        data TEXT NOT NULL,
        UNIQUE (pipeline, counter)
    );
    CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        resources TEXT NOT NULL
    );
    CREATE TABLE logs (
        attempt INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (attempt, seq)
    );
    CREATE TABLE materials (
        name TEXT PRIMARY KEY,
        revision TEXT NOT NULL
    );",
    "CREATE TABLE jobs (
        instance INTEGER NOT NULL,
        stage INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (instance, stage, idx)
    );",
];

#[derive(Debug)]
pub enum Write {
    /// An instance without its jobs.
    Instance {
        id: u64,
        pipeline: String,
        counter: u32,
        data: String,
    },
    /// One job (with its attempts) of an instance.
    Job {
        instance: u64,
        stage: usize,
        idx: usize,
        data: String,
    },
    /// Forgets an instance's jobs, before they are written again.
    ClearJobs {
        instance: u64,
    },
    Agent {
        id: String,
        name: String,
        resources: Vec<String>,
    },
    Log {
        attempt: u64,
        seq: u64,
        data: String,
    },
    Material {
        name: String,
        revision: String,
    },
}

impl Write {
    /// The instance without its jobs (taken out for the time of serialising, not copied).
    pub fn instance(inst: &mut Instance) -> Write {
        let jobs: Vec<_> = inst.stages.iter_mut().map(|s| std::mem::take(&mut s.jobs)).collect();
        let data = serde_json::to_string(&*inst).unwrap_or_default();
        for (s, j) in inst.stages.iter_mut().zip(jobs) {
            s.jobs = j;
        }
        Write::Instance { id: inst.id, pipeline: inst.pipeline.clone(), counter: inst.counter, data }
    }

    pub fn job(instance: u64, stage: usize, idx: usize, job: &JobRun) -> Write {
        Write::Job { instance, stage, idx, data: serde_json::to_string(job).unwrap_or_default() }
    }
}

struct Batch {
    writes: Vec<Write>,
    done: Option<oneshot::Sender<Result<(), String>>>,
}

/// What was saved, read back at start.
#[derive(Default)]
pub struct Loaded {
    pub instances: Vec<Instance>,
    pub agents: Vec<AgentInfo>,
    pub revisions: BTreeMap<String, String>,
}

pub struct Store {
    writer: mpsc::Sender<Batch>,
    reader: Mutex<Connection>,
    /// A reading connection of its own for exports, so that they never hold up log reads.
    exporter: Mutex<Connection>,
}

/// The durations of a job's last passed attempts, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobDurations {
    pub pipeline: String,
    pub stage: String,
    pub job: String,
    pub millis: Vec<u64>,
}

/// Each passed attempt with both times, from assignment to end, numbered newest first per job.
const PASSED_ATTEMPTS: &str = "
    SELECT pipeline, stage, job, ms FROM (
        SELECT pipeline, stage, job, ms,
               row_number() OVER (PARTITION BY pipeline, stage, job ORDER BY finished DESC) AS recent
        FROM (
            SELECT i.pipeline AS pipeline,
                   json_extract(i.data, '$.stages[' || j.stage || '].name') AS stage,
                   json_extract(j.data, '$.name') AS job,
                   json_extract(a.value, '$.finished_ms') AS finished,
                   json_extract(a.value, '$.finished_ms') - json_extract(a.value, '$.assigned_ms') AS ms
            FROM jobs j
            JOIN instances i ON i.id = j.instance
            JOIN json_each(j.data, '$.attempts') a
            WHERE json_extract(a.value, '$.state') = 'passed'
        )
        WHERE stage IS NOT NULL AND job IS NOT NULL AND ms IS NOT NULL
    )
    WHERE recent <= ?1
    ORDER BY pipeline, stage, job, recent";

fn open(path: &Path) -> Result<Connection, String> {
    let conn = Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mode: String =
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(|e| format!("cannot set WAL mode: {e}"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("{} does not support WAL mode (journal mode is {mode})", path.display()));
    }
    conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;")
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), String> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    if version as usize > MIGRATIONS.len() {
        return Err(format!(
            "the state database has schema version {version}, newer than this pw knows ({}); use a newer pw",
            MIGRATIONS.len()
        ));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        tx.execute_batch(step).map_err(|e| format!("migration {}: {e}", i + 1))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl Store {
    /// Opens (creating and migrating) the database and starts its writer thread.
    pub fn open(path: &Path) -> Result<(Store, Loaded), String> {
        let mut conn = open(path)?;
        migrate(&mut conn)?;
        let loaded = load(&conn)?;
        let reader = open(path)?;
        let exporter = open(path)?;
        let (tx, rx) = mpsc::channel::<Batch>();
        std::thread::Builder::new()
            .name("pw-store".into())
            .spawn(move || writer(conn, rx))
            .map_err(|e| e.to_string())?;
        Ok((Store { writer: tx, reader: Mutex::new(reader), exporter: Mutex::new(exporter) }, loaded))
    }

    /// Queues writes; the returned receiver resolves when they are committed. Batches are
    /// committed in the order they were queued.
    pub fn queue(&self, writes: Vec<Write>) -> oneshot::Receiver<Result<(), String>> {
        let (done, wait) = oneshot::channel();
        if writes.is_empty() {
            let _ = done.send(Ok(()));
            return wait;
        }
        if let Err(mpsc::SendError(batch)) = self.writer.send(Batch { writes, done: Some(done) }) {
            if let Some(done) = batch.done {
                let _ = done.send(Err("the store is closed".into()));
            }
        }
        wait
    }

    /// Log chunks of an attempt after `after` (exclusive), in order.
    pub fn logs(&self, attempt: u64, after: Option<u64>) -> Result<Vec<(u64, String)>, String> {
        let conn = self.reader.lock().map_err(|_| "store lock poisoned")?;
        let mut stmt = conn
            .prepare_cached("SELECT seq, data FROM logs WHERE attempt = ?1 AND seq > ?2 ORDER BY seq")
            .map_err(|e| e.to_string())?;
        let after = after.map_or(-1, |a| a as i64);
        let rows = stmt
            .query_map(params![attempt as i64, after], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?)))
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())
    }

    /// The durations of each job's last `last` passed attempts (committed ones), in one query.
    pub fn job_durations(&self, last: usize) -> Result<Vec<JobDurations>, String> {
        let conn = self.exporter.lock().map_err(|_| "store lock poisoned")?;
        let mut stmt = conn.prepare_cached(PASSED_ATTEMPTS).map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map(params![last as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
            })
            .map_err(|e| e.to_string())?;
        let mut out: Vec<JobDurations> = Vec::new();
        for row in rows {
            let (pipeline, stage, job, ms) = row.map_err(|e| e.to_string())?;
            let ms = ms.max(0) as u64;
            match out.last_mut() {
                Some(d) if d.pipeline == pipeline && d.stage == stage && d.job == job => d.millis.push(ms),
                _ => out.push(JobDurations { pipeline, stage, job, millis: vec![ms] }),
            }
        }
        Ok(out)
    }

    /// Whether a log chunk is already stored.
    pub fn has_log(&self, attempt: u64, seq: u64) -> bool {
        let Ok(conn) = self.reader.lock() else { return false };
        conn.query_row(
            "SELECT 1 FROM logs WHERE attempt = ?1 AND seq = ?2",
            params![attempt as i64, seq as i64],
            |_| Ok(()),
        )
        .optional()
        .ok()
        .flatten()
        .is_some()
    }
}

fn load(conn: &Connection) -> Result<Loaded, String> {
    let mut out = Loaded::default();
    let mut stmt = conn.prepare("SELECT data FROM instances ORDER BY id").map_err(|e| e.to_string())?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| e.to_string())?;
    for row in rows {
        let data = row.map_err(|e| e.to_string())?;
        let inst: Instance =
            serde_json::from_str(&data).map_err(|e| format!("a stored instance is unreadable: {e}"))?;
        out.instances.push(inst);
    }
    let mut stmt = conn
        .prepare("SELECT instance, stage, data FROM jobs ORDER BY instance, stage, idx")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as usize, r.get::<_, String>(2)?)))
        .map_err(|e| e.to_string())?;
    let index: std::collections::HashMap<u64, usize> =
        out.instances.iter().enumerate().map(|(i, x)| (x.id, i)).collect();
    for row in rows {
        let (instance, stage, data) = row.map_err(|e| e.to_string())?;
        let job: JobRun = serde_json::from_str(&data).map_err(|e| format!("a stored job is unreadable: {e}"))?;
        if let Some(st) = index.get(&instance).and_then(|&i| out.instances[i].stages.get_mut(stage)) {
            st.jobs.push(job);
        }
    }
    let mut stmt = conn.prepare("SELECT id, name, resources FROM agents").map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .map_err(|e| e.to_string())?;
    for row in rows {
        let (id, name, resources) = row.map_err(|e| e.to_string())?;
        let resources = serde_json::from_str(&resources).unwrap_or_default();
        out.agents.push(AgentInfo { id, name, resources, last_seen_ms: 0, attempt: None, lost: false });
    }
    let mut stmt = conn.prepare("SELECT name, revision FROM materials").map_err(|e| e.to_string())?;
    let rows =
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(|e| e.to_string())?;
    for row in rows {
        let (name, revision) = row.map_err(|e| e.to_string())?;
        out.revisions.insert(name, revision);
    }
    Ok(out)
}

fn writer(mut conn: Connection, rx: mpsc::Receiver<Batch>) {
    while let Ok(first) = rx.recv() {
        let mut batches = vec![first];
        while let Ok(more) = rx.try_recv() {
            batches.push(more);
            if batches.len() >= 256 {
                break;
            }
        }
        let result = commit(&mut conn, &batches);
        for b in batches {
            if let Some(done) = b.done {
                let _ = done.send(result.clone());
            }
        }
    }
}

fn commit(conn: &mut Connection, batches: &[Batch]) -> Result<(), String> {
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    for w in batches.iter().flat_map(|b| &b.writes) {
        let r = match w {
            Write::Instance { id, pipeline, counter, data } => tx.execute(
                "INSERT INTO instances (id, pipeline, counter, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                params![*id as i64, pipeline, counter, data],
            ),
            Write::Job { instance, stage, idx, data } => tx.execute(
                "INSERT INTO jobs (instance, stage, idx, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(instance, stage, idx) DO UPDATE SET data = excluded.data",
                params![*instance as i64, *stage as i64, *idx as i64, data],
            ),
            Write::ClearJobs { instance } => {
                tx.execute("DELETE FROM jobs WHERE instance = ?1", params![*instance as i64])
            }
            Write::Agent { id, name, resources } => tx.execute(
                "INSERT INTO agents (id, name, resources) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, resources = excluded.resources",
                params![id, name, serde_json::to_string(resources).unwrap_or_default()],
            ),
            Write::Log { attempt, seq, data } => tx.execute(
                "INSERT OR IGNORE INTO logs (attempt, seq, data) VALUES (?1, ?2, ?3)",
                params![*attempt as i64, *seq as i64, data],
            ),
            Write::Material { name, revision } => tx.execute(
                "INSERT INTO materials (name, revision) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET revision = excluded.revision",
                params![name, revision],
            ),
        };
        r.map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_survive_reopening_and_logs_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.db");
        {
            let (store, loaded) = Store::open(&path).unwrap();
            assert!(loaded.instances.is_empty());
            let w = vec![
                Write::Agent { id: "a".into(), name: "agent-a".into(), resources: vec!["linux".into()] },
                Write::Log { attempt: 1, seq: 0, data: "one\n".into() },
                Write::Log { attempt: 1, seq: 0, data: "dup\n".into() },
                Write::Log { attempt: 1, seq: 1, data: "two\n".into() },
                Write::Material { name: "app".into(), revision: "abc".into() },
            ];
            store.queue(w).await.unwrap().unwrap();
            assert_eq!(store.logs(1, None).unwrap(), vec![(0, "one\n".to_string()), (1, "two\n".to_string())]);
            assert_eq!(store.logs(1, Some(0)).unwrap(), vec![(1, "two\n".to_string())]);
            assert!(store.has_log(1, 1));
            assert!(!store.has_log(1, 2));
        }
        let (_store, loaded) = Store::open(&path).unwrap();
        assert_eq!(loaded.agents[0].resources, vec!["linux".to_string()]);
        assert_eq!(loaded.revisions["app"], "abc");
        let conn = Connection::open(&path).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }

    #[tokio::test]
    async fn instances_are_saved_apart_from_their_jobs_and_reassembled() {
        use crate::state::*;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.db");
        let job = |name: &str| JobRun {
            name: name.into(),
            definition: serde_json::from_value(serde_json::json!({
                "name": name, "resources": [], "timeout_seconds": null, "wait_limit_seconds": 60, "env": {},
                "tasks": [], "artifacts": [], "discover": null, "source": {"file": "a.pw", "line": 1, "column": 1}
            }))
            .unwrap(),
            attempts: Vec::new(),
        };
        let mut inst: Instance = serde_json::from_value(serde_json::json!({
            "id": 7, "pipeline": "p", "counter": 1, "materials": [], "cause": {"kind": "manual", "by": "t"},
            "upstreams": [], "state": "running", "cancelled": false, "created_ms": 0, "finished_ms": null,
            "definition": {"name": "p", "materials": [], "after": [], "max_instances": null, "env": {}, "stages": [],
                           "source": {"file": "a.pw", "line": 1, "column": 1}},
            "stages": [{"name": "s", "state": "running", "reason": null, "jobs": [], "discovering": [],
                        "approved_by": null, "runs": 1}]
        }))
        .unwrap();
        inst.stages[0].jobs = vec![job("a"), job("b"), job("c")];
        {
            let (store, _) = Store::open(&path).unwrap();
            let mut w = vec![Write::instance(&mut inst), Write::ClearJobs { instance: 7 }];
            w.extend(inst.stages[0].jobs.iter().enumerate().map(|(i, j)| Write::job(7, 0, i, j)));
            store.queue(w).await.unwrap().unwrap();
            assert_eq!(inst.stages[0].jobs.len(), 3, "serialising does not lose the jobs");
            inst.stages[0].jobs.remove(0);
            let mut w = vec![Write::ClearJobs { instance: 7 }];
            w.extend(inst.stages[0].jobs.iter().enumerate().map(|(i, j)| Write::job(7, 0, i, j)));
            store.queue(w).await.unwrap().unwrap();
        }
        let (_, loaded) = Store::open(&path).unwrap();
        let names: Vec<&str> = loaded.instances[0].stages[0].jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
    }

    #[tokio::test]
    async fn job_durations_take_the_last_passed_attempts_newest_first() {
        use crate::state::*;
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(&dir.path().join("pw.db")).unwrap();
        let attempt = |n: u32, state: &str, assigned: Option<u64>, finished: u64| {
            serde_json::json!({"id": n, "number": n, "state": state, "agent": null, "reason": null,
                "scheduled_ms": 0, "assigned_ms": assigned, "finished_ms": finished, "excluded_agents": [],
                "is_retry": false, "cancel_requested": false, "tasks": [], "artifacts": {}})
        };
        let job = |name: &str, attempts: Vec<serde_json::Value>| -> JobRun {
            serde_json::from_value(serde_json::json!({"name": name, "attempts": attempts, "definition": {
                "name": name, "resources": [], "timeout_seconds": null, "wait_limit_seconds": 60, "env": {},
                "tasks": [], "artifacts": [], "discover": null, "source": {"file": "a.pw", "line": 1, "column": 1}}}))
            .unwrap()
        };
        let mut inst: Instance = serde_json::from_value(serde_json::json!({
            "id": 1, "pipeline": "p", "counter": 1, "materials": [], "cause": {"kind": "manual", "by": "t"},
            "upstreams": [], "state": "passed", "cancelled": false, "created_ms": 0, "finished_ms": null,
            "definition": {"name": "p", "materials": [], "after": [], "max_instances": null, "env": {}, "stages": [],
                           "source": {"file": "a.pw", "line": 1, "column": 1}},
            "stages": [{"name": "s", "state": "passed", "reason": null, "jobs": [], "discovering": [],
                        "approved_by": null, "runs": 1}]
        }))
        .unwrap();
        let a = job(
            "a",
            vec![
                attempt(1, "passed", Some(1_000), 4_000),
                attempt(2, "failed", Some(5_000), 99_000),
                attempt(3, "passed", Some(100_000), 107_000),
                attempt(4, "passed", None, 200_000),
                attempt(5, "passed", Some(300_000), 302_000),
            ],
        );
        let b = job("b", vec![attempt(6, "cancelled", Some(0), 10)]);
        let w = vec![Write::instance(&mut inst), Write::job(1, 0, 0, &a), Write::job(1, 0, 1, &b)];
        store.queue(w).await.unwrap().unwrap();
        let all = store.job_durations(20).unwrap();
        let expected = JobDurations {
            pipeline: "p".into(),
            stage: "s".into(),
            job: "a".into(),
            millis: vec![2_000, 7_000, 3_000],
        };
        assert_eq!(all, vec![expected.clone()]);
        assert_eq!(store.job_durations(2).unwrap(), vec![JobDurations { millis: vec![2_000, 7_000], ..expected }]);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw.db");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(err.contains("newer than this pw knows"), "{err}");
    }
}
